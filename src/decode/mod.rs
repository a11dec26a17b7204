//! Decode: rows events into row images, and row-image bytes into typed values.
//!
//! This is the hot path, so it allocates nothing per row: a [`RowImage`] holds borrowed
//! slices of the event's own bytes (one per column) in a vector the caller reuses, and a
//! [`Value`] is a small `Copy` view over one slice. Turning values into text is the
//! formatter's job. Bad bytes are typed errors naming the table and column, never a panic
//! and never a guessed value.

mod column;
mod value;

use bitvec::slice::BitSlice;
use mysql_common::binlog::events::RowsEventData;

pub use column::{exact_payload, payload, value_len};
pub use value::{Time, Value, decode_value};

use crate::table::{ColumnType, Table};

/// Which change a rows event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Insert,
    Update,
    Delete,
}

impl RowKind {
    /// The `type` Maxwell writes for this change.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// One column's cell in a row image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Not in this image (`binlog_row_image` other than FULL).
    Missing,
    Null,
    /// The value's bytes, exactly as the row image stores them.
    Value(&'a [u8]),
    /// A MySQL partial JSON update (after images of PARTIAL_UPDATE_ROWS events): the
    /// column's bytes, length prefix included, hold a list of diffs against the before
    /// image's document instead of a document.
    JsonDiff(&'a [u8]),
}

/// A row image: one [`Cell`] per table column, in table order.
pub type RowImage<'a> = Vec<Cell<'a>>;

/// Why a rows event could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "rows event for `{database}`.`{table}` has {event} columns but its table map has {table_map}"
    )]
    ColumnCount {
        database: String,
        table: String,
        event: usize,
        table_map: usize,
    },
    /// One column's value could not be read or rendered.
    #[error(transparent)]
    Column(Box<ColumnError>),
    /// Row images that hold no column take no bytes, so the rest of the event could never be
    /// read: a damaged or forged event, never one a server writes.
    #[error(
        "rows event for `{database}`.`{table}` selects no column in its row images, yet {left} bytes of rows follow: the event is damaged"
    )]
    EmptyImages {
        database: String,
        table: String,
        left: usize,
    },
}

/// A problem with one column's value, naming the table, the column and its type.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.problem.describe(&self.database, &self.table, &self.column, &self.ty))]
pub struct ColumnError {
    pub database: String,
    pub table: String,
    pub column: String,
    /// The column's type as error messages name it.
    pub ty: String,
    pub problem: ColumnProblem,
}

/// What was wrong with a column's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnProblem {
    /// The row image ends inside the value.
    Truncated,
    /// The type (or its charset) is not read by this version.
    Unsupported,
    /// The bytes are not a valid value of the type.
    BadValue,
    /// An ENUM or SET value whose labels nobody gave.
    NoLabels,
    /// A partial JSON update whose before image lacks the document.
    PartialJsonWithoutBefore,
    /// A partial JSON update that does not apply to its document.
    BadJsonDiff { reason: String },
}

impl ColumnProblem {
    fn describe(&self, database: &str, table: &str, column: &str, ty: &str) -> String {
        match self {
            Self::Truncated => format!(
                "row image for `{database}`.`{table}` ends inside column `{column}` ({ty}): the event is truncated or does not match its table map"
            ),
            Self::Unsupported => format!(
                "column `{column}` of `{database}`.`{table}` has type {ty}, which this version of binlog-relay cannot read; no row of this table can be published until it can. Stop writing to the column, or filter the table out"
            ),
            Self::BadValue => format!(
                "column `{column}` of `{database}`.`{table}` holds a value that is not valid {ty}"
            ),
            Self::NoLabels => format!(
                "column `{column}` of `{database}`.`{table}` is an {ty} whose labels neither the binlog nor information_schema gave; enable binlog_row_metadata=FULL on the server"
            ),
            Self::PartialJsonWithoutBefore => format!(
                "column `{column}` of `{database}`.`{table}` has a partial JSON update but the before image does not hold the column's document, so the new document cannot be rebuilt. Set binlog_row_image=FULL (or binlog_row_value_options='') on the server"
            ),
            Self::BadJsonDiff { reason } => format!(
                "partial JSON update of column `{column}` of `{database}`.`{table}`: {reason}"
            ),
        }
    }
}

