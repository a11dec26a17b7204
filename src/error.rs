//! The daemon's top-level error: every stage's typed error, plus the failures that belong to
//! the pipeline as a whole. Messages say what happened, where in the binlog, and what to do.

use crate::checkpoint::CheckpointError;
use crate::decode::DecodeError;
use crate::position::BinlogPosition;
use crate::schema::SchemaError;
use crate::section::ConfigError;
use crate::sink::SinkError;
use crate::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Bootstrap(#[from] crate::source::snapshot::SnapshotError),
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
    #[error(transparent)]
    Spill(#[from] crate::format::SpillError),
    #[error("cannot encrypt a message (output.encrypt): {0}")]
    Encrypt(crate::format::EncryptError),
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    #[error("the server closed the binlog stream after {position}")]
    StreamEnded { position: BinlogPosition },
    #[error(
        "the checkpoint was taken on the server with {checkpoint}, but the source now reports {server}; its binlog positions mean nothing here. If it is a MariaDB replica promoted after a failover, set source.gtid_mode = true to continue from the checkpoint's GTID position; if the server was replaced otherwise, re-sync the consumers and move the checkpoint with `binlog-relay positions set`"
    )]
    ServerChanged { checkpoint: String, server: String },
    #[error(
        "there is no checkpoint in checkpoint.dir, so there is no schema history to recapture: the first start captures the schema by itself"
    )]
    NoCheckpointToRecapture,
    #[error(
        "an instance of this pipeline is running (it holds the leader lock `{lock}`: {leader}); stop every instance of it first, then run this again"
    )]
    LeaderRunning { lock: String, leader: String },
    #[error(
        "the database store already has a checkpoint for client_id {client_id:?} ({position}); this command copies files into an empty store only: use `binlog-relay positions set` to move it"
    )]
    StoreNotEmpty { client_id: String, position: String },
    #[error("there is no checkpoint in {dir} to copy")]
    NothingToCopy { dir: String },
    #[error(
        "there is no checkpoint to hand back to Maxwell: binlog-relay has not published anything with this configuration (checkpoint.store, checkpoint.dir or client_id), so Maxwell's own position still holds"
    )]
    NothingToExport,
    #[error(
        "the checkpoint was taken on server_id {checkpoint} but the source is server_id {server}: Maxwell reads its position by the server it connects to, so this one would not be found. Point source.host at the checkpoint's server, or, on a MariaDB topology, set source.gtid_mode = true (Maxwell's gtid_mode) to hand back the GTID position"
    )]
    ExportServerChanged { checkpoint: u32, server: u32 },
    #[error(
        "source.gtid_mode is on (Maxwell's gtid_mode) but the checkpoint holds no GTID position: the server sends no GTIDs. Turn gtid_mode off on both sides"
    )]
    ExportNeedsGtid,
    #[error(
        "source.gtid_mode is on and the source is another server than the checkpoint's, but there is no schema history in checkpoint.dir to carry over; restore the directory, or re-sync the consumers and use `binlog-relay positions set`"
    )]
    NoHistoryToFollow,
    #[error(
        "source.gtid_mode follows a failover on MariaDB sources only in this version, and the source is another MySQL server than the checkpoint's. The checkpoint's executed GTID set is `{gtid_set}`: find where the new server's binlog continues after it, re-sync the consumers if needed, and move the checkpoint there with `binlog-relay positions set`"
    )]
    FailoverNeedsMariadb { gtid_set: String },
    #[error("internal task failed: {0}")]
    Task(String),
    #[error(
        "the binlog reader failed on the event at binlog position {position} ({message}). This is a bug in binlog-relay: the event was not published and the checkpoint is before it. Report it with the binlog file around that position"
    )]
    ReaderPanicked {
        position: BinlogPosition,
        message: String,
    },
}

impl Error {
    /// Whether the error is a lost or refused connection that may heal by itself (a broker
    /// or database restart, a network blip), so the pipeline should pause and resume from
    /// the checkpoint rather than exit. Everything the operator must fix is not transient.
    pub fn is_transient(&self) -> bool {
        self.lost_side().is_some()
    }

    /// `source` or `sink` for a transient error (see [`Error::is_transient`]), else `None`.
    pub fn lost_side(&self) -> Option<&'static str> {
        match self {
            Error::Source(e) => e.is_transient().then_some("source"),
            Error::StreamEnded { .. } => Some("source"),
            Error::Schema { source, .. } => source.is_transient().then_some("source"),
            Error::Sink(e) => e.is_transient().then_some("sink"),
            _ => None,
        }
    }

    /// The process exit code for this error: 2 for configuration problems the operator must
    /// fix before starting again (a state directory another process holds among them), 3 when the binlog file the checkpoint points into was
    /// purged from the server, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            Error::Checkpoint(crate::checkpoint::CheckpointError::Locked { .. }) => 2,
            Error::LeaderRunning { .. } => 2,
            Error::Source(crate::source::SourceError::BinlogPurged { .. }) => 3,
            _ => 1,
        }
    }
}
