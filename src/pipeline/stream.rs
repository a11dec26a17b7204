//! Streaming: events → reader → publisher → checkpoint store, until shutdown, the stop
//! position, the end of the source, or an error.
//!
//! One function for every source and sink: the daemon runs it on the live stream, replays
//! of binlog files and the offline pipeline tests on a file, each with whatever sink and
//! store they choose. The reader runs as its own task, joined to the publisher by a bounded
//! channel.

use tokio::sync::mpsc;
use tracing::info;

use super::publisher::Publisher;
use super::reader::{ReadEnd, Reader};
use super::{CHANNEL_CAPACITY, Outcome};
use crate::checkpoint::CheckpointStore;
use crate::error::Error;
use crate::schema::SchemaProvider;
use crate::shutdown::ShutdownSignal;
use crate::sink::Sink;
use crate::source::EventSource;

/// Runs `reader` over `events` and `publisher` over what it reads, until one of them ends.
/// The reader's error explains a publisher that merely saw its input end, and vice versa;
/// either way, what is confirmed is checkpointed before this returns.
pub async fn stream<E, P, S, C>(
    events: E,
    reader: Reader<P>,
    publisher: Publisher<S, C>,
    shutdown: ShutdownSignal,
) -> Result<Outcome, Error>
where
    E: EventSource + 'static,
    P: SchemaProvider + 'static,
    S: Sink + 'static,
    C: CheckpointStore + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let reader_task = tokio::spawn(reader.run(events, tx, shutdown.clone()));
    let published = publisher.run(rx, shutdown).await;
    let read = reader_task
        .await
        .map_err(|e| Error::Task(format!("binlog reader: {e}")))?;
    let read = read?;
    let checkpoint = published?;
    match read {
        ReadEnd::ReachedStop => {
            let cp = checkpoint.ok_or_else(|| Error::Task("no checkpoint at stop".into()))?;
            info!(position = %cp.position, "reached the stop position; everything before it is confirmed");
            Ok(Outcome::ReachedStop(cp))
        }
        ReadEnd::Stopped => Ok(Outcome::Stopped(checkpoint)),
        ReadEnd::SourceEnded => Ok(Outcome::Ended(checkpoint)),
    }
}
