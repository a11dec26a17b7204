//! Table maps: each table id's resolved table, ready-made layout and filter decision, kept
//! while the server keeps sending the same TABLE_MAP for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mysql_common::binlog::events::{Event, TableMapEvent};

use super::Reader;
use crate::error::Error;
use crate::format::TableLayout;
use crate::metrics::METRICS;
use crate::schema::{self, SchemaProvider};

/// A resolved table map.
pub(super) struct CachedTable {
    /// The TABLE_MAP event's body: a different body for the same id means a new definition.
    raw: Vec<u8>,
    pub(super) layout: Arc<TableLayout>,
    /// What the filter says about the table's rows.
    pub(super) rows: RowsFilter,
}

/// The filter's decision for one table, taken once per table map.
#[derive(Debug, Clone)]
pub(super) enum RowsFilter {
    Publish,
    Drop,
    /// Column-value rules apply: judge each row.
    PerRow,
}

/// The table maps in force, by table id.
#[derive(Default)]
pub(super) struct TableCache {
    tables: HashMap<u64, CachedTable>,
    /// Table ids of blacklisted tables: their rows are skipped undecoded.
    blacklisted: HashSet<u64>,
}

impl TableCache {
    /// Forgets every table map (after a rotation or a statement that may change tables).
    pub(super) fn clear(&mut self) {
        self.tables.clear();
    }

    pub(super) fn get(&self, id: u64) -> Option<&CachedTable> {
        self.tables.get(&id)
    }

    pub(super) fn is_blacklisted(&self, id: u64) -> bool {
        self.blacklisted.contains(&id)
    }
}

impl<P: SchemaProvider> Reader<P> {
    pub(super) async fn table_map(&mut self, event: &Event) -> Result<(), Error> {
        let tme: TableMapEvent<'_> = event
            .read_event()
            .map_err(|e| self.malformed("TABLE_MAP", e))?;
        let id = tme.table_id();
        if self
            .tables
            .tables
            .get(&id)
            .is_some_and(|cached| cached.raw == event.data())
        {
            return Ok(());
        }
        let watched = self
            .bootstrap
            .as_ref()
            .is_some_and(|b| b.watches(&tme.database_name(), &tme.table_name()));
        if !watched
            && self
                .filter
                .is_blacklisted(&tme.database_name(), &tme.table_name())
        {
            // Never looked up: a blacklisted table's schema cannot stop replication.
            self.tables.tables.remove(&id);
            self.tables.blacklisted.insert(id);
            return Ok(());
        }
        self.tables.blacklisted.remove(&id);
        let version = self.provider.schema_id();
        let table = schema::resolve(&self.event_start, &tme, &mut self.provider)
            .await
            .map_err(|source| {
                // A lost connection during a capture heals by itself: not a schema problem.
                if !source.is_transient() {
                    METRICS.schema_errors.inc();
                }
                Error::Schema {
                    position: self.event_start.clone(),
                    source: Box::new(source),
                }
            })?;
        count_schema_changes(version, self.provider.schema_id());
        let has_column = |name: &str| table.columns.iter().any(|c| c.name == name);
        let rows = if self
            .filter
            .has_column_rules_for(&table.database, &table.name, has_column)
        {
            RowsFilter::PerRow
        } else if self
            .filter
            .includes_table(&table.database, Some(&table.name))
        {
            RowsFilter::Publish
        } else {
            RowsFilter::Drop
        };
        let layout = TableLayout::new(Arc::new(table), &self.options);
        self.tables.tables.insert(
            id,
            CachedTable {
                raw: event.data().to_vec(),
                layout: Arc::new(layout),
                rows,
            },
        );
        Ok(())
    }
}

/// Counts the schema versions between two `schema_id`s (none without a schema history).
pub(super) fn count_schema_changes(before: Option<u64>, after: Option<u64>) {
    if let (Some(before), Some(after)) = (before, after) {
        METRICS.schema_changes.inc_by(after.saturating_sub(before));
    }
}
