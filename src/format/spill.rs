//! Spilling a large transaction's rendered rows to a temporary file.
//!
//! Maxwell puts the transaction's `xid` on every row, and the xid is only known at COMMIT, so
//! every row of a transaction waits until its end. [`super::TransactionBuffer`] keeps them in
//! memory up to `transactions.memory_limit_mb`; past that it moves them here, in order, and
//! streams them back at the commit. Memory stays bounded whatever the transaction's size.
//!
//! The file is anonymous (unlinked at creation), so a crash leaves nothing behind. A row is
//! a record `name index (u32 LE), head length (u32 LE), tail length (u32 LE), head, tail`;
//! database and table names and the change type are kept once, in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::batch::MessageKind;
use crate::section::ConfigError;

/// Far above a typical transaction (a 10,000-row one of a 26-column table stays in
/// memory), low enough that the daemon stays well under 64 MiB beside the database; the
/// spill path cost no measurable time on a 50,000-row transaction and 1–16% on a 1M-row
/// one (docs/performance.md).
const DEFAULT_MEMORY_LIMIT_MB: u64 = 16;
/// Write and read buffer of the spill file.
const IO_BUFFER: usize = 1 << 20;

/// `[transactions]`: where a transaction's rows wait for its commit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionsConfig {
    /// Rendered rows of one open transaction kept in memory before the rest goes to a
    /// temporary file (MiB).
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u64,
    /// Directory for that file; the system's temporary directory when unset.
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
}

fn default_memory_limit_mb() -> u64 {
    DEFAULT_MEMORY_LIMIT_MB
}

impl Default for TransactionsConfig {
    fn default() -> Self {
        Self {
            memory_limit_mb: DEFAULT_MEMORY_LIMIT_MB,
            spill_dir: None,
        }
    }
}

impl TransactionsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.memory_limit_mb == 0 {
            return Err(ConfigError::key(
                "transactions.memory_limit_mb",
                "must be at least 1 (MiB)",
            ));
        }
        if let Some(dir) = &self.spill_dir
            && !dir.is_dir()
        {
            return Err(ConfigError::key(
                "transactions.spill_dir",
                format!("{} is not a directory", dir.display()),
            ));
        }
        Ok(())
    }

    /// The memory limit in bytes.
    pub fn memory_limit(&self) -> usize {
        usize::try_from(self.memory_limit_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX)
    }

    pub fn dir(&self) -> PathBuf {
        self.spill_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// The spill file could not be written or read back.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot keep a large transaction's rows in a temporary file in {dir}: {source}; point transactions.spill_dir at a local directory with room for the largest transaction's JSON, or raise transactions.memory_limit_mb"
)]
pub struct SpillError {
    pub dir: PathBuf,
    #[source]
    pub source: io::Error,
}

/// A row's database, table and change type (`insert`, `update`, `delete`).
pub type TableName = (Arc<str>, Arc<str>, MessageKind);

/// Rows moved out of memory, in order.
#[derive(Debug)]
pub struct Spill {
    dir: PathBuf,
    state: State,
    rows: usize,
    bytes: u64,
    tables: Vec<TableName>,
    index: HashMap<TableName, u32>,
    /// The table of the previous row, which is usually the next row's too.
    last: Option<u32>,
}

#[derive(Debug)]
enum State {
    Empty,
    Writing(BufWriter<File>),
    Reading { file: BufReader<File>, left: usize },
}

