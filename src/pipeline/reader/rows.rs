//! Rows events: each row decoded against its table map, judged by the filter, and rendered
//! into the open transaction's buffer.

use mysql_common::binlog::events::{Event, EventData};

use super::Reader;
use super::tables::RowsFilter;
use crate::decode::{Cell, RowKind, RowsEvent};
use crate::error::Error;
use crate::format::RowMeta;
use crate::metrics::METRICS;
use crate::schema::SchemaProvider;
use crate::table::Table;

impl<P: SchemaProvider> Reader<P> {
    pub(super) fn rows(&mut self, event: &Event) -> Result<(), Error> {
        let data = event.read_data().map_err(|e| self.malformed("rows", e))?;
        let Some(EventData::RowsEvent(rows)) = data else {
            return Err(self.malformed("rows", "not a rows event"));
        };
        let rows = RowsEvent::new(&rows).map_err(|source| Error::Decode {
            position: self.event_start.clone(),
            source: Box::new(source),
        })?;
        if self.tables.is_blacklisted(rows.table_id) {
            return Ok(());
        }
        let (layout, decision) = self
            .tables
            .get(rows.table_id)
            .map(|c| (c.layout.clone(), c.rows.clone()))
            .ok_or_else(|| Error::UnknownTable {
                table_id: rows.table_id,
                position: self.event_start.clone(),
            })?;
        let table = &*layout.table;
        let dropped = matches!(decision, RowsFilter::Drop)
            || self
                .filter
                .always_dropped(&table.database, &table.name, rows.kind)
            || self
                .bootstrap
                .as_ref()
                .is_some_and(|b| b.is_bookkeeping(table, rows.kind));
        let watched = self.bootstrap.is_some();
        let per_row = matches!(decision, RowsFilter::PerRow);
        let header = event.header();
        let meta = RowMeta {
            ts: header.timestamp(),
            position: &self.event_start,
            server_id: header.server_id(),
            thread_id: self.transaction.thread_id,
            gtid: self.gtid.as_deref(),
            query: self.transaction.row_query.as_deref(),
            schema_id: self.provider.schema_id(),
        };
        let mut cursor = rows.rows();
        let mut before: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
        let mut after: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
        let decode_err = |source| Error::Decode {
            position: self.event_start.clone(),
            source: Box::new(source),
        };
        let (mut count, mut filtered) = (0, 0);
        let mut scratch = Vec::new();
        while rows
            .next_row(&mut cursor, table, &mut before, &mut after)
            .map_err(decode_err)?
        {
            count += 1;
            if watched && let Some(boot) = self.bootstrap.as_mut() {
                let mut cx = super::bootstrap::Context {
                    filter: &self.filter,
                    options: &self.options,
                    schema_id: meta.schema_id,
                    position: &self.event_start,
                    progress: &mut self.bootstrap_progress,
                };
                boot.row(&mut cx, table, rows.kind, &before, &after)?;
            }
            let keep = !dropped
                && (!per_row || {
                    // Maxwell judges a row by its `data`: the before image of a delete.
                    let image = if rows.kind == RowKind::Delete {
                        &before
                    } else {
                        &after
                    };
                    self.filter
                        .includes_row(&table.database, &table.name, |name| {
                            column_text(table, image, name, &mut scratch)
                        })
                });
            if keep {
                self.buffer
                    .push_row(&layout, rows.kind, &meta, &before, &after)
                    .map_err(decode_err)?;
            } else {
                filtered += 1;
            }
        }
        if let Some(read) = METRICS.rows_read.get(rows.kind.as_str()) {
            read.inc_by(count);
        }
        METRICS.rows_filtered.inc_by(filtered);
        if dropped {
            return Ok(());
        }
        self.buffer.enforce_limit().map_err(Error::Spill)?;
        METRICS
            .spill_bytes
            .set(i64::try_from(self.buffer.spilled_bytes()).unwrap_or(i64::MAX));
        Ok(())
    }
}

/// A column's value as the filter compares it: `None` when the image lacks the column,
/// `Some(None)` for NULL, else its text ([`crate::format::value::write_text`]: a string's
/// characters, a number as rendered).
pub(super) fn column_text(
    table: &Table,
    image: &[Cell<'_>],
    name: &str,
    scratch: &mut Vec<u8>,
) -> Option<Option<String>> {
    let index = table.columns.iter().position(|c| c.name == name)?;
    match image.get(index)? {
        Cell::Missing => None,
        Cell::Null => Some(None),
        Cell::Value(raw) => {
            scratch.clear();
            let is_null =
                crate::format::value::write_text(scratch, &table.columns[index], raw).ok()?;
            if is_null {
                return Some(None);
            }
            Some(Some(String::from_utf8_lossy(scratch).into_owned()))
        }
        Cell::JsonDiff(_) => None,
    }
}
