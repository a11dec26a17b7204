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
    #[error(transparent)]
    Spill(#[from] crate::format::SpillError),
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
        "source.gtid_mode is on and the source is another server than the checkpoint's, but there is no schema history in checkpoint.dir to carry over; restore the directory, or re-sync the consumers and use `binlog-relay positions set`"
    )]
    NoHistoryToFollow,
    #[error(
        "source.gtid_mode follows a failover on MariaDB sources only in this version, and the source is another MySQL server than the checkpoint's. The checkpoint's executed GTID set is `{gtid_set}`: find where the new server's binlog continues after it, re-sync the consumers if needed, and move the checkpoint there with `binlog-relay positions set`"
    )]
    FailoverNeedsMariadb { gtid_set: String },
    #[error("internal task failed: {0}")]
    Task(String),
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
        use crate::source::SourceError as S;
        match self {
            Error::Source(S::Connect { source, .. })
            | Error::Source(S::Query { source, .. })
            | Error::Source(S::Stream { source }) => mysql_transient(source).then_some("source"),
            Error::StreamEnded { .. } => Some("source"),
            Error::Schema { source, .. } => match &**source {
                crate::schema::SchemaError::Capture { source, .. } => {
                    mysql_transient(source).then_some("source")
                }
                _ => None,
            },
            Error::Sink(e) => e.is_transient().then_some("sink"),
            _ => None,
        }
    }

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

/// Server error codes that mean "you may not", not "not now": retrying cannot help.
const MYSQL_REFUSALS: [u16; 6] = [
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (e.g. no REPLICATION SLAVE)
    1236, // ER_MASTER_FATAL_ERROR_READING_BINLOG (purged or bad position)
    1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    3118, // ER_ACCOUNT_HAS_BEEN_LOCKED
];

/// Network failures, dropped connections and server-side interruptions (shutdown, killed
/// connection, too many connections) heal; refusals and bad URLs do not.
fn mysql_transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => !MYSQL_REFUSALS.contains(&s.code),
        _ => false,
    }
}

/// The TLS failure behind an error, if any: a certificate the peer or we rejected, a
/// handshake that failed. Found by walking the error's sources, where the clients put the
/// rustls error, sometimes inside an I/O error.
pub(crate) fn tls_cause(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        next = e.source();
    }
    None
}
