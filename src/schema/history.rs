//! Schema history: the catalog in force at every binlog position, kept across restarts.
//!
//! A history is a base catalog valid at one position, plus entries, each one change at a
//! later position: a DDL statement the reader applied, a table re-read from a TABLE_MAP
//! event with full metadata, or a catalog captured from the server. [`TrackedSchema`] is the
//! [`SchemaProvider`] the daemon uses: it answers from the catalog as of the event being read
//! and records every change in a [`HistoryStore`] before the row after it is published, so
//! a restart from any checkpoint rebuilds the catalog of that moment.
//!
//! Nothing is guessed. A table whose definition at some position cannot be known (a
//! statement the DDL reader could not follow, or a table that changed between the start
//! position and the capture) is marked unknown; its rows stop the daemon with an error that
//! says how to get out (`binlog-relay schema recapture`, or `binlog_row_metadata=FULL`),
//! unless the binlog names the columns itself.

pub mod database;
mod file;

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

pub use database::DatabaseHistoryStore;
pub use file::FileHistoryStore;

use super::catalog::{Catalog, ColumnDef, TableDef, TableEntry};
use super::ddl::{self, Touched};
use super::{Charset, ColumnInfo, SchemaError, SchemaProvider, Table};
use crate::position::BinlogPosition;
use crate::table::ColumnType;

/// Why the history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("schema history file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "schema history file {path} line {line} is not valid: {message}. Move the file away and run `binlog-relay schema recapture`"
    )]
    Corrupt {
        path: String,
        line: usize,
        message: String,
    },
    #[error(
        "the schema history starts at {base}, after the start position {start}: it cannot describe rows before it. Run `binlog-relay schema recapture` to capture the schema for the start position"
    )]
    StartsTooLate { base: String, start: String },
    #[error(
        "the schema history belongs to server_id {history}, but the server has server_id {server}. Point the daemon at its own state directory, or run `binlog-relay schema recapture`"
    )]
    ServerChanged { history: u32, server: u32 },
}

/// The catalog at the history's first position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    pub position: BinlogPosition,
    pub server_id: u32,
    pub catalog: Catalog,
}

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A statement in a QUERY event. Re-read from the binlog after a restart before it.
    Ddl,
    /// A TABLE_MAP event with full metadata. Re-read likewise.
    TableMap,
    /// The catalog read from `information_schema`, valid from this position. Cannot be
    /// re-read from the binlog, so it is kept when the daemon restarts before it.
    Capture,
}

/// One change to the catalog at a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The start of the event that made the change.
    pub position: BinlogPosition,
    pub origin: Origin,
    /// The statement, for operators reading the file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub statement: String,
    pub changes: Vec<Change>,
}

/// A table or database as it is after an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// `None`: the table no longer exists.
    Table {
        database: String,
        table: String,
        entry: Option<TableEntry>,
    },
    /// `None`: the database (and every table in it) no longer exists.
    Database {
        database: String,
        charset: Option<String>,
    },
}

impl Entry {
    fn apply(&self, catalog: &mut Catalog) {
        for change in &self.changes {
            match change {
                Change::Table {
                    database,
                    table,
                    entry: Some(entry),
                } => catalog.put_table(database, table, entry.clone()),
                Change::Table {
                    database,
                    table,
                    entry: None,
                } => {
                    catalog.remove_table(database, table);
                }
                Change::Database {
                    database,
                    charset: Some(charset),
                } => {
                    let server_charset = catalog.server_charset.clone();
                    catalog
                        .databases
                        .entry(database.clone())
                        .or_insert_with(|| super::catalog::Database {
                            charset: server_charset,
                            tables: Default::default(),
                        })
                        .charset = charset.clone();
                }
                Change::Database {
                    database,
                    charset: None,
                } => {
                    catalog.databases.remove(database);
                }
            }
        }
    }
}

/// A whole history as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub base: Base,
    pub entries: Vec<Entry>,
}

/// Where the history is kept.
pub trait HistoryStore: Send {
    fn load(&mut self) -> Result<Option<History>, HistoryError>;
    /// Replaces whatever is stored with `history`.
    fn replace(&mut self, history: &History) -> Result<(), HistoryError>;
    /// Adds one entry, durably, before returning.
    fn append(&mut self, entry: &Entry) -> Result<(), HistoryError>;
}

