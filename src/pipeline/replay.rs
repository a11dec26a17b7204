//! Replaying a binlog file through the streaming path: the same reader, publisher and
//! checkpoint logic as the live stream, into any sink. For fixture tests and for looking
//! at captured binlogs offline (`examples/replay.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::Outcome;
use super::publisher::Publisher;
use super::reader::Reader;
use crate::checkpoint::MemoryStore;
use crate::error::Error;
use crate::format::OutputOptions;
use crate::position::BinlogPosition;
use crate::schema::SchemaProvider;
use crate::shutdown::Shutdown;
use crate::sink::Sink;
use crate::source::SourceError;
use crate::source::file::BinlogFileEvents;

/// Messages awaiting confirmation at once during a replay.
const MAX_IN_FLIGHT: usize = 1000;

/// Reads the file at `path` from the event at byte `offset` (an event boundary; 4 for the
/// whole file) and publishes every message to `sink`, in order. Ends with
/// [`Outcome::Ended`] and the checkpoint after the last whole transaction once the file is
/// read, or with the first error.
pub async fn replay_file<P, S>(
    path: &Path,
    offset: u64,
    provider: P,
    options: OutputOptions,
    sink: S,
) -> Result<Outcome, Error>
where
    P: SchemaProvider + 'static,
    S: Sink + 'static,
{
    let events = BinlogFileEvents::open_at(path, offset).map_err(SourceError::from)?;
    let start = BinlogPosition::new(events.file_name(), offset);
    let reader = Reader::new(provider, Arc::new(options), start, 0, None);
    let publisher = Publisher::new(
        sink,
        MemoryStore::new(),
        None,
        MAX_IN_FLIGHT,
        Duration::from_secs(1),
    );
    // Held until the replay ends: a dropped trigger reads as a shutdown.
    let (_trigger, signal) = Shutdown::new();
    super::stream::stream(events, reader, publisher, signal).await
}
