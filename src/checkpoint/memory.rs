//! A checkpoint kept in memory, for tests of the pipeline without a filesystem.

use std::sync::{Arc, Mutex};

use super::{Checkpoint, CheckpointError, CheckpointStore};

/// A shared in-memory checkpoint; clones see the same value.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Option<Checkpoint>>>,
    saves: Arc<Mutex<usize>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The current checkpoint.
    pub fn get(&self) -> Option<Checkpoint> {
        self.inner.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// How many times `save` was called.
    pub fn saves(&self) -> usize {
        self.saves.lock().map(|n| *n).unwrap_or_default()
    }
}

impl CheckpointStore for MemoryStore {
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        Ok(self.get())
    }

    fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        if let Ok(mut c) = self.inner.lock() {
            *c = Some(checkpoint.clone());
        }
        if let Ok(mut n) = self.saves.lock() {
            *n += 1;
        }
        Ok(())
    }
}
