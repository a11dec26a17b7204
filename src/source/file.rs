//! Binlog files on disk as an event source, for replaying a captured binlog through the same
//! reader the live stream uses (fixture tests, offline decoding).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use mysql_common::binlog::BinlogFile;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::Event;

/// Why a binlog file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot open binlog file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("binlog file {path} is not readable as a binlog: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The events of one binlog file, in order.
pub struct BinlogFileEvents {
    path: PathBuf,
    inner: BinlogFile<BufReader<File>>,
}

impl BinlogFileEvents {
    /// Opens `path` and checks its magic header.
    pub fn open(path: &Path) -> Result<Self, FileError> {
        let file = File::open(path).map_err(|source| FileError::Open {
            path: path.to_owned(),
            source,
        })?;
        let inner =
            BinlogFile::new(BinlogVersion::Version4, BufReader::new(file)).map_err(|source| {
                FileError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?;
        Ok(Self {
            path: path.to_owned(),
            inner,
        })
    }

    /// The file name without its directory, as the server would name it in positions.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Iterator for BinlogFileEvents {
    type Item = Result<Event, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.inner.next()?;
        Some(item.map_err(|source| FileError::Read {
            path: self.path.clone(),
            source,
        }))
    }
}