impl Spill {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            state: State::Empty,
            rows: 0,
            bytes: 0,
            tables: Vec::new(),
            index: HashMap::new(),
            last: None,
        }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The file held fewer rows than were written to it.
    pub fn ended_early(&self) -> SpillError {
        self.error(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the spill file ended before its last row",
        ))
    }

    fn error(&self, source: io::Error) -> SpillError {
        SpillError {
            dir: self.dir.clone(),
            source,
        }
    }

    /// Appends one row. Only before [`Spill::start_reading`].
    pub fn write_row(
        &mut self,
        database: &Arc<str>,
        table: &Arc<str>,
        kind: MessageKind,
        head: &[u8],
        tail: &[u8],
    ) -> Result<(), SpillError> {
        let index = self.table_index(database, table, kind);
        if matches!(self.state, State::Empty) {
            let file = tempfile::tempfile_in(&self.dir).map_err(|e| self.error(e))?;
            tracing::info!(dir = %self.dir.display(), "transaction exceeds transactions.memory_limit_mb; buffering its rows on disk");
            self.state = State::Writing(BufWriter::with_capacity(IO_BUFFER, file));
        }
        let State::Writing(out) = &mut self.state else {
            return Err(self.error(io::Error::other("spill file written after reading began")));
        };
        let len = |b: &[u8]| {
            u32::try_from(b.len())
                .map_err(|_| io::Error::other("a single row's JSON is larger than 4 GiB"))
        };
        let result = (|| {
            let mut record = [0u8; 12];
            record[0..4].copy_from_slice(&index.to_le_bytes());
            record[4..8].copy_from_slice(&len(head)?.to_le_bytes());
            record[8..12].copy_from_slice(&len(tail)?.to_le_bytes());
            out.write_all(&record)?;
            out.write_all(head)?;
            out.write_all(tail)
        })();
        result.map_err(|e| self.error(e))?;
        self.rows += 1;
        self.bytes += (12 + head.len() + tail.len()) as u64;
        Ok(())
    }

    fn table_index(&mut self, database: &Arc<str>, table: &Arc<str>, kind: MessageKind) -> u32 {
        if let Some(last) = self.last
            && let Some((d, t, k)) = self.tables.get(last as usize)
            && Arc::ptr_eq(d, database)
            && Arc::ptr_eq(t, table)
            && *k == kind
        {
            return last;
        }
        let key = (database.clone(), table.clone(), kind);
        let next = u32::try_from(self.tables.len()).unwrap_or(u32::MAX);
        let index = *self.index.entry(key).or_insert_with(|| {
            self.tables.push((database.clone(), table.clone(), kind));
            next
        });
        self.last = Some(index);
        index
    }

    /// Switches from writing to reading the rows back from the first.
    pub fn start_reading(&mut self) -> Result<(), SpillError> {
        let state = std::mem::replace(&mut self.state, State::Empty);
        let State::Writing(out) = state else {
            self.state = state;
            return Ok(());
        };
        let result = (|| {
            let mut file = out.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            Ok(BufReader::with_capacity(IO_BUFFER, file))
        })();
        let file = result.map_err(|e| self.error(e))?;
        self.state = State::Reading {
            file,
            left: self.rows,
        };
        Ok(())
    }

    /// The next row: its database, table and change type, with its head and tail appended to the given
    /// buffers. `None` once every row was read (or none was written).
    pub fn read_row(
        &mut self,
        head: &mut Vec<u8>,
        tail: &mut Vec<u8>,
    ) -> Result<Option<TableName>, SpillError> {
        let State::Reading { file, left } = &mut self.state else {
            return Ok(None);
        };
        if *left == 0 {
            return Ok(None);
        }
        let result = (|| {
            let mut record = [0u8; 12];
            file.read_exact(&mut record)?;
            let word = |at: usize| {
                let mut b = [0u8; 4];
                b.copy_from_slice(&record[at..at + 4]);
                u32::from_le_bytes(b) as usize
            };
            let (index, head_len, tail_len) = (word(0), word(4), word(8));
            read_append(file, head, head_len)?;
            read_append(file, tail, tail_len)?;
            Ok::<_, io::Error>(index)
        })();
        *left -= 1;
        let index = result.map_err(|e| self.error(e))?;
        match self.tables.get(index) {
            Some(name) => Ok(Some(name.clone())),
            None => Err(self.error(io::Error::other("spill file names an unknown table"))),
        }
    }

    /// Forgets every row and closes the file (which the system then deletes).
    pub fn clear(&mut self) {
        self.state = State::Empty;
        self.rows = 0;
        self.bytes = 0;
        self.tables.clear();
        self.index.clear();
        self.last = None;
    }
}

fn read_append(file: &mut impl Read, out: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let start = out.len();
    out.resize(start + len, 0);
    file.read_exact(&mut out[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_order_with_their_tables() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path());
        let (db, a, b): (Arc<str>, Arc<str>, Arc<str>) = ("d".into(), "a".into(), "b".into());
        for i in 0..1000u32 {
            let table = if i % 3 == 0 { &b } else { &a };
            let head = format!("h{i}");
            let tail = "t".repeat(i as usize % 7);
            spill
                .write_row(
                    &db,
                    table,
                    MessageKind::Insert,
                    head.as_bytes(),
                    tail.as_bytes(),
                )
                .unwrap();
        }
        assert_eq!(spill.rows(), 1000);
        spill.start_reading().unwrap();
        let (mut head, mut tail) = (Vec::new(), Vec::new());
        for i in 0..1000u32 {
            head.clear();
            tail.clear();
            let (d, t, k) = spill.read_row(&mut head, &mut tail).unwrap().unwrap();
            assert_eq!(k, MessageKind::Insert);
            assert_eq!(&*d, "d");
            assert_eq!(&*t, if i % 3 == 0 { "b" } else { "a" });
            assert_eq!(head, format!("h{i}").into_bytes());
            assert_eq!(tail.len(), i as usize % 7);
        }
        assert!(spill.read_row(&mut head, &mut tail).unwrap().is_none());
        spill.clear();
        assert_eq!(spill.rows(), 0);
    }

    #[test]
    fn an_unusable_directory_is_named() {
        let mut spill = Spill::new(Path::new("/nonexistent/spill"));
        let err = spill
            .write_row(&"d".into(), &"t".into(), MessageKind::Delete, b"h", b"t")
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/spill"), "{text}");
        assert!(text.contains("transactions.spill_dir"), "{text}");
    }
}
