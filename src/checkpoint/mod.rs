//! Checkpoint: the position of the last transaction whose every message the sink confirmed.
//!
//! The publisher is the only writer, and it only ever records a position once all messages
//! up to it are confirmed, so a restart from the checkpoint can repeat messages (at-least-once)
//! but never skip one. [`CheckpointStore`] has a file implementation for the daemon and a
//! memory one for tests.

pub mod database;
mod file;
mod lock;
mod memory;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use database::DatabaseStore;
pub use file::FileStore;
pub use lock::{DirLock, holder as lock_holder};
pub use memory::MemoryStore;

use crate::position::BinlogPosition;
use crate::section::ConfigError;

/// Where systemd's `StateDirectory=binlog-relay` and the container's volume put state.
const DEFAULT_DIR: &str = "/var/lib/binlog-relay";
/// How often a newer confirmed position is written. Maxwell writes about once a second;
/// a crash replays at most this much (plus what was in flight).
const DEFAULT_INTERVAL_MS: u64 = 1000;

/// Where the checkpoint and the schema history are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// Files in `checkpoint.dir`: one instance.
    #[default]
    File,
    /// Tables in `checkpoint.database` on the source server, written only by the holder of
    /// the leader lock: several instances, one publishing (docs/high-availability.md).
    Database,
}

const DEFAULT_DATABASE: &str = "binlog_relay";
const DEFAULT_CLIENT_ID: &str = "binlog_relay";
/// How long the server keeps a silent leader's lock; the leader gives up after half.
const DEFAULT_LEASE_MS: u64 = 10_000;

/// `[checkpoint]`: where and how often the position is saved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    #[serde(default)]
    pub store: StoreKind,
    /// The database store's database on the source server.
    #[serde(default = "default_database")]
    pub database: String,
    /// Names this pipeline's rows in the database store and its leader lock.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// The leader lock's name; default `binlog-relay:` and the client id.
    #[serde(default)]
    pub lock_name: Option<String>,
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
}

fn default_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DIR)
}
fn default_interval_ms() -> u64 {
    DEFAULT_INTERVAL_MS
}
fn default_database() -> String {
    DEFAULT_DATABASE.into()
}
fn default_client_id() -> String {
    DEFAULT_CLIENT_ID.into()
}
fn default_lease_ms() -> u64 {
    DEFAULT_LEASE_MS
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            dir: default_dir(),
            interval_ms: DEFAULT_INTERVAL_MS,
            store: StoreKind::File,
            database: default_database(),
            client_id: default_client_id(),
            lock_name: None,
            lease_ms: DEFAULT_LEASE_MS,
        }
    }
}

impl CheckpointConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::key("checkpoint.dir", "must name a directory"));
        }
        if self.interval_ms == 0 {
            return Err(ConfigError::key(
                "checkpoint.interval_ms",
                "must be at least 1 (milliseconds)",
            ));
        }
        crate::section::plain_database("checkpoint.database", &self.database)?;
        if self.client_id.is_empty() || self.client_id.len() > 64 {
            return Err(ConfigError::key(
                "checkpoint.client_id",
                "must be 1 to 64 bytes long",
            ));
        }
        if let Some(name) = &self.lock_name
            && (name.is_empty() || name.len() > crate::source::lease::MAX_LOCK_NAME)
        {
            return Err(ConfigError::key(
                "checkpoint.lock_name",
                "must be 1 to 64 bytes long (the server's limit for lock names)",
            ));
        }
        if self.lease_ms < 2_000 {
            return Err(ConfigError::key(
                "checkpoint.lease_ms",
                "must be at least 2000: the server counts a silent session's time in whole seconds",
            ));
        }
        Ok(())
    }

    /// The leader lock's name.
    pub fn lock_name(&self) -> String {
        self.lock_name
            .clone()
            .unwrap_or_else(|| crate::source::lease::default_lock_name(&self.client_id))
    }

    /// The lease settings for this instance.
    pub fn lease_settings(&self) -> crate::source::lease::LeaseSettings {
        crate::source::lease::LeaseSettings {
            name: self.lock_name(),
            lease: std::time::Duration::from_millis(self.lease_ms),
            holder: format!("pid {} on {}", std::process::id(), lock::hostname()),
        }
    }
}

/// A saved position and what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Where to resume: just after the last fully confirmed transaction.
    pub position: BinlogPosition,
    /// The GTID of that transaction, when the server sent one: MariaDB's
    /// `domain-server-seq`, or MySQL's `uuid[:tag]:gno`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// `@@server_id` of the source server the position belongs to.
    pub server_id: u32,
    /// The same point named so that every server of the topology knows it: MariaDB's GTID
    /// position (the last GTID of every domain, `0-101-42,1-102-7`) or MySQL's executed GTID
    /// set (`3e11fa47-...:1-57`) at `position`; absent when the server uses no GTIDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid_position: Option<String>,
    /// `@@server_uuid` of that server (MySQL; MariaDB has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_uuid: Option<String>,
    /// The bootstrap under way at `position`, as far as its confirmed chunks go: a restart
    /// continues it from there (docs/bootstrap.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapProgress>,
}

