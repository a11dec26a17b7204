//! The daemon's top-level error: every stage's typed error, plus the failures that belong to
//! the pipeline as a whole. Messages say what happened, where in the binlog, and what to do.

use crate::checkpoint::CheckpointError;
use crate::config::ConfigError;
use crate::decode::DecodeError;
use crate::position::BinlogPosition;
use crate::schema::SchemaError;
use crate::sink::SinkError;
use crate::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("at binlog position {position}: {source}")]
    Schema {
        position: BinlogPosition,
        #[source]
        source: Box<SchemaError>,
    },
    #[error("at binlog position {position}: {source}")]
    Decode {
        position: BinlogPosition,
        #[source]
        source: Box<DecodeError>,
    },
    #[error("malformed {event} event at binlog position {position}: {message}")]
    MalformedEvent {
        event: &'static str,
        position: BinlogPosition,
        message: String,
    },
    #[error(
        "rows event at binlog position {position} refers to table id {table_id}, which no TABLE_MAP event announced; the stream did not start at a transaction boundary (check source.start)"
    )]
    UnknownTable {
        table_id: u64,
        position: BinlogPosition,
    },
    #[error("the server closed the binlog stream after {position}")]
    StreamEnded { position: BinlogPosition },
    #[error(
        "the checkpoint was taken on the server with server_id {checkpoint}, but the source now reports server_id {server}; its binlog positions mean nothing here. If the server was replaced on purpose, remove the checkpoint file and set source.start"
    )]
    ServerChanged { checkpoint: u32, server: u32 },
    #[error(
        "there is no checkpoint in checkpoint.dir, so there is no schema history to recapture: the first start captures the schema by itself"
    )]
    NoCheckpointToRecapture,
    #[error("internal task failed: {0}")]
    Task(String),
}

impl Error {
    /// The process exit code for this error: 2 for configuration problems the operator must
    /// fix before starting again, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            Error::Source(crate::source::SourceError::BinlogPurged { .. }) => 3,
            _ => 1,
        }
    }
}
