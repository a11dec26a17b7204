//! The checkpoint as a small JSON file, replaced atomically: write a temporary file, fsync
//! it, rename it over the old one, fsync the directory. A crash at any point leaves either
//! the old or the new checkpoint, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Checkpoint, CheckpointError, CheckpointStore};

const FILE_NAME: &str = "position.json";
const TEMP_NAME: &str = ".position.json.tmp";

/// A checkpoint file in a directory the daemon owns.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    path: PathBuf,
}

impl FileStore {
    /// Opens (creating if needed) the directory and checks that it is writable.
    pub fn open(dir: &Path) -> Result<Self, CheckpointError> {
        let dir_err = |source| CheckpointError::Dir {
            dir: dir.to_owned(),
            source,
        };
        crate::private_file::create_dir(dir).map_err(dir_err)?;
        let probe = dir.join(TEMP_NAME);
        crate::private_file::create(&probe).map_err(dir_err)?;
        fs::remove_file(&probe).map_err(dir_err)?;
        Ok(Self {
            dir: dir.to_owned(),
            path: dir.join(FILE_NAME),
        })
    }

    /// The checkpoint file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl CheckpointStore for FileStore {
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(CheckpointError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CheckpointError::Corrupt {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }

    fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let temp = self.dir.join(TEMP_NAME);
        let write_err = |source| CheckpointError::Write {
            path: self.path.clone(),
            source,
        };
        let mut body = serde_json::to_vec_pretty(checkpoint)
            .map_err(|e| write_err(std::io::Error::other(e)))?;
        body.push(b'\n');
        let mut file = crate::private_file::create(&temp).map_err(write_err)?;
        file.write_all(&body).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        crate::failpoints::fail_point!(crate::failpoints::CHECKPOINT_BEFORE_RENAME, |_| Err(
            write_err(std::io::Error::other("failpoint before the rename"))
        ));
        fs::rename(&temp, &self.path).map_err(write_err)?;
        crate::failpoints::fail_point!(crate::failpoints::CHECKPOINT_AFTER_RENAME, |_| Err(
            write_err(std::io::Error::other("failpoint after the rename"))
        ));
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(write_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::BinlogPosition;

    #[test]
    fn saves_and_loads_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FileStore::open(&dir.path().join("state")).unwrap();
        assert_eq!(store.load().unwrap(), None);
        let cp = Checkpoint::new(BinlogPosition::new("mariadb-bin.000002", 1234), 101, None)
            .with_gtid(Some("0-101-7".into()));
        store.save(&cp).unwrap();
        assert_eq!(store.load().unwrap(), Some(cp.clone()));
        let reopened = FileStore::open(&dir.path().join("state")).unwrap();
        assert_eq!(reopened.load().unwrap(), Some(cp));
        assert!(!dir.path().join("state").join(TEMP_NAME).exists());
    }

    #[test]
    fn a_corrupt_checkpoint_is_an_error_that_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        fs::write(store.path(), "{not json").unwrap();
        let err = store.load().unwrap_err();
        assert!(err.to_string().contains("remove it"), "{err}");
    }

    #[test]
    fn an_unusable_directory_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        fs::write(&file, "x").unwrap();
        let err = FileStore::open(&file.join("sub")).unwrap_err();
        assert!(err.to_string().contains("checkpoint.dir"), "{err}");
    }
}
