//! The schema history as a JSON-lines file next to the checkpoint: the base catalog on the
//! first line, one entry per line after it.
//!
//! Entries are appended and fsynced before the reader hands on the event that caused them,
//! so the checkpoint can never pass a change the file lacks. A crash in the middle of an
//! append leaves a last line without its newline; that entry's event is still ahead of the
//! checkpoint, so the line is dropped on load and the binlog gives the change again.
//! Rewrites (a new history, or dropping entries a restart will read again) go through a
//! temporary file and a rename, like the checkpoint.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::warn;

use super::{Base, Entry, History, HistoryError, HistoryStore};

const FILE_NAME: &str = "schema-history.jsonl";
const TEMP_NAME: &str = ".schema-history.jsonl.tmp";

/// The history file in the daemon's state directory.
#[derive(Debug)]
pub struct FileHistoryStore {
    dir: PathBuf,
    path: PathBuf,
}

impl FileHistoryStore {
    /// The store in `dir` (the checkpoint directory, which the caller has created).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            path: dir.join(FILE_NAME),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> HistoryError {
        HistoryError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn corrupt(&self, line: usize, message: impl ToString) -> HistoryError {
        HistoryError::Corrupt {
            path: self.path.display().to_string(),
            line,
            message: message.to_string(),
        }
    }
}

impl HistoryStore for FileHistoryStore {
    fn load(&mut self) -> Result<Option<History>, HistoryError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(e)),
        };
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let Some((first, rest)) = lines.split_first() else {
            return Ok(None);
        };
        let base: Base = serde_json::from_str(first).map_err(|e| self.corrupt(1, e))?;
        let mut entries = Vec::with_capacity(rest.len());
        for (i, line) in rest.iter().enumerate() {
            match serde_json::from_str::<Entry>(line) {
                Ok(entry) => entries.push(entry),
                Err(_) if i + 1 == rest.len() && !complete => {
                    warn!(path = %self.path.display(), "dropping a schema history entry cut short by a crash; the binlog will give it again");
                }
                Err(e) => return Err(self.corrupt(i + 2, e)),
            }
        }
        Ok(Some(History { base, entries }))
    }

    fn replace(&mut self, history: &History) -> Result<(), HistoryError> {
        let mut body =
            serde_json::to_vec(&history.base).map_err(|e| self.io(std::io::Error::other(e)))?;
        body.push(b'\n');
        for entry in &history.entries {
            serde_json::to_writer(&mut body, entry)
                .map_err(|e| self.io(std::io::Error::other(e)))?;
            body.push(b'\n');
        }
        let temp = self.dir.join(TEMP_NAME);
        let mut file = crate::private_file::create(&temp).map_err(|e| self.io(e))?;
        file.write_all(&body).map_err(|e| self.io(e))?;
        file.sync_all().map_err(|e| self.io(e))?;
        drop(file);
        fs::rename(&temp, &self.path).map_err(|e| self.io(e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io(e))
    }

    fn append(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| self.io(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        file.write_all(&line).map_err(|e| self.io(e))?;
        file.sync_data().map_err(|e| self.io(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Change, Origin};
    use super::*;
    use crate::position::BinlogPosition;
    use crate::schema::catalog::Catalog;

    fn entry(offset: u64) -> Entry {
        Entry {
            position: BinlogPosition::new("bin.000001", offset),
            origin: Origin::Ddl,
            statement: "DROP TABLE t".into(),
            changes: vec![Change::Table {
                database: "d".into(),
                table: "t".into(),
                entry: None,
            }],
        }
    }

    #[test]
    fn round_trips_and_drops_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FileHistoryStore::new(dir.path());
        assert_eq!(store.load().unwrap(), None);
        let history = History {
            base: Base {
                position: BinlogPosition::new("bin.000001", 4),
                server_id: 7,
                catalog: Catalog::new("utf8mb4"),
            },
            entries: vec![entry(100)],
        };
        store.replace(&history).unwrap();
        store.append(&entry(200)).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.entries, vec![entry(100), entry(200)]);

        // A crash in the middle of an append.
        let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
        f.write_all(br#"{"position":{"file":"bin.0"#).unwrap();
        assert_eq!(store.load().unwrap().unwrap().entries.len(), 2);

        // Damage anywhere else is an error that says what to do.
        fs::write(store.path(), "{broken\n").unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("schema recapture"), "{err}");
    }
}