/// How far a bootstrap request got: every row up to `after` (in key order) is published
/// and confirmed, or a newer live change of it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapProgress {
    /// The request's id in the `bootstrap` table.
    pub request: u64,
    /// The last chunk confirmed; 0 when only `bootstrap-start` is.
    pub chunk: u64,
    /// Rows read so far (Maxwell's `inserted_rows`).
    pub inserted: u64,
    /// The key of the last row of the last confirmed chunk; none before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<crate::source::snapshot::SavedKey>>,
    /// The names of the key `after` is a value of: a table whose key changed since is read
    /// again from the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint at `position` of the server with `server_id` (and `server_uuid`, on
    /// MySQL), with no GTIDs; the `with_*` methods add them.
    pub fn new(position: BinlogPosition, server_id: u32, server_uuid: Option<String>) -> Self {
        Self {
            position,
            gtid: None,
            server_id,
            gtid_position: None,
            server_uuid,
            bootstrap: None,
        }
    }

    /// The GTID of the transaction that ends at the position.
    pub fn with_gtid(mut self, gtid: Option<String>) -> Self {
        self.gtid = gtid;
        self
    }

    /// The bootstrap under way at the position.
    pub fn with_bootstrap(mut self, bootstrap: Option<BootstrapProgress>) -> Self {
        self.bootstrap = bootstrap;
        self
    }

    /// The GTID position (MariaDB) or executed set (MySQL) at the position.
    pub fn with_gtid_position(mut self, gtid_position: Option<String>) -> Self {
        self.gtid_position = gtid_position;
        self
    }
}

/// Why the checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "cannot use checkpoint directory {dir}: {source}; create it or set checkpoint.dir to a writable directory"
    )]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read checkpoint {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "checkpoint {path} is not a valid checkpoint ({message}); restore it from a backup, or remove it to start from source.start"
    )]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "checkpoint.dir {dir} is in use by another binlog-relay ({holder}): two processes on one state directory would overwrite each other's checkpoint. Stop the other one, or give this one its own checkpoint.dir"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error(
        "the checkpoint store in database `{database}` failed: {message}; check the grants (SELECT, INSERT, UPDATE, CREATE on `{database}`.*) with `binlog-relay check`"
    )]
    Database { database: String, message: String },
    #[error(transparent)]
    Lease(#[from] crate::source::lease::LeaseError),
}

/// Persists the checkpoint.
pub trait CheckpointStore: Send {
    /// The saved checkpoint, if there is one.
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError>;
    /// Saves `checkpoint` durably: when this returns, a crash cannot lose it.
    fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError>;
}

/// What every checkpoint store must do, as one check that the file, memory and database
/// stores all pass (the database store's run is a live test). `store` must start empty.
#[cfg(any(test, feature = "live-tests"))]
pub fn contract(store: &mut impl CheckpointStore) {
    use crate::position::BinlogPosition;
    assert_eq!(store.load().expect("load an empty store"), None);
    let first = Checkpoint::new(BinlogPosition::new("bin.000001", 4), 1, None);
    store.save(&first).expect("save");
    assert_eq!(store.load().expect("load"), Some(first.clone()));
    // Saving the same checkpoint again is not an error.
    store.save(&first).expect("save again");
    let second = Checkpoint::new(
        BinlogPosition::new("bin.000002", 12_345),
        1,
        Some("3e11fa47-71ca-11e1-9e33-c80aa9429562".into()),
    )
    .with_gtid(Some("0-1-42".into()))
    .with_gtid_position(Some("0-1-42,1-2-7".into()));
    store.save(&second).expect("save a newer one");
    assert_eq!(store.load().expect("load"), Some(second.clone()));
    // A bootstrap under way is part of the state.
    let third = second.with_bootstrap(Some(BootstrapProgress {
        request: 3,
        chunk: 12,
        inserted: 60_000,
        after: Some(crate::source::snapshot::SavedKey::save(&[
            mysql_common::Value::Int(60_000),
            mysql_common::Value::Bytes(b"k\xff".to_vec()),
        ])),
        key: vec!["id".into(), "k".into()],
    }));
    store.save(&third).expect("save with a bootstrap");
    assert_eq!(store.load().expect("load"), Some(third));
}

#[cfg(test)]
mod contract_tests {
    #[test]
    fn a_checkpoint_written_before_bootstrap_progress_existed_still_reads() {
        let old = r#"{"position":{"file":"mariadb-bin.000003","offset":4567},"server_id":101,"gtid":"0-101-9"}"#;
        let cp: super::Checkpoint = serde_json::from_str(old).unwrap();
        assert_eq!(cp.bootstrap, None);
        assert_eq!(cp.position.offset, 4567);
        // And one without progress is written as before.
        assert!(!serde_json::to_string(&cp).unwrap().contains("bootstrap"));
    }

    #[test]
    fn the_file_and_memory_stores_keep_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        super::contract(&mut super::FileStore::open(dir.path()).unwrap());
        super::contract(&mut super::MemoryStore::new());
    }
}
