//! Maxwell's message layout for row changes, and its transaction rules.
//!
//! Field order (maxwell.md §1.2): `database, table, type, ts, xid, xoffset, commit, data,
//! old`. `xid` is on every row when the transaction ended with an XID event; the last row
//! has `"commit":true` and no `xoffset`; the others have `xoffset` 0, 1, ...; `old` holds
//! only the columns an update changed, and is absent when none did.

use std::ops::Range;
use std::sync::Arc;

use super::json::{write_int, write_key, write_str};
use super::value::{RenderError, write_value};
use crate::decode::{Cell, DecodeError, RowKind};
use crate::schema::{Column, Table};

/// One message of a [`Batch`]: where its body lies and what to route it by.
#[derive(Debug, Clone)]
pub struct Message {
    pub database: Arc<str>,
    pub table: Arc<str>,
    /// The message body's bytes in [`Batch::body`].
    pub range: Range<usize>,
}

/// The messages of one committed transaction, in binlog order, sharing one buffer.
#[derive(Debug, Default)]
pub struct Batch {
    pub body: Vec<u8>,
    pub messages: Vec<Message>,
}

impl Batch {
    /// The body of message `m`.
    pub fn body_of(&self, m: &Message) -> &[u8] {
        self.body.get(m.range.clone()).unwrap_or_default()
    }
}

/// A rendered row waiting for its transaction's commit.
#[derive(Debug)]
struct PendingRow {
    database: Arc<str>,
    table: Arc<str>,
    /// `{"database":..,"table":..,"type":..,"ts":N` in `rendered`.
    head: Range<usize>,
    /// `,"data":{..}[,"old":{..}]}` in `rendered`.
    tail: Range<usize>,
}

/// The rows of the open transaction, already rendered except for the commit fields.
#[derive(Debug, Default)]
pub struct TransactionBuffer {
    rendered: Vec<u8>,
    rows: Vec<PendingRow>,
}

