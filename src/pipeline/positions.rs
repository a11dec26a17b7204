//! `binlog-relay positions show|set`: the operator's view of the checkpoint, and the way to
//! move it (with the daemon stopped), for example after the binlog it points into was
//! purged.

use crate::checkpoint::{Checkpoint, CheckpointStore, FileStore};
use crate::config::Config;
use crate::error::Error;
use crate::position::{BinlogPosition, FIRST_EVENT_OFFSET};
use crate::schema::history::FileHistoryStore;
use crate::source::{BinlogSource, SourceError};

use super::schema_start;

/// What `positions show` reports.
#[derive(Debug, Clone)]
pub struct Positions {
    pub checkpoint: Option<Checkpoint>,
    /// The server's binlog files, oldest first, with their sizes.
    pub files: Vec<(String, u64)>,
    /// Where the server writes now.
    pub current: BinlogPosition,
    pub server_id: u32,
}

impl Positions {
    /// Whether the server still has the checkpoint's file.
    pub fn checkpoint_available(&self) -> Option<bool> {
        let cp = self.checkpoint.as_ref()?;
        Some(self.files.iter().any(|(f, _)| *f == cp.position.file))
    }
}

/// Reads the checkpoint and the server's binlog files.
pub async fn show(config: &Config) -> Result<Positions, Error> {
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    let store = FileStore::open(&config.checkpoint.dir)?;
    let positions = Positions {
        checkpoint: store.load()?,
        files: source.binlog_files().await?,
        current: source.current_position().await?,
        server_id: server.server_id,
    };
    source.close().await;
    Ok(positions)
}

/// Moves the checkpoint to `position` on this server and captures the schema for it. The
/// position must be the start of an event (as `SHOW BINLOG EVENTS` lists them) in a file
/// the server has.
pub async fn set(config: &Config, position: &BinlogPosition) -> Result<Checkpoint, Error> {
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    let files = source.binlog_files().await?;
    let Some((_, size)) = files.iter().find(|(f, _)| *f == position.file) else {
        return Err(Error::Source(SourceError::PositionUnavailable {
            position: position.clone(),
            message: format!(
                "the server has no binlog file of that name (it has {})",
                files
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    };
    if position.offset < FIRST_EVENT_OFFSET || position.offset > *size {
        return Err(Error::Source(SourceError::PositionUnavailable {
            position: position.clone(),
            message: format!("the file is {size} bytes long"),
        }));
    }
    let mut store = FileStore::open(&config.checkpoint.dir)?;
    schema_start::capture_for(
        &source,
        &server,
        position,
        FileHistoryStore::new(&config.checkpoint.dir),
        false,
    )
    .await?;
    let checkpoint = Checkpoint {
        position: position.clone(),
        gtid: None,
        server_id: server.server_id,
        gtid_position: source
            .gtids_at(position, &server)
            .await?
            .map(|state| state.to_string()),
        server_uuid: server.server_uuid.clone(),
    };
    store.save(&checkpoint)?;
    source.close().await;
    Ok(checkpoint)
}