/// What every history store must do, as one check that the file, memory and database
/// stores all pass (the database store's run is a live test). `store` must start empty.
#[cfg(any(test, feature = "live-tests"))]
pub fn contract(store: &mut impl HistoryStore) {
    let entry = |offset: u64, table: &str| Entry {
        position: BinlogPosition::new("bin.000001", offset),
        origin: Origin::Ddl,
        statement: format!("DROP TABLE {table}"),
        changes: vec![Change::Table {
            database: "d".into(),
            table: table.into(),
            entry: None,
        }],
    };
    let base = |offset: u64| Base {
        position: BinlogPosition::new("bin.000001", offset),
        server_id: 1,
        catalog: Catalog::default(),
    };
    assert_eq!(store.load().expect("load an empty store"), None);
    let first = History {
        base: base(4),
        entries: vec![entry(100, "a")],
    };
    store.replace(&first).expect("replace");
    assert_eq!(store.load().expect("load"), Some(first.clone()));
    store.append(&entry(200, "b")).expect("append");
    store.append(&entry(300, "c")).expect("append");
    let mut grown = first;
    grown.entries.extend([entry(200, "b"), entry(300, "c")]);
    assert_eq!(store.load().expect("load"), Some(grown));
    // A replacement drops every entry of the old history.
    let second = History {
        base: base(400),
        entries: Vec::new(),
    };
    store.replace(&second).expect("replace again");
    assert_eq!(store.load().expect("load"), Some(second));
    store
        .append(&entry(500, "d"))
        .expect("append after a replacement");
    let loaded = store.load().expect("load").expect("a history");
    assert_eq!(loaded.entries, vec![entry(500, "d")]);
}

/// A history kept in memory, for tests and replays.
#[derive(Debug, Default)]
pub struct MemoryHistoryStore {
    pub history: Option<History>,
}

impl HistoryStore for MemoryHistoryStore {
    fn load(&mut self) -> Result<Option<History>, HistoryError> {
        Ok(self.history.clone())
    }

    fn replace(&mut self, history: &History) -> Result<(), HistoryError> {
        self.history = Some(history.clone());
        Ok(())
    }

    fn append(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        if let Some(h) = &mut self.history {
            h.entries.push(entry.clone());
        }
        Ok(())
    }
}

/// The daemon's schema provider: the tracked catalog, moved forward with the binlog.
pub struct TrackedSchema<S> {
    catalog: Catalog,
    /// Capture entries at or after the current position, applied when the reader passes
    /// them; in position order.
    pending: Vec<Entry>,
    store: S,
    /// 1 for the base catalog, one more for every entry applied since.
    version: u64,
    /// Tables not to track (Maxwell's `blacklist`): statements about them alone are not
    /// recorded, and one that cannot be followed marks no other table unknown.
    untracked: Option<Untracked>,
}

/// Says whether `database`.`table` is left untracked.
pub type Untracked = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

impl<S: HistoryStore> TrackedSchema<S> {
    /// Starts a new history at `start`: `base` is the catalog valid there, and `later`
    /// holds captures that become valid further on.
    pub fn create(mut store: S, base: Base, mut later: Vec<Entry>) -> Result<Self, HistoryError> {
        later.sort_by(|a, b| a.position.cmp_sequence(&b.position));
        store.replace(&History {
            base: base.clone(),
            entries: later.clone(),
        })?;
        Ok(Self {
            catalog: base.catalog,
            pending: later,
            store,
            version: 1,
            untracked: None,
        })
    }

