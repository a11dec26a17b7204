//! Binlog files on disk as an event source, for replaying a captured binlog through the same
//! pipeline the live stream uses (fixture tests, offline decoding).

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use mysql_common::binlog::BinlogFile;
use mysql_common::binlog::consts::{BinlogVersion, EventType};
use mysql_common::binlog::events::{Event, TransactionPayloadEvent};

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

/// The events of one binlog file, in order. Like the live stream, a compressed transaction
/// (TRANSACTION_PAYLOAD) is followed by the events inside it.
pub struct BinlogFileEvents {
    path: PathBuf,
    inner: BinlogFile<BufReader<File>>,
    /// The decompressed events of the last transaction payload, still to be read.
    payload: Option<Cursor<Vec<u8>>>,
    /// Events that end at or before this offset are skipped: where a replay starts.
    skip_to: u64,
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
            payload: None,
            skip_to: 0,
        })
    }

    /// Opens `path` and skips to the event at byte `offset` (an event boundary): events that
    /// end at or before it are not returned, as the server would not send them to a replica
    /// asking for that position.
    pub fn open_at(path: &Path, offset: u64) -> Result<Self, FileError> {
        let mut events = Self::open(path)?;
        events.skip_to = offset;
        Ok(events)
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
        loop {
            let item = self.next_in_file()?;
            if let Ok(event) = &item {
                let end = u64::from(event.header().log_pos());
                if end != 0 && end <= self.skip_to {
                    // A skipped compressed transaction's events are skipped with it.
                    self.payload = None;
                    continue;
                }
            }
            return Some(item);
        }
    }
}

impl super::EventSource for BinlogFileEvents {
    async fn next(&mut self) -> Option<Result<Event, super::SourceError>> {
        Iterator::next(self).map(|item| item.map_err(Into::into))
    }

    async fn close(self) {}
}

impl BinlogFileEvents {
    /// The next event of the file, or of the compressed transaction being read.
    fn next_in_file(&mut self) -> Option<Result<Event, FileError>> {
        let read_err = |source| FileError::Read {
            path: self.path.clone(),
            source,
        };
        if let Some(payload) = self.payload.as_mut() {
            match self.inner.reader_mut().read_decompressed(payload) {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => self.payload = None,
                Err(e) => {
                    self.payload = None;
                    return Some(Err(read_err(e)));
                }
            }
        }
        let event = match self.inner.next()? {
            Ok(event) => event,
            Err(e) => return Some(Err(read_err(e))),
        };
        if event.header().event_type_raw() == EventType::TRANSACTION_PAYLOAD_EVENT as u8 {
            // The checked decompression: an error here is reported, never an empty payload.
            let decompressed = event
                .read_event::<TransactionPayloadEvent<'_>>()
                .and_then(|p| {
                    let mut bytes = Vec::new();
                    p.decompressed()?.read_to_end(&mut bytes)?;
                    Ok(bytes)
                });
            match decompressed {
                Ok(bytes) => self.payload = Some(Cursor::new(bytes)),
                Err(e) => return Some(Err(read_err(e))),
            }
        }
        Some(Ok(event))
    }
}