impl TransactionBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Forgets the open transaction (ROLLBACK).
    pub fn discard(&mut self) {
        self.rendered.clear();
        self.rows.clear();
    }

    /// Renders one row change. `before` is used by updates and deletes, `after` by inserts
    /// and updates. On error nothing is added.
    pub fn push_row(
        &mut self,
        table: &Table,
        kind: RowKind,
        ts: u32,
        before: &[Cell<'_>],
        after: &[Cell<'_>],
    ) -> Result<(), DecodeError> {
        let start = self.rendered.len();
        let result = self.render_row(table, kind, ts, before, after);
        match result {
            Ok((head_end, end)) => {
                self.rows.push(PendingRow {
                    database: table.database.clone(),
                    table: table.name.clone(),
                    head: start..head_end,
                    tail: head_end..end,
                });
                Ok(())
            }
            Err(e) => {
                self.rendered.truncate(start);
                Err(e)
            }
        }
    }

    fn render_row(
        &mut self,
        table: &Table,
        kind: RowKind,
        ts: u32,
        before: &[Cell<'_>],
        after: &[Cell<'_>],
    ) -> Result<(usize, usize), DecodeError> {
        let out = &mut self.rendered;
        out.extend_from_slice(b"{\"database\":");
        write_str(out, &table.database);
        out.extend_from_slice(b",\"table\":");
        write_str(out, &table.name);
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"ts\":");
        write_int(out, ts);
        let head_end = out.len();

        let data = if kind == RowKind::Delete {
            before
        } else {
            after
        };
        out.extend_from_slice(b",\"data\":{");
        let mut first = true;
        for (i, (column, cell)) in table.columns.iter().zip(data).enumerate() {
            write_cell(out, table, i, column, *cell, &mut first)?;
        }
        out.push(b'}');

        if kind == RowKind::Update {
            let changed = |i: usize| match (before.get(i), after.get(i)) {
                (Some(Cell::Missing), _) | (None, _) => false,
                (Some(b), Some(a)) => b != a,
                (Some(_), None) => false,
            };
            if (0..table.columns.len()).any(changed) {
                out.extend_from_slice(b",\"old\":{");
                let mut first = true;
                for (i, column) in table.columns.iter().enumerate() {
                    if changed(i) {
                        let cell = before.get(i).copied().unwrap_or(Cell::Missing);
                        write_cell(out, table, i, column, cell, &mut first)?;
                    }
                }
                out.push(b'}');
            }
        }
        out.push(b'}');
        Ok((head_end, out.len()))
    }

    /// Lays out the messages of the transaction that just committed, and empties the buffer.
    /// `xid` is `None` when the transaction ended with a `COMMIT` query (non-transactional
    /// tables), in which case Maxwell writes no `xid`.
    pub fn finish(&mut self, xid: Option<u64>) -> Batch {
        let mut body = Vec::with_capacity(self.rendered.len() + self.rows.len() * 40);
        let mut messages = Vec::with_capacity(self.rows.len());
        let last = self.rows.len().saturating_sub(1);
        for (i, row) in self.rows.drain(..).enumerate() {
            let start = body.len();
            body.extend_from_slice(&self.rendered[row.head]);
            if let Some(xid) = xid {
                body.extend_from_slice(b",\"xid\":");
                write_int(&mut body, xid);
            }
            if i == last {
                body.extend_from_slice(b",\"commit\":true");
            } else {
                body.extend_from_slice(b",\"xoffset\":");
                write_int(&mut body, i);
            }
            body.extend_from_slice(&self.rendered[row.tail]);
            messages.push(Message {
                database: row.database,
                table: row.table,
                range: start..body.len(),
            });
        }
        self.rendered.clear();
        Batch { body, messages }
    }
}

fn write_cell(
    out: &mut Vec<u8>,
    table: &Table,
    index: usize,
    column: &Column,
    cell: Cell<'_>,
    first: &mut bool,
) -> Result<(), DecodeError> {
    let raw = match cell {
        Cell::Missing => return Ok(()),
        Cell::Null => None,
        Cell::Value(raw) => Some(raw),
    };
    if !*first {
        out.push(b',');
    }
    *first = false;
    write_key(out, &column.name);
    match raw {
        None => out.extend_from_slice(b"null"),
        Some(raw) => write_value(out, column, raw).map_err(|e| render_error(table, index, e))?,
    }
    Ok(())
}

fn render_error(table: &Table, index: usize, e: RenderError) -> DecodeError {
    DecodeError::for_column(table, index, |database, table_name, column, ty| match e {
        RenderError::BadValue => DecodeError::BadValue {
            database,
            table: table_name,
            column,
            ty,
        },
        RenderError::UnsupportedType => DecodeError::Unsupported {
            database,
            table: table_name,
            column,
            ty,
        },
        RenderError::UnsupportedCharset => DecodeError::Unsupported {
            database,
            table: table_name,
            column,
            ty: format!("{ty} in charset {:?}", table.columns[index].charset),
        },
        RenderError::NoLabels => DecodeError::NoLabels {
            database,
            table: table_name,
            column,
            ty,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ColumnType;
    use crate::schema::Charset;

    fn table() -> Table {
        let col = |name: &str, ty| Column {
            name: name.into(),
            ty,
            unsigned: false,
            charset: Charset::Utf8,
            labels: None,
        };
        Table {
            database: "shop".into(),
            name: "Order".into(),
            columns: vec![
                col("id", ColumnType::Long),
                col("note", ColumnType::VarString { prefix: 1 }),
            ],
        }
    }

    fn bodies(batch: &Batch) -> Vec<String> {
        batch
            .messages
            .iter()
            .map(|m| String::from_utf8(batch.body_of(m).to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn a_transaction_gets_xid_xoffset_and_one_commit() {
        let t = table();
        let mut tx = TransactionBuffer::new();
        let row1 = [Cell::Value(&[1, 0, 0, 0]), Cell::Value(b"\x02hi")];
        let row2 = [Cell::Value(&[2, 0, 0, 0]), Cell::Null];
        tx.push_row(&t, RowKind::Insert, 1700000000, &[], &row1)
            .unwrap();
        tx.push_row(&t, RowKind::Insert, 1700000001, &[], &row2)
            .unwrap();
        let batch = tx.finish(Some(77));
        assert_eq!(
            bodies(&batch),
            vec![
                r#"{"database":"shop","table":"Order","type":"insert","ts":1700000000,"xid":77,"xoffset":0,"data":{"id":1,"note":"hi"}}"#,
                r#"{"database":"shop","table":"Order","type":"insert","ts":1700000001,"xid":77,"commit":true,"data":{"id":2,"note":null}}"#,
            ]
        );
        assert!(tx.is_empty());
    }

    #[test]
    fn updates_carry_only_changed_columns_in_old() {
        let t = table();
        let mut tx = TransactionBuffer::new();
        let before = [Cell::Value(&[1, 0, 0, 0]), Cell::Null];
        let after = [Cell::Value(&[1, 0, 0, 0]), Cell::Value(b"\x01x")];
        tx.push_row(&t, RowKind::Update, 5, &before, &after)
            .unwrap();
        tx.push_row(&t, RowKind::Update, 5, &after, &after).unwrap();
        tx.push_row(&t, RowKind::Delete, 5, &after, &[]).unwrap();
        let batch = tx.finish(None);
        assert_eq!(
            bodies(&batch),
            vec![
                r#"{"database":"shop","table":"Order","type":"update","ts":5,"xoffset":0,"data":{"id":1,"note":"x"},"old":{"note":null}}"#,
                r#"{"database":"shop","table":"Order","type":"update","ts":5,"xoffset":1,"data":{"id":1,"note":"x"}}"#,
                r#"{"database":"shop","table":"Order","type":"delete","ts":5,"commit":true,"data":{"id":1,"note":"x"}}"#,
            ]
        );
    }

    #[test]
    fn a_row_that_cannot_render_leaves_the_buffer_unchanged() {
        let t = table();
        let mut tx = TransactionBuffer::new();
        let bad = [Cell::Value(&[1, 0, 0, 0]), Cell::Value(b"\x05x")];
        assert!(tx.push_row(&t, RowKind::Insert, 5, &[], &bad).is_err());
        assert!(tx.is_empty());
        assert!(tx.finish(Some(1)).messages.is_empty());
    }
}
