//! Source: reads the binlog from a MySQL/MariaDB server as a replica.
//!
//! [`BinlogSource`] owns the server connection: it checks that the server writes a usable
//! binlog, resolves where to start, registers as a replica with our `server_id`, and yields
//! the server's events in order ([`EventSource`]). It knows nothing about tables or JSON;
//! the reader (`pipeline::reader`) turns events into rows. What every walk over events
//! shares (positions, rotations, statement kinds, MariaDB's own event codes) is in
//! [`event`]; GTIDs of both server flavours are in [`gtid`].

mod connection;
mod error;
pub mod event;
pub mod file;
pub mod gtid;
pub mod lease;
mod maxwell_state;
pub mod query;
pub mod scan;
pub mod snapshot;
pub mod tls;

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use mysql_common::binlog::events::Event;
use serde::Deserialize;

use crate::position::BinlogPosition;
use crate::section::{ConfigError, Secret};

pub use connection::{BinlogSource, ServerInfo, SourceEvents};
pub use error::SourceError;
pub use maxwell_state::{MaxwellExport, MaxwellPositionRow};

/// Where binlog events come from: the seam between a source and the pipeline. The live
/// stream ([`SourceEvents`]) and binlog files on disk ([`file::BinlogFileEvents`]) implement
/// it, so the same reader and publisher run on either.
pub trait EventSource: Send {
    /// The next event, in binlog order. `None` when the source has no more events and never
    /// will (the end of a file); a live stream never ends this way, the server closing it is
    /// an error ([`SourceError::StreamClosed`]).
    fn next(&mut self) -> impl Future<Output = Option<Result<Event, SourceError>>> + Send;

    /// Releases the source.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// Default port of MySQL and MariaDB.
const DEFAULT_PORT: u16 = 3306;
/// Maxwell's default `replica_server_id`, so a drop-in replacement registers the same way.
const DEFAULT_SERVER_ID: u32 = 6379;
/// Maxwell's documented user name; most migrations already have this account.
const DEFAULT_USER: &str = "maxwell";
/// Connecting (TCP, TLS, authentication) to an address that never answers gives up after
/// this long, so a dark address is retried instead of waited on forever.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// The server sends a heartbeat every second while it has nothing else to send, so this
/// long without any event or heartbeat means the connection is dead (a dead NAT entry, a
/// failed-over address): it is taken as lost and reopened from the checkpoint.
const DEFAULT_READ_TIMEOUT_MS: u64 = 10_000;
/// One query on the metadata connections (server checks, positions, the schema capture's
/// queries) that does not answer within this long counts as a lost connection.
const DEFAULT_QUERY_TIMEOUT_MS: u64 = 20_000;

/// `[source]`: the server to replicate from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Host name or IP address of the server.
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default)]
    pub password: Secret,
    /// A file holding the password (a systemd credential, a mounted secret), instead of
    /// `password`.
    #[serde(default)]
    pub password_file: Option<std::path::PathBuf>,
    /// The server id we register with; must differ from every other replica's and the
    /// server's own.
    #[serde(default = "default_server_id")]
    pub server_id: u32,
    /// Where to start when there is no checkpoint yet.
    #[serde(default)]
    pub start: StartFrom,
    /// Follow a failover (Maxwell's `gtid_mode`): when the source turns out to be another
    /// server than the checkpoint's, continue from the checkpoint's MariaDB GTID position
    /// in that server's binlog instead of refusing to start.
    #[serde(default)]
    pub gtid_mode: bool,
    /// `[source.tls]`: encryption and verification of the connection.
    #[serde(default)]
    pub tls: tls::SourceTlsConfig,
    /// Milliseconds a connection attempt may take (TCP, TLS, login) before it is retried.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Milliseconds without any event or heartbeat on the binlog stream before the
    /// connection is taken as lost.
    #[serde(default = "default_read_timeout_ms")]
    pub read_timeout_ms: u64,
    /// Milliseconds a query on the metadata connections may take before the connection is
    /// taken as lost.
    #[serde(default = "default_query_timeout_ms")]
    pub query_timeout_ms: u64,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_user() -> String {
    DEFAULT_USER.to_owned()
}
fn default_server_id() -> u32 {
    DEFAULT_SERVER_ID
}
fn default_connect_timeout_ms() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}
fn default_read_timeout_ms() -> u64 {
    DEFAULT_READ_TIMEOUT_MS
}
fn default_query_timeout_ms() -> u64 {
    DEFAULT_QUERY_TIMEOUT_MS
}