    /// Loads the stored history and rebuilds the catalog as it was at `start`. Entries the
    /// binlog will give again (statements and table maps at or after `start`) are dropped
    /// from the store, so they are not recorded twice.
    pub fn resume(
        mut store: S,
        start: &BinlogPosition,
        server_id: u32,
    ) -> Result<Option<Self>, HistoryError> {
        let Some(history) = store.load()? else {
            return Ok(None);
        };
        if history.base.server_id != server_id {
            return Err(HistoryError::ServerChanged {
                history: history.base.server_id,
                server: server_id,
            });
        }
        if history.base.position.cmp_sequence(start) == Ordering::Greater {
            return Err(HistoryError::StartsTooLate {
                base: history.base.position.to_string(),
                start: start.to_string(),
            });
        }
        let mut entries = history.entries.clone();
        entries.sort_by(|a, b| a.position.cmp_sequence(&b.position));
        let mut catalog = history.base.catalog.clone();
        let mut kept = Vec::new();
        let mut pending = Vec::new();
        let mut version = 1;
        for entry in entries {
            if entry.position.cmp_sequence(start) == Ordering::Less {
                entry.apply(&mut catalog);
                version += 1;
                kept.push(entry);
            } else if entry.origin == Origin::Capture {
                kept.push(entry.clone());
                pending.push(entry);
            }
        }
        if kept.len() != history.entries.len() {
            store.replace(&History {
                base: history.base.clone(),
                entries: kept,
            })?;
        }
        info!(base = %history.base.position, at = %start, "schema history loaded");
        Ok(Some(Self {
            catalog,
            pending,
            store,
            version,
            untracked: None,
        }))
    }

    /// Leaves the tables `untracked` names out of the history from now on.
    pub fn untrack(&mut self, untracked: Untracked) {
        self.untracked = Some(untracked);
    }

    /// Whether every table `touched` names is untracked (false when it names none).
    fn only_untracked(&self, touched: &Touched) -> bool {
        let Some(untracked) = &self.untracked else {
            return false;
        };
        !touched.tables.is_empty()
            && touched.databases.is_empty()
            && touched
                .tables
                .iter()
                .all(|(db, table)| untracked(db, table))
    }

    /// The catalog as of the last position passed.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Applies captures that have become valid at `at`.
    fn advance(&mut self, at: &BinlogPosition) {
        while self
            .pending
            .first()
            .is_some_and(|e| e.position.cmp_sequence(at) != Ordering::Greater)
        {
            let entry = self.pending.remove(0);
            info!(at = %entry.position, "schema capture applied");
            entry.apply(&mut self.catalog);
            self.version += 1;
        }
    }

    fn record(&mut self, entry: Entry) -> Result<(), SchemaError> {
        entry.apply(&mut self.catalog);
        self.version += 1;
        self.store
            .append(&entry)
            .map_err(|e| SchemaError::History(Box::new(e)))
    }

    /// A name as the catalog keys it.
    fn fold(&self, name: &str) -> String {
        if self.catalog.lower_case_table_names == 0 {
            name.to_owned()
        } else {
            name.to_lowercase()
        }
    }

