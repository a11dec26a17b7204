//! The table model every stage shares: a table as one TABLE_MAP describes it, its columns,
//! their binlog types and character sets.
//!
//! A leaf: it imports no other module of the crate. The schema stage builds [`Table`]s, the
//! decoder cuts row images by their [`ColumnType`]s, and the formatter renders values with
//! their [`Charset`]s; none of those stages needs the others to name these types.

mod charset;
mod column_type;

use std::sync::Arc;

pub use charset::Charset;
pub use column_type::ColumnType;

/// A table as the binlog describes it, with names and encodings filled in.
#[derive(Debug)]
pub struct Table {
    pub database: Arc<str>,
    pub name: Arc<str>,
    pub columns: Vec<Column>,
    /// Column indexes of the primary key, in key order; empty when there is none (or the
    /// server did not say).
    pub primary_key: Vec<usize>,
}

/// One column of a [`Table`].
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    /// Numeric columns only: whether the column is UNSIGNED.
    pub unsigned: bool,
    /// Character columns only: how its bytes are encoded.
    pub charset: Charset,
    /// ENUM and SET columns only: the labels in definition order.
    pub labels: Option<Arc<[String]>>,
}
