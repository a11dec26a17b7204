//! Where a run keeps its state (the checkpoint and the schema history): files in
//! `checkpoint.dir` for a single instance, or tables on the source server written through
//! the leader's lease (`checkpoint.store = "database"`). The pipeline asks this module for
//! its stores and never needs to know which kind it got.

use std::path::PathBuf;
use std::sync::Arc;

use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, DatabaseStore, FileStore};
use crate::config::Config;
use crate::error::Error;
use crate::schema::history::database::DatabaseHistoryStore;
use crate::schema::history::{Entry, FileHistoryStore, History, HistoryError, HistoryStore};
use crate::source::lease::Lease;

/// The state of one run.
#[derive(Clone)]
pub enum State {
    File(PathBuf),
    /// Only while `lease` is held: every write goes through it.
    Database {
        lease: Arc<Lease>,
        database: String,
        client_id: String,
    },
}

impl State {
    /// The file store in `checkpoint.dir`.
    pub fn files(config: &Config) -> Self {
        State::File(config.checkpoint.dir.clone())
    }

    /// The database store, with its tables created if missing and this instance recorded
    /// as the leader.
    pub async fn database(config: &Config, lease: Arc<Lease>) -> Result<Self, Error> {
        let database = config.checkpoint.database.clone();
        DatabaseStore::open(lease.clone(), &database, &config.checkpoint.client_id).await?;
        Ok(State::Database {
            lease,
            database,
            client_id: config.checkpoint.client_id.clone(),
        })
    }

    pub fn checkpoint_store(&self) -> Result<AnyCheckpointStore, Error> {
        Ok(match self {
            State::File(dir) => AnyCheckpointStore::File(FileStore::open(dir)?),
            State::Database {
                lease,
                database,
                client_id,
            } => AnyCheckpointStore::Database(DatabaseStore::from_parts(
                lease.clone(),
                database,
                client_id,
            )),
        })
    }

    pub fn history_store(&self) -> AnyHistoryStore {
        match self {
            State::File(dir) => AnyHistoryStore::File(FileHistoryStore::new(dir)),
            State::Database {
                lease,
                database,
                client_id,
            } => AnyHistoryStore::Database(DatabaseHistoryStore::new(
                lease.clone(),
                database,
                client_id,
            )),
        }
    }

    /// The lease this state is written under, if any.
    pub fn lease(&self) -> Option<&Arc<Lease>> {
        match self {
            State::File(_) => None,
            State::Database { lease, .. } => Some(lease),
        }
    }
}

/// Either checkpoint store.
pub enum AnyCheckpointStore {
    File(FileStore),
    Database(DatabaseStore),
}

impl CheckpointStore for AnyCheckpointStore {
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        match self {
            Self::File(s) => s.load(),
            Self::Database(s) => s.load(),
        }
    }

    fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        match self {
            Self::File(s) => s.save(checkpoint),
            Self::Database(s) => s.save(checkpoint),
        }
    }
}

/// Either history store.
pub enum AnyHistoryStore {
    File(FileHistoryStore),
    Database(DatabaseHistoryStore),
}

impl HistoryStore for AnyHistoryStore {
    fn load(&mut self) -> Result<Option<History>, HistoryError> {
        match self {
            Self::File(s) => s.load(),
            Self::Database(s) => s.load(),
        }
    }

    fn replace(&mut self, history: &History) -> Result<(), HistoryError> {
        match self {
            Self::File(s) => s.replace(history),
            Self::Database(s) => s.replace(history),
        }
    }

    fn append(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        match self {
            Self::File(s) => s.append(entry),
            Self::Database(s) => s.append(entry),
        }
    }
}