    /// Every table of `database`.
    fn tables_of(&self, database: &str) -> Vec<(String, String)> {
        self.catalog
            .databases
            .get(database)
            .map(|d| {
                d.tables
                    .keys()
                    .map(|t| (database.to_owned(), t.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Marks `tables` unknown for `reason` and records it at `at`.
    fn mark_unknown(
        &mut self,
        at: &BinlogPosition,
        statement: String,
        tables: Vec<(String, String)>,
        reason: &str,
    ) -> Result<(), SchemaError> {
        for (db, table) in &tables {
            self.catalog.put_table(
                db,
                table,
                TableEntry::Unknown {
                    reason: reason.to_owned(),
                },
            );
        }
        let touched = Touched {
            tables,
            ..Touched::default()
        };
        let entry = Entry {
            position: at.clone(),
            origin: Origin::Ddl,
            statement,
            changes: self.changes_for(&touched),
        };
        self.record(entry)
    }

    /// The catalog's current state of everything `touched` names, as an entry's changes.
    fn changes_for(&self, touched: &Touched) -> Vec<Change> {
        let mut changes = Vec::new();
        for database in &touched.databases {
            changes.push(Change::Database {
                database: database.clone(),
                charset: self
                    .catalog
                    .databases
                    .get(database)
                    .map(|d| d.charset.clone()),
            });
        }
        for (database, table) in &touched.tables {
            changes.push(Change::Table {
                database: database.clone(),
                table: table.clone(),
                entry: self.catalog.table(database, table).cloned(),
            });
        }
        changes
    }
}

impl<S: HistoryStore> SchemaProvider for TrackedSchema<S> {
    fn schema_id(&self) -> Option<u64> {
        Some(self.version)
    }

    async fn columns(
        &mut self,
        at: &BinlogPosition,
        database: &str,
        table: &str,
    ) -> Result<Option<Vec<ColumnInfo>>, SchemaError> {
        self.advance(at);
        match self.catalog.lookup(database, table) {
            Some(TableEntry::Known(def)) => Ok(Some(def.column_infos())),
            Some(TableEntry::Unknown { reason }) => Err(SchemaError::TableUnknown {
                database: database.to_owned(),
                table: table.to_owned(),
                reason: reason.clone(),
            }),
            None => Ok(None),
        }
    }

    async fn statement(
        &mut self,
        at: &BinlogPosition,
        database: &str,
        sql: &str,
    ) -> Result<Vec<ddl::Effect>, SchemaError> {
        self.advance(at);
        // Applied in place: a statement that fails half way leaves every table it touched
        // marked unknown below, so no half-applied definition is ever used.
        let (mut touched, failure) = match ddl::apply(&mut self.catalog, database, sql) {
            Ok(touched) => (touched, None),
            Err(e) => (e.touched.clone(), Some(e)),
        };
        if touched.is_empty() && failure.is_none() {
            return Ok(Vec::new());
        }
        // No row data in logs or the history file: string literals (DEFAULT, COMMENT) go.
        let excerpt = super::ddl::without_literals(sql, 200, false);
        if self.only_untracked(&touched) {
            // Blacklisted tables are never looked up, so their definitions need not be
            // kept, and a statement about them that cannot be followed harms nothing.
            for (db, table) in &touched.tables {
                self.catalog.remove_table(db, table);
            }
            debug!(position = %at, statement = %excerpt.chars().take(80).collect::<String>(), "schema change to blacklisted tables only: not tracked");
            return Ok(Vec::new());
        }
        if let Some(e) = failure {
            // Nothing is reported for a statement that was not understood.
            touched.effects.clear();
            warn!(
                position = %at,
                statement = %excerpt,
                error = %e.message,
                "a schema statement could not be followed; the tables it touches are unknown until the binlog names their columns or the schema is recaptured"
            );
            if touched.tables.is_empty() || e.unlexed {
                // The table could not be read, or only by a plain pattern over text the
                // lexer rejected: every table of the session's database is suspect too.
                touched.tables.extend(self.tables_of(database));
            }
            let reason = format!("at {at}, `{excerpt}` could not be followed: {}", e.message);
            for (db, table) in &touched.tables {
                self.catalog.put_table(
                    db,
                    table,
                    TableEntry::Unknown {
                        reason: reason.clone(),
                    },
                );
            }
        }
        info!(
            position = %at,
            tables = touched.tables.len(),
            databases = touched.databases.len(),
            statement = %excerpt.chars().take(80).collect::<String>(),
            "schema change followed"
        );
        let entry = Entry {
            position: at.clone(),
            origin: Origin::Ddl,
            statement: excerpt,
            changes: self.changes_for(&touched),
        };
        self.record(entry)?;
        Ok(touched.effects)
    }

    async fn unreadable_statement(
        &mut self,
        at: &BinlogPosition,
        lossy: &str,
    ) -> Result<(), SchemaError> {
        self.advance(at);
        if !ddl::looks_like_table_ddl(lossy) {
            return Ok(());
        }
        let excerpt = super::ddl::without_literals(lossy, 200, false);
        warn!(position = %at, statement = %excerpt, "a schema statement's text is not valid in its session's charset; every table is unknown until the binlog names their columns or the schema is recaptured");
        let all: Vec<(String, String)> = self
            .catalog
            .databases
            .iter()
            .flat_map(|(db, d)| d.tables.keys().map(move |t| (db.clone(), t.clone())))
            .collect();
        let reason = format!(
            "at {at}, the text of `{excerpt}` is not valid in its session's charset, so the tables it changes cannot be told"
        );
        self.mark_unknown(at, excerpt, all, &reason)
    }

    async fn named_by_binlog(
        &mut self,
        at: &BinlogPosition,
        table: &Table,
    ) -> Result<(), SchemaError> {
        self.advance(at);
        let tracked = self.catalog.lookup(&table.database, &table.name);
        let agrees = match tracked {
            Some(TableEntry::Known(def)) => {
                def.columns.len() == table.columns.len()
                    && def
                        .columns
                        .iter()
                        .zip(&table.columns)
                        .all(|(d, c)| d.name == c.name)
            }
            _ => false,
        };
        if agrees {
            return Ok(());
        }
        if matches!(tracked, Some(TableEntry::Known(_))) {
            warn!(
                position = %at,
                database = %table.database,
                table = %table.name,
                "the tracked schema disagrees with the column names the binlog carries; taking the binlog's"
            );
        }
        let def = TableDef {
            charset: self.catalog.database_charset(&table.database),
            columns: table
                .columns
                .iter()
                .map(|c| {
                    let (data_type, fsp) = sql_type(c.ty, &c.charset);
                    // MariaDB's JSON is text to the binlog; the flag came from this
                    // schema and stays in it.
                    let data_type = if c.json_text { "json" } else { data_type };
                    ColumnDef {
                        name: c.name.clone(),
                        data_type: data_type.to_owned(),
                        unsigned: c.unsigned,
                        charset: (c.ty.is_character() || c.labels.is_some())
                            .then(|| c.charset.name().to_owned()),
                        labels: c.labels.as_ref().map(|l| l.to_vec()),
                        fsp,
                    }
                })
                .collect(),
            primary_key: table
                .primary_key
                .iter()
                .filter_map(|&i| table.columns.get(i).map(|c| c.name.clone()))
                .collect(),
        };
        let entry = Entry {
            position: at.clone(),
            origin: Origin::TableMap,
            statement: String::new(),
            changes: vec![Change::Table {
                database: self.fold(&table.database),
                table: self.fold(&table.name),
                entry: Some(TableEntry::Known(def)),
            }],
        };
        self.record(entry)
    }
}

/// The SQL type name (as `information_schema.DATA_TYPE` spells it) for a binlog type, and
/// its fractional digits for temporal types. Binary and text strings share binlog types;
/// the charset tells them apart.
fn sql_type(ty: ColumnType, charset: &Charset) -> (&'static str, Option<u8>) {
    let binary = *charset == Charset::Binary;
    match ty {
        ColumnType::Tiny => ("tinyint", None),
        ColumnType::Short => ("smallint", None),
        ColumnType::Int24 => ("mediumint", None),
        ColumnType::Long => ("int", None),
        ColumnType::LongLong => ("bigint", None),
        ColumnType::Float => ("float", None),
        ColumnType::Double => ("double", None),
        ColumnType::NewDecimal { .. } => ("decimal", None),
        ColumnType::Year => ("year", None),
        ColumnType::Date => ("date", None),
        ColumnType::DateTime => ("datetime", Some(0)),
        ColumnType::DateTime2 { fsp } | ColumnType::DateTimeHires { fsp } => {
            ("datetime", Some(fsp))
        }
        ColumnType::Timestamp => ("timestamp", Some(0)),
        ColumnType::Timestamp2 { fsp } | ColumnType::TimestampHires { fsp } => {
            ("timestamp", Some(fsp))
        }
        ColumnType::Time => ("time", Some(0)),
        ColumnType::Time2 { fsp } | ColumnType::TimeHires { fsp } => ("time", Some(fsp)),
        ColumnType::VarString { .. } if binary => ("varbinary", None),
        ColumnType::VarString { .. } => ("varchar", None),
        ColumnType::FixedString { .. } if binary => ("binary", None),
        ColumnType::FixedString { .. } => ("char", None),
        ColumnType::Blob { prefix } => {
            let name = match (prefix, binary) {
                (1, true) => "tinyblob",
                (1, false) => "tinytext",
                (3, true) => "mediumblob",
                (3, false) => "mediumtext",
                (4, true) => "longblob",
                (4, false) => "longtext",
                (_, true) => "blob",
                (_, false) => "text",
            };
            (name, None)
        }
        ColumnType::Enum { .. } => ("enum", None),
        ColumnType::Set { .. } => ("set", None),
        ColumnType::Bit { .. } => ("bit", None),
        ColumnType::Json { .. } => ("json", None),
        ColumnType::Geometry { .. } => ("geometry", None),
        ColumnType::Unsupported { .. } => ("unknown", None),
    }
}

#[cfg(test)]
mod tests;
