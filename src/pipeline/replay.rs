//! Replaying a binlog file through the reader: the same decoding and formatting as the live
//! stream, for fixture tests and for looking at captured binlogs offline.

use std::path::Path;
use std::sync::Arc;

use super::reader::Reader;
use crate::error::Error;
use crate::format::OutputOptions;
use crate::position::{BinlogPosition, FIRST_EVENT_OFFSET};
use crate::schema::SchemaProvider;
use crate::source::file::{BinlogFileEvents, FileError};

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Reader(#[from] Error),
}

/// Reads the file at `path` from its first event and calls `on_message` with each message
/// body, in order. Returns how many messages there were.
pub async fn replay_file(
    path: &Path,
    provider: impl SchemaProvider,
    options: OutputOptions,
    on_message: impl FnMut(&[u8]),
) -> Result<usize, ReplayError> {
    replay_file_from(path, FIRST_EVENT_OFFSET, provider, options, on_message).await
}

/// [`replay_file`] from the event at byte `offset` on (an event boundary).
pub async fn replay_file_from(
    path: &Path,
    offset: u64,
    provider: impl SchemaProvider,
    options: OutputOptions,
    mut on_message: impl FnMut(&[u8]),
) -> Result<usize, ReplayError> {
    let events = BinlogFileEvents::open(path)?;
    let start = BinlogPosition::new(events.file_name(), offset);
    let mut reader = Reader::new(provider, Arc::new(options), start, 0, None);
    let mut messages = 0;
    for event in events {
        let event = event?;
        let end = u64::from(event.header().log_pos());
        if end != 0 && end <= offset {
            continue;
        }
        let mut delivery = reader.handle_event(&event).await?;
        while let Some(d) = delivery {
            for m in &d.batch.messages {
                on_message(d.batch.body_of(m));
                messages += 1;
            }
            delivery = reader.more()?;
        }
    }
    Ok(messages)
}
