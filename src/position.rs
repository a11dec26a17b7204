//! Binlog coordinates: a file name and a byte offset in it.
//!
//! Every stage talks about "where in the binlog" with this one type: the source starts from
//! one, transactions end at one, the checkpoint stores one, and `--stop-at` compares against
//! one. Ordering follows the server's own file sequence (the numeric suffix of the file name),
//! so `mariadb-bin.000010` comes after `mariadb-bin.000009`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The smallest offset of an event in a binlog file: the 4-byte magic header comes first.
pub const FIRST_EVENT_OFFSET: u64 = 4;

/// A position in the server's binlog: the start of the next event to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BinlogPosition {
    /// Binlog file name as the server reports it (no directory), e.g. `mariadb-bin.000003`.
    pub file: String,
    /// Byte offset in that file.
    pub offset: u64,
}

/// Why a `FILE:POS` string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParsePositionError {
    #[error("expected FILE:POS (for example mariadb-bin.000003:4), got {0:?}")]
    Shape(String),
    #[error("the offset in {0:?} is not a whole number")]
    Offset(String),
    #[error("the offset in {0:?} is below 4, where the first event of a binlog file starts")]
    TooSmall(String),
}

impl BinlogPosition {
    pub fn new(file: impl Into<String>, offset: u64) -> Self {
        Self {
            file: file.into(),
            offset,
        }
    }

    /// The numeric suffix of the file name (`000003` in `mariadb-bin.000003`), which orders
    /// files; `None` for names the server would not produce.
    pub fn file_index(&self) -> Option<u64> {
        let (_, suffix) = self.file.rsplit_once('.')?;
        suffix.parse().ok()
    }

    /// Whether this position is at or past `other` in the server's file sequence.
    pub fn reached(&self, other: &BinlogPosition) -> bool {
        self.cmp_sequence(other) != Ordering::Less
    }

    /// Compares two positions by file sequence, then offset. Files without a numeric suffix
    /// compare by name, which is what the server does for such names.
    pub fn cmp_sequence(&self, other: &BinlogPosition) -> Ordering {
        let by_file = match (self.file_index(), other.file_index()) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.file.cmp(&other.file),
        };
        by_file.then(self.offset.cmp(&other.offset))
    }
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.offset)
    }
}

impl FromStr for BinlogPosition {
    type Err = ParsePositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (file, offset) = s
            .rsplit_once(':')
            .ok_or_else(|| ParsePositionError::Shape(s.to_owned()))?;
        if file.is_empty() || file.contains(['/', '\\']) || offset.is_empty() {
            return Err(ParsePositionError::Shape(s.to_owned()));
        }
        let offset: u64 = offset
            .parse()
            .map_err(|_| ParsePositionError::Offset(s.to_owned()))?;
        if offset < FIRST_EVENT_OFFSET {
            return Err(ParsePositionError::TooSmall(s.to_owned()));
        }
        Ok(Self::new(file, offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_offset() {
        let p: BinlogPosition = "mariadb-bin.000003:1234".parse().unwrap();
        assert_eq!(p, BinlogPosition::new("mariadb-bin.000003", 1234));
        assert_eq!(p.to_string(), "mariadb-bin.000003:1234");
    }

    #[test]
    fn rejects_malformed_positions() {
        for bad in [
            "",
            "mariadb-bin.000003",
            ":4",
            "f:",
            "f:x",
            "f:-1",
            "f:3",
            "a/b:4",
        ] {
            assert!(bad.parse::<BinlogPosition>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn orders_by_file_sequence_then_offset() {
        let a = BinlogPosition::new("bin.000009", 900);
        let b = BinlogPosition::new("bin.000010", 4);
        assert!(b.reached(&a));
        assert!(!a.reached(&b));
        assert!(a.reached(&a));
        assert!(BinlogPosition::new("bin.000009", 901).reached(&a));
    }
}
