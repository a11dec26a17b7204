//! Format: rows into Maxwell's JSON, byte for byte.
//!
//! [`maxwell::TransactionBuffer`] renders each row as it is read, holds the rows of the open
//! transaction (Maxwell puts the transaction's `xid` on every row, and the XID is only known
//! at COMMIT; past a memory limit they wait in a temporary file, [`spill`]), and on commit
//! lays out the final messages with `xid`, `xoffset` and `commit`, in chunks.
//! `json` and `number` hold the byte-level rules (Jackson's escaping, Java's number
//! printing); `value` renders one column value; `mysql_json` and `json_diff` render MySQL's
//! binary JSON and rebuild documents from partial JSON updates.

pub mod ddl;
pub mod geometry;
pub mod json;
pub mod json_diff;
pub mod mask;
pub mod maxwell;
pub mod mysql_json;
pub mod number;
pub mod options;
pub mod spill;
pub mod value;

pub use maxwell::{Batch, Chunk, Message, RowMeta, TableLayout, TransactionBuffer};
pub use options::{NamingStrategy, OutputConfig, OutputOptions};
pub use spill::{SpillError, TransactionsConfig};
