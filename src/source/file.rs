//! Binlog files on disk as an event source, for replaying a captured binlog through the same
//! pipeline the live stream uses (fixture tests, offline decoding).

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use mysql_common::binlog::BinlogFile;
use mysql_common::binlog::consts::{BinlogVersion, EventType};
use mysql_common::binlog::events::{Event, TransactionPayloadEvent};

/// The largest compressed transaction, decompressed, this version reads: the same bound
/// as mysql_async's decompression on the live stream (vendor/mysql_common).
const MAX_DECOMPRESSED: u64 = 1 << 30;

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
    #[error("binlog file {path}: the event at offset {offset} is damaged: {source}")]
    Event {
        path: PathBuf,
        offset: u64,
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
    /// Where the next event of the file starts (the last one's end), for errors.
    next_offset: u64,
    /// Where the compressed transaction being read starts, for errors in its events.
    payload_offset: u64,
    /// A cut-short last event was reported: the file has nothing more.
    end_reported: bool,
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
            next_offset: crate::position::FIRST_EVENT_OFFSET,
            payload_offset: 0,
            end_reported: false,
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
    /// An event that could not be read, at the offset where it starts (a compressed
    /// transaction's events: where the transaction starts).
    fn damaged(&self, offset: u64, source: std::io::Error) -> FileError {
        FileError::Event {
            path: self.path.clone(),
            offset,
            source,
        }
    }

    /// `None` when the file ends where its last event does; otherwise the error for the
    /// event at `start` that the file cuts short (a size field too large, a truncated copy).
    fn ended_inside_an_event(&mut self, start: u64) -> Option<Result<Event, FileError>> {
        let length = std::fs::metadata(&self.path).map(|m| m.len()).ok()?;
        if std::mem::replace(&mut self.end_reported, true) || start >= length {
            return None;
        }
        Some(Err(self.damaged(
            start,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ends {} bytes into it, before the event does: the file is truncated or the event's size is damaged",
                    length - start
                ),
            ),
        )))
    }

    /// The next event of the file, or of the compressed transaction being read.
    fn next_in_file(&mut self) -> Option<Result<Event, FileError>> {
        if let Some(payload) = self.payload.as_mut() {
            match self.inner.reader_mut().read_decompressed(payload) {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => self.payload = None,
                Err(e) => {
                    self.payload = None;
                    return Some(Err(self.damaged(self.payload_offset, e)));
                }
            }
        }
        let start = self.next_offset;
        let event = match self.inner.next() {
            Some(Ok(event)) => event,
            Some(Err(e)) => return Some(Err(self.damaged(start, e))),
            // mysql_common ends the file at an event that stops short: say so, once,
            // unless the file really ends where the last event did.
            None => return self.ended_inside_an_event(start),
        };
        self.next_offset = start + u64::from(event.header().event_size());
        if event.header().event_type_raw() == EventType::TRANSACTION_PAYLOAD_EVENT as u8 {
            // The checked decompression: an error here is reported, never an empty payload,
            // and never more bytes than the event says it holds (nor than any event can).
            let decompressed = event
                .read_event::<TransactionPayloadEvent<'_>>()
                .and_then(|p| {
                    let declared = p.uncompressed_size();
                    if declared > MAX_DECOMPRESSED {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("a compressed transaction of {declared} bytes decompressed: over the 1 GiB this version reads (or a damaged size)"),
                        ));
                    }
                    let mut bytes = Vec::new();
                    p.decompressed()?.take(declared + 1).read_to_end(&mut bytes)?;
                    if bytes.len() as u64 != declared {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!(
                                "a compressed transaction claims {declared} bytes but holds {}{}",
                                bytes.len().min(usize::try_from(declared).unwrap_or(usize::MAX)),
                                if bytes.len() as u64 > declared { " or more" } else { "" }
                            ),
                        ));
                    }
                    Ok(bytes)
                });
            match decompressed {
                Ok(bytes) => {
                    self.payload = Some(Cursor::new(bytes));
                    self.payload_offset = start;
                }
                Err(e) => return Some(Err(self.damaged(start, e))),
            }
        }
        Some(Ok(event))
    }
}