impl DecodeError {
    /// `problem` with column `index` of `table`.
    pub fn column(table: &Table, index: usize, problem: ColumnProblem) -> Self {
        let (column, ty) = table
            .columns
            .get(index)
            .map(|c| (c.name.clone(), c.ty.name()))
            .unwrap_or_else(|| (format!("#{index}"), "unknown".into()));
        Self::Column(Box::new(ColumnError {
            database: table.database.to_string(),
            table: table.name.to_string(),
            column,
            ty,
            problem,
        }))
    }

    /// The column problem behind this error, if it is one.
    pub fn problem(&self) -> Option<&ColumnProblem> {
        match self {
            Self::Column(e) => Some(&e.problem),
            Self::ColumnCount { .. } | Self::EmptyImages { .. } => None,
        }
    }
}

/// A rows event reduced to what decoding needs.
pub struct RowsEvent<'a> {
    pub kind: RowKind,
    pub table_id: u64,
    /// A PARTIAL_UPDATE_ROWS event: each after image opens with value options.
    partial: bool,
    num_columns: usize,
    before: Option<&'a BitSlice<u8>>,
    after: Option<&'a BitSlice<u8>>,
    data: &'a [u8],
}

impl<'a> RowsEvent<'a> {
    /// Wraps a parsed rows event of any version.
    pub fn new(event: &'a RowsEventData<'a>) -> Result<Self, DecodeError> {
        let kind = match event {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                RowKind::Insert
            }
            RowsEventData::UpdateRowsEventV1(_) | RowsEventData::UpdateRowsEvent(_) => {
                RowKind::Update
            }
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                RowKind::Delete
            }
            RowsEventData::PartialUpdateRowsEvent(_) => RowKind::Update,
        };
        Ok(Self {
            kind,
            partial: matches!(event, RowsEventData::PartialUpdateRowsEvent(_)),
            table_id: event.table_id(),
            num_columns: usize::try_from(event.num_columns()).unwrap_or(usize::MAX),
            before: event.columns_before_image(),
            after: event.columns_after_image(),
            data: event.rows_data(),
        })
    }

    /// Iterates over the event's rows, filling `before` and `after` for each. Returns
    /// `Ok(false)` when no rows are left. Inserts fill only `after`, deletes only `before`.
    pub fn next_row(
        &self,
        cursor: &mut &'a [u8],
        table: &Table,
        before: &mut RowImage<'a>,
        after: &mut RowImage<'a>,
    ) -> Result<bool, DecodeError> {
        if cursor.is_empty() {
            return Ok(false);
        }
        if self.num_columns != table.columns.len() {
            return Err(DecodeError::ColumnCount {
                database: table.database.to_string(),
                table: table.name.to_string(),
                event: self.num_columns,
                table_map: table.columns.len(),
            });
        }
        before.clear();
        after.clear();
        let left = cursor.len();
        match self.kind {
            RowKind::Insert => read_image(table, self.after, cursor, after)?,
            RowKind::Delete => read_image(table, self.before, cursor, before)?,
            RowKind::Update if self.partial => {
                read_image(table, self.before, cursor, before)?;
                let partial = read_value_options(table, cursor)?;
                read_image_with(table, self.after, partial, cursor, after)?;
            }
            RowKind::Update => {
                read_image(table, self.before, cursor, before)?;
                read_image(table, self.after, cursor, after)?;
            }
        }
        if cursor.len() == left {
            return Err(DecodeError::EmptyImages {
                database: table.database.to_string(),
                table: table.name.to_string(),
                left,
            });
        }
        Ok(true)
    }

    /// The start of the row data, for [`RowsEvent::next_row`].
    pub fn rows(&self) -> &'a [u8] {
        self.data
    }
}

