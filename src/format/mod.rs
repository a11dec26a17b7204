//! Format: rows into Maxwell's JSON, byte for byte.
//!
//! [`layout`] prepares a table once per table map; [`row`] renders one row change as it is
//! read; [`transaction`] holds the open transaction's rows (past a memory limit in a
//! temporary file, [`spill`]) and on commit lays out the final messages with `xid`,
//! `xoffset` and `commit`, in chunks ([`batch`]). `json` and `number` hold the byte-level
//! rules (Jackson's escaping, Java's number printing); `value` renders one column value;
//! `mysql_json` and `json_diff` render MySQL's binary JSON and rebuild documents from
//! partial JSON updates; `ddl` writes DDL messages; `mask` and `options` are the operator's
//! choices.

pub mod batch;
pub mod ddl;
pub mod encrypt;
pub mod geometry;
pub mod json;
pub mod json_diff;
pub mod layout;
pub mod mask;
pub mod mysql_json;
pub mod number;
pub mod options;
pub mod row;
pub mod spill;
pub mod transaction;
pub mod value;

pub use batch::{Batch, Chunk, Message, MessageKind};
pub use encrypt::{EncryptError, EncryptMode, Sealer};
pub use layout::TableLayout;
pub use options::{NamingStrategy, OutputConfig, OutputOptions};
pub use row::{BootstrapMeta, RowMeta};
pub use spill::{SpillError, TransactionsConfig};
pub use transaction::TransactionBuffer;