impl SourceConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.host.trim().is_empty() {
            return Err(ConfigError::key(
                "source.host",
                "must name the MySQL/MariaDB server, e.g. host = \"127.0.0.1\"",
            ));
        }
        if self.port == 0 {
            return Err(ConfigError::key("source.port", "must be 1-65535"));
        }
        if self.user.is_empty() {
            return Err(ConfigError::key("source.user", "must not be empty"));
        }
        if self.server_id == 0 {
            return Err(ConfigError::key(
                "source.server_id",
                "must be non-zero: the server refuses replicas with server_id 0",
            ));
        }
        for (key, ms) in [
            ("source.connect_timeout_ms", self.connect_timeout_ms),
            ("source.query_timeout_ms", self.query_timeout_ms),
        ] {
            if ms == 0 {
                return Err(ConfigError::key(key, "must be at least 1 (milliseconds)"));
            }
        }
        // The server's heartbeat comes every second: a shorter silence is normal.
        if self.read_timeout_ms < 2_000 {
            return Err(ConfigError::key(
                "source.read_timeout_ms",
                "must be at least 2000: the server sends a heartbeat only once a second",
            ));
        }
        self.tls.validate()
    }
}

/// Where to start reading when no checkpoint exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum StartFrom {
    /// The server's current position: only changes made from now on.
    #[default]
    Latest,
    /// The oldest binlog file the server still has.
    Earliest,
    /// An explicit position.
    At(BinlogPosition),
    /// Where Maxwell stopped, from its `positions` table on the source server; the current
    /// position if the server has no Maxwell state at all.
    Maxwell(MaxwellState),
}

/// Maxwell's state: its `schema_database` and `client_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxwellState {
    pub database: String,
    pub client_id: String,
}

/// Maxwell's default `schema_database` and `client_id`.
const MAXWELL_DEFAULT: &str = "maxwell";

impl FromStr for StartFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "latest" => Ok(Self::Latest),
            "earliest" => Ok(Self::Earliest),
            "maxwell" => Ok(Self::Maxwell(MaxwellState {
                database: MAXWELL_DEFAULT.into(),
                client_id: MAXWELL_DEFAULT.into(),
            })),
            other if other.starts_with("maxwell:") => {
                let rest = &other["maxwell:".len()..];
                let (client_id, database) = rest.split_once('@').unwrap_or((rest, MAXWELL_DEFAULT));
                let database_ok = !database.is_empty()
                    && database
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$'));
                if client_id.is_empty() || !database_ok {
                    return Err(format!(
                        "source.start {other:?}: write \"maxwell\", \"maxwell:CLIENT_ID\" or \"maxwell:CLIENT_ID@SCHEMA_DATABASE\" (letters, digits, _ and $ in the database name)"
                    ));
                }
                Ok(Self::Maxwell(MaxwellState {
                    database: database.into(),
                    client_id: client_id.into(),
                }))
            }
            other => other.parse().map(Self::At).map_err(|e| {
                format!(
                    "source.start must be \"latest\", \"earliest\", FILE:POS or \"maxwell[:CLIENT_ID[@DATABASE]]\": {e}"
                )
            }),
        }
    }
}

impl TryFrom<String> for StartFrom {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for StartFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Earliest => f.write_str("earliest"),
            Self::At(p) => p.fmt(f),
            Self::Maxwell(store) => write!(f, "maxwell:{}@{}", store.client_id, store.database),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_parse_and_print_back() {
        for text in [
            "latest",
            "earliest",
            "bin.000003:120",
            "maxwell:esr@mx_state",
        ] {
            let start: StartFrom = text.parse().unwrap();
            assert_eq!(start.to_string(), text);
        }
        assert_eq!(
            "maxwell".parse::<StartFrom>().unwrap(),
            StartFrom::Maxwell(MaxwellState {
                database: "maxwell".into(),
                client_id: "maxwell".into(),
            })
        );
        assert_eq!(
            "maxwell:esr".parse::<StartFrom>().unwrap().to_string(),
            "maxwell:esr@maxwell"
        );
        for bad in [
            "maxwell:",
            "maxwell:esr@",
            "maxwell:esr@my`db",
            "bin.1",
            "soon",
        ] {
            let err = bad.parse::<StartFrom>().unwrap_err();
            assert!(err.contains("source.start"), "{bad}: {err}");
        }
    }
}