/// `PARTIAL_JSON_UPDATES`, the one value option MySQL defines.
const PARTIAL_JSON_UPDATES: u64 = 1;

/// Reads the value options that open each after image of a PARTIAL_UPDATE_ROWS event and,
/// when partial JSON is on, the bitmap with one bit per JSON column of the table (set when
/// that column holds diffs).
fn read_value_options<'a>(
    table: &Table,
    cursor: &mut &'a [u8],
) -> Result<Option<&'a BitSlice<u8>>, DecodeError> {
    let truncated = || DecodeError::column(table, 0, ColumnProblem::Truncated);
    let options = read_lenenc(cursor).ok_or_else(truncated)?;
    if options & PARTIAL_JSON_UPDATES == 0 {
        return Ok(None);
    }
    let json_columns = table
        .columns
        .iter()
        .filter(|c| matches!(c.ty, ColumnType::Json { .. }))
        .count();
    let (bits, rest) = cursor
        .split_at_checked(json_columns.div_ceil(8))
        .ok_or_else(truncated)?;
    *cursor = rest;
    Ok(Some(BitSlice::from_slice(bits)))
}

/// A length-encoded integer, as the protocol writes them.
fn read_lenenc(cursor: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = cursor.split_first()?;
    let width = match first {
        0..=0xfa => {
            *cursor = rest;
            return Some(u64::from(first));
        }
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let (bytes, rest) = rest.split_at_checked(width)?;
    *cursor = rest;
    let mut le = [0u8; 8];
    le[..width].copy_from_slice(bytes);
    Some(u64::from_le_bytes(le))
}

/// Reads one row image (null bitmap, then the present non-null values) from `cursor`,
/// appending one cell per table column to `out`.
pub fn read_image<'a>(
    table: &Table,
    present: Option<&BitSlice<u8>>,
    cursor: &mut &'a [u8],
    out: &mut RowImage<'a>,
) -> Result<(), DecodeError> {
    read_image_with(table, present, None, cursor, out)
}

