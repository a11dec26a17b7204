//! Where the schema comes from when the pipeline starts: the stored history, or a new
//! capture that is honest about which tables it can vouch for at the start position.
//!
//! A capture reads `information_schema` between two `SHOW MASTER STATUS` calls, p1 and p2.
//! The statements in the binlog from the start position to p2 are then read ahead:
//! - a schema statement between p1 and p2 means the capture may have caught a table half
//!   way; it is taken again (up to `ATTEMPTS`, 5, times);
//! - a table touched by a statement between the start and p1 may have looked different at
//!   the start. It is unknown from the start until the binlog makes it known again (a
//!   CREATE TABLE the reader follows) or until p1, where the captured definition holds.
//!
//! Every other table is exactly as captured for the whole range, so the common cases (start
//! at `latest`, or from a position with no DDL since) vouch for every table.

use tracing::{info, warn};

use crate::error::Error;
use crate::position::BinlogPosition;
use crate::schema::catalog::{Catalog, TableEntry};
use crate::schema::ddl::{self, Touched};
use crate::schema::history::{Base, Change, Entry, HistoryStore, Origin, TrackedSchema};
use crate::schema::{self, SchemaError};
use crate::source::{BinlogSource, ServerInfo};

/// Captures taken before giving up on a server whose schema keeps changing.
const ATTEMPTS: usize = 5;

/// The stored history resumed at `start`, or a new capture for `start`.
///
/// Only a start from a checkpoint resumes: the history has followed the binlog exactly as
/// far as the checkpoint. Without a checkpoint (first start, or an operator who removed
/// it), any stored history may have missed changes since, so the schema is captured anew.
pub async fn open<S: HistoryStore>(
    source: &BinlogSource,
    server: &ServerInfo,
    start: &BinlogPosition,
    from_checkpoint: bool,
    mut make_store: impl FnMut() -> S,
) -> Result<TrackedSchema<S>, Error> {
    if from_checkpoint
        && let Some(tracked) = TrackedSchema::resume(make_store(), start, server.server_id)
            .map_err(|e| history_error(start, e))?
    {
        return Ok(tracked);
    }
    capture_for(source, server, start, make_store(), false).await
}

pub(crate) fn history_error(at: &BinlogPosition, e: crate::schema::history::HistoryError) -> Error {
    Error::Schema {
        position: at.clone(),
        source: Box::new(SchemaError::History(Box::new(e))),
    }
}

/// Captures the schema and starts a new history valid from `start`. With `trust_current`,
/// the operator vouches that the captured definitions held at `start` too, and tables
/// changed in between are not marked unknown.
pub async fn capture_for<S: HistoryStore>(
    source: &BinlogSource,
    server: &ServerInfo,
    start: &BinlogPosition,
    store: S,
    trust_current: bool,
) -> Result<TrackedSchema<S>, Error> {
    let schema_error = |e: SchemaError| Error::Schema {
        position: start.clone(),
        source: Box::new(e),
    };
    for attempt in 1..=ATTEMPTS {
        let p1 = source.current_position().await?;
        let live = schema::capture(source.pool(), source.query_timeout())
            .await
            .map_err(schema_error)?;
        let p2 = source.current_position().await?;
        let from = if start.reached(&p1) { &p1 } else { start };
        let statements = source.statements_between(from, &p2, server).await?;

        let mut before_capture = Touched::default();
        let mut during_capture = None;
        for st in &statements {
            if !st.readable && ddl::looks_like_table_ddl(&st.sql) {
                // Which tables it changes cannot be told: none can be vouched for.
                before_capture
                    .databases
                    .extend(live.databases.keys().cloned());
                if st.position.reached(&p1) {
                    during_capture = Some(st);
                    break;
                }
                continue;
            }
            let mut touched = match ddl::apply(&mut Catalog::new(""), &st.database, &st.sql) {
                Ok(t) => t,
                // On this empty catalog every ALTER fails, but names its tables. When the
                // names could not be read, or only by a pattern over unlexable text, the
                // session's database is suspect too.
                Err(e) => {
                    let unsure = e.touched.tables.is_empty() || e.unlexed;
                    let mut touched = e.touched;
                    if unsure {
                        touched.databases.push(st.database.clone());
                    }
                    touched
                }
            };
            if touched.is_empty() {
                continue;
            }
            if st.position.reached(&p1) {
                during_capture = Some(st);
                break;
            }
            before_capture.tables.append(&mut touched.tables);
            before_capture.databases.append(&mut touched.databases);
        }
        if let Some(st) = during_capture {
            warn!(attempt, position = %st.position, statement = %crate::schema::ddl::without_literals(&st.sql, 80, false), "the schema changed while it was being captured; capturing again");
            continue;
        }

        let tables = live
            .databases
            .values()
            .map(|d| d.tables.len())
            .sum::<usize>();
        let mut base = live.clone();
        let mut unknown: Vec<(String, String)> = Vec::new();
        for (db, table) in &before_capture.tables {
            if base.table(db, table).is_some() {
                unknown.push((db.clone(), table.clone()));
            }
        }
        let mut unknown_databases: Vec<String> = Vec::new();
        for db in &before_capture.databases {
            if let Some(d) = base.databases.get_mut(db) {
                unknown.extend(d.tables.keys().map(|t| (db.clone(), t.clone())));
                // Its default charset may have been different at the start too.
                d.charset.clear();
                unknown_databases.push(db.clone());
            }
        }
        unknown_databases.sort();
        unknown_databases.dedup();
        unknown.sort();
        unknown.dedup();
        if trust_current && !(unknown.is_empty() && unknown_databases.is_empty()) {
            warn!(
                tables = unknown.len(),
                "tables changed since the start position are taken as they are now, as asked"
            );
            unknown.clear();
            unknown_databases.clear();
            base = live.clone();
        }
        let reason = format!(
            "a statement between the start position {start} and the schema capture at {p1} changed it, so its definition before {p1} is not known"
        );
        for (db, table) in &unknown {
            base.put_table(
                db,
                table,
                TableEntry::Unknown {
                    reason: reason.clone(),
                },
            );
        }
        let later = if unknown.is_empty() && unknown_databases.is_empty() {
            Vec::new()
        } else {
            let databases = unknown_databases.iter().map(|db| Change::Database {
                database: db.clone(),
                charset: live.databases.get(db).map(|d| d.charset.clone()),
            });
            let tables = unknown.iter().map(|(db, table)| Change::Table {
                database: db.clone(),
                table: table.clone(),
                entry: live.table(db, table).cloned(),
            });
            vec![Entry {
                position: p1.clone(),
                origin: Origin::Capture,
                statement: String::new(),
                changes: databases.chain(tables).collect(),
            }]
        };
        info!(
            at = %start,
            captured_at = %p1,
            tables,
            changed_since_start = unknown.len(),
            "schema captured from information_schema"
        );
        return TrackedSchema::create(
            store,
            Base {
                position: start.clone(),
                server_id: server.server_id,
                catalog: base,
            },
            later,
        )
        .map_err(|e| history_error(start, e));
    }
    Err(schema_error(SchemaError::Unstable { attempts: ATTEMPTS }))
}