/// [`read_image`], where `partial` has one bit per JSON column of the table, set when that
/// column's value is a list of diffs ([`Cell::JsonDiff`]).
fn read_image_with<'a>(
    table: &Table,
    present: Option<&BitSlice<u8>>,
    partial: Option<&BitSlice<u8>>,
    cursor: &mut &'a [u8],
    out: &mut RowImage<'a>,
) -> Result<(), DecodeError> {
    let columns = &table.columns;
    let mut json_index = 0usize;
    // Full row images (the usual case) skip the per-column bitmap lookups.
    let all_present = present.is_none_or(|bits| bits.get(..columns.len()).is_some_and(|b| b.all()));
    let is_present =
        |i: usize| all_present || present.is_some_and(|bits| bits.get(i).is_some_and(|b| *b));
    let present_count = if all_present {
        columns.len()
    } else {
        (0..columns.len()).filter(|&i| is_present(i)).count()
    };
    let bitmap_len = present_count.div_ceil(8);
    let truncated = |i| DecodeError::column(table, i, ColumnProblem::Truncated);
    let Some((nulls, mut rest)) = cursor.split_at_checked(bitmap_len) else {
        return Err(truncated(0));
    };
    let mut image_index = 0usize;
    for (i, column) in columns.iter().enumerate() {
        let is_diff = match partial {
            Some(bits) if matches!(column.ty, ColumnType::Json { .. }) => {
                json_index += 1;
                bits.get(json_index - 1).is_some_and(|b| *b)
            }
            _ => false,
        };
        if !is_present(i) {
            out.push(Cell::Missing);
            continue;
        }
        let is_null = nulls[image_index / 8] & (1 << (image_index % 8)) != 0;
        image_index += 1;
        if is_null {
            out.push(Cell::Null);
            continue;
        }
        if let ColumnType::Unsupported { .. } = column.ty {
            return Err(DecodeError::column(table, i, ColumnProblem::Unsupported));
        }
        let len = value_len(column.ty, rest).ok_or_else(|| truncated(i))?;
        let (value, tail) = rest.split_at(len);
        out.push(if is_diff {
            Cell::JsonDiff(value)
        } else {
            Cell::Value(value)
        });
        rest = tail;
    }
    *cursor = rest;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Charset, Column};

    fn table(types: &[ColumnType]) -> Table {
        Table {
            database: "d".into(),
            name: "t".into(),
            columns: types
                .iter()
                .enumerate()
                .map(|(i, &ty)| Column {
                    name: format!("c{i}"),
                    ty,
                    unsigned: false,
                    charset: Charset::Utf8,
                    labels: None,
                    json_text: false,
                })
                .collect(),
            primary_key: Vec::new(),
        }
    }

    #[test]
    fn reads_values_and_nulls_in_column_order() {
        let t = table(&[
            ColumnType::Long,
            ColumnType::VarString { prefix: 1 },
            ColumnType::Tiny,
        ]);
        // null bitmap: column 1 is NULL.
        let bytes = [0b010, 7, 0, 0, 0, 9];
        let mut cursor = &bytes[..];
        let mut out = Vec::new();
        read_image(&t, None, &mut cursor, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Cell::Value(&[7, 0, 0, 0]), Cell::Null, Cell::Value(&[9])]
        );
        assert!(cursor.is_empty());
    }

    #[test]
    fn truncated_rows_name_the_column() {
        let t = table(&[ColumnType::Long, ColumnType::LongLong]);
        let bytes = [0, 1, 0, 0, 0, 1, 2];
        let mut cursor = &bytes[..];
        let err = read_image(&t, None, &mut cursor, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("`c1`"), "{err}");
        let err = read_image(&t, None, &mut &[][..], &mut Vec::new()).unwrap_err();
        assert_eq!(err.problem(), Some(&ColumnProblem::Truncated));
    }

    #[test]
    fn unsupported_types_are_errors_not_guesses() {
        let t = table(&[ColumnType::Unsupported { wire_type: 242 }]);
        let err = read_image(&t, None, &mut &[0u8, 1, 2][..], &mut Vec::new()).unwrap_err();
        assert_eq!(err.problem(), Some(&ColumnProblem::Unsupported), "{err}");
    }

    #[test]
    fn partial_after_images_mark_json_diffs() {
        let t = table(&[
            ColumnType::Json { prefix: 4 },
            ColumnType::Tiny,
            ColumnType::Json { prefix: 4 },
        ]);
        // value_options = PARTIAL_JSON_UPDATES, partial bits: second JSON column only,
        // null bitmap, then the three values.
        let bytes = [1, 0b10, 0, 1, 0, 0, 0, 0xAA, 7, 2, 0, 0, 0, 0xBB, 0xCC];
        let mut cursor = &bytes[..];
        let partial = read_value_options(&t, &mut cursor).unwrap();
        let mut out = Vec::new();
        read_image_with(&t, None, partial, &mut cursor, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                Cell::Value(&[1, 0, 0, 0, 0xAA]),
                Cell::Value(&[7]),
                Cell::JsonDiff(&[2, 0, 0, 0, 0xBB, 0xCC]),
            ]
        );
        assert!(cursor.is_empty());

        // value_options = 0: no partial bits follow, every value is whole.
        let mut cursor = &[0u8, 0][..];
        assert!(read_value_options(&t, &mut cursor).unwrap().is_none());
        assert_eq!(cursor, &[0]);
        // A cut-off shared image is an error, not a guess.
        assert!(read_value_options(&t, &mut &[1u8][..]).is_err());
        assert!(read_value_options(&t, &mut &[0xfcu8, 1][..]).is_err());
    }

    #[test]
    fn columns_outside_the_image_are_missing() {
        let t = table(&[ColumnType::Tiny, ColumnType::Tiny]);
        let present = bitvec::bitvec![u8, bitvec::order::Lsb0; 0, 1];
        let mut out = Vec::new();
        read_image(&t, Some(&present), &mut &[0u8, 5][..], &mut out).unwrap();
        assert_eq!(out, vec![Cell::Missing, Cell::Value(&[5])]);
    }
}
