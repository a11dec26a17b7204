//! Bootstrap requests: rows of Maxwell's `bootstrap` table in its schema database.
//!
//! Why Maxwell's table: a request written by Maxwell's own `maxwell-bootstrap` utility, or by
//! hand with its SQL, must work unchanged, and the daemon sees every request through the
//! binlog, in order with the data. The layout and the meaning of the progress columns are
//! Maxwell's (`started_at`, `inserted_rows`, `total_rows` as the utility counts it,
//! `is_complete`, `completed_at`); `client_id` says which pipeline runs it.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use serde::Deserialize;

use super::{SnapshotError, TablePlan, quote};
use crate::section::ConfigError;

/// `[bootstrap]`: where requests are kept and which are this pipeline's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapConfig {
    /// The database holding the `bootstrap` table: Maxwell's `schema_database`.
    pub database: String,
    /// Requests with this `client_id` are run by this pipeline; others are left alone.
    pub client_id: String,
    /// Rows per chunk: each is one query between two watermarks. Larger chunks read faster
    /// and hold more in memory.
    pub chunk_rows: usize,
    /// The most a chunk holds, in MiB of row data: wide rows make smaller chunks.
    pub chunk_mb: usize,
    /// A pause between chunks, to spare a busy source server (0: none).
    pub pause_ms: u64,
    /// On a first start (no checkpoint), request a bootstrap of every table the filter
    /// passes, then stream: consumers start from whole tables.
    pub initial: bool,
}

/// The default rows per chunk.
pub const DEFAULT_CHUNK_ROWS: usize = 5_000;
const MAX_CHUNK_ROWS: usize = 1_000_000;
const DEFAULT_CHUNK_MB: usize = 8;
const MAX_CHUNK_MB: usize = 1024;

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            database: "maxwell".into(),
            client_id: "maxwell".into(),
            chunk_rows: DEFAULT_CHUNK_ROWS,
            chunk_mb: DEFAULT_CHUNK_MB,
            pause_ms: 0,
            initial: false,
        }
    }
}

impl BootstrapConfig {
    /// `chunk_mb` in bytes.
    pub fn chunk_bytes(&self) -> usize {
        self.chunk_mb.saturating_mul(1024 * 1024)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::section::plain_database("bootstrap.database", &self.database)?;
        if self.client_id.is_empty() || self.client_id.len() > 255 {
            return Err(ConfigError::key(
                "bootstrap.client_id",
                "must be 1 to 255 characters (Maxwell's client_id column)",
            ));
        }
        if !(1..=MAX_CHUNK_ROWS).contains(&self.chunk_rows) {
            return Err(ConfigError::key(
                "bootstrap.chunk_rows",
                format!("must be 1 to {MAX_CHUNK_ROWS} rows"),
            ));
        }
        if !(1..=MAX_CHUNK_MB).contains(&self.chunk_mb) {
            return Err(ConfigError::key(
                "bootstrap.chunk_mb",
                format!("must be 1 to {MAX_CHUNK_MB} (MiB)"),
            ));
        }
        if self.pause_ms > 60_000 {
            return Err(ConfigError::key(
                "bootstrap.pause_ms",
                "must be at most 60000 (milliseconds between chunks)",
            ));
        }
        Ok(())
    }
}

/// A request to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub database: String,
    pub table: String,
    /// SQL, as the operator wrote it: `--where`.
    pub condition: Option<String>,
    pub comment: Option<String>,
}

/// A request as its row stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: u64,
    pub database: String,
    pub table: String,
    pub condition: Option<String>,
    pub complete: bool,
    pub inserted_rows: u64,
    pub total_rows: u64,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub comment: Option<String>,
}

fn failed(query: &'static str) -> impl FnOnce(mysql_async::Error) -> SnapshotError {
    move |source| SnapshotError::Query { query, source }
}

/// Creates the schema database and the `bootstrap` table when they are missing, in
/// Maxwell's layout.
pub async fn ensure_table(conn: &mut Conn, database: &str) -> Result<(), SnapshotError> {
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS {}", quote(database)))
        .await
        .map_err(failed("CREATE DATABASE"))?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {}.`bootstrap` (\
         id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, \
         database_name varchar(255) CHARACTER SET utf8 NOT NULL, \
         table_name varchar(255) CHARACTER SET utf8 NOT NULL, \
         where_clause text DEFAULT NULL, \
         is_complete tinyint(1) unsigned NOT NULL DEFAULT 0, \
         inserted_rows bigint unsigned NOT NULL DEFAULT 0, \
         total_rows bigint unsigned NOT NULL DEFAULT 0, \
         created_at datetime DEFAULT NULL, \
         started_at datetime DEFAULT NULL, \
         completed_at datetime DEFAULT NULL, \
         binlog_file varchar(255) DEFAULT NULL, \
         binlog_position int unsigned DEFAULT 0, \
         client_id varchar(255) CHARACTER SET latin1 NOT NULL DEFAULT 'maxwell', \
         comment varchar(255) CHARACTER SET utf8 DEFAULT NULL)",
        quote(database)
    ))
    .await
    .map_err(failed("CREATE TABLE bootstrap"))?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {}.{MARKS_TABLE} (\
         client_id varchar(255) CHARACTER SET latin1 NOT NULL PRIMARY KEY, \
         run varchar(32) CHARACTER SET latin1 NOT NULL, \
         request_id bigint unsigned NOT NULL, \
         chunk bigint unsigned NOT NULL, \
         mark varchar(8) CHARACTER SET latin1 NOT NULL)",
        quote(database)
    ))
    .await
    .map_err(failed("CREATE TABLE bootstrap_marks"))
}

/// The table of watermarks: one row per client id, rewritten at every mark, so that each
/// mark is a row event in the binlog at the exact place the worker wrote it.
pub const MARKS_TABLE: &str = "bootstrap_marks";

/// A watermark: where the worker stands in the binlog's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The request begins (its `started_at` is set in the same transaction).
    Start,
    /// A chunk is about to be read.
    Low,
    /// The chunk was read (its `inserted_rows` is updated in the same transaction).
    High,
    /// The request is complete.
    Done,
}

impl Mark {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Low => "low",
            Self::High => "high",
            Self::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "low" => Self::Low,
            "high" => Self::High,
            "done" => Self::Done,
            _ => return None,
        })
    }
}

/// Marks a request complete (`is_complete`, `completed_at`): once every message of it is
/// confirmed and the checkpoint past them is saved, so that a restart never takes a
/// request as done whose messages could still be lost.
pub async fn complete(
    conn: &mut Conn,
    config: &BootstrapConfig,
    request_id: u64,
) -> Result<(), SnapshotError> {
    conn.exec_drop(
        format!(
            "UPDATE {}.`bootstrap` SET is_complete = 1, completed_at = NOW() WHERE id = ?",
            quote(&config.database)
        ),
        (request_id,),
    )
    .await
    .map_err(failed("UPDATE bootstrap"))
}

/// Writes a mark, with the request's progress columns, in one transaction.
pub async fn write_mark(
    conn: &mut Conn,
    config: &BootstrapConfig,
    run: &str,
    request_id: u64,
    chunk: u64,
    mark: Mark,
    inserted_rows: u64,
) -> Result<(), SnapshotError> {
    let db = quote(&config.database);
    let progress = match mark {
        Mark::Start => "started_at = NOW(), inserted_rows = ?".to_owned(),
        Mark::Low | Mark::High => "inserted_rows = ?".to_owned(),
        // Complete only once its messages are confirmed ([`complete`]).
        Mark::Done => "inserted_rows = ?".to_owned(),
    };
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .map_err(failed("START TRANSACTION"))?;
    if mark != Mark::Low {
        tx.exec_drop(
            format!("UPDATE {db}.`bootstrap` SET {progress} WHERE id = ?"),
            (inserted_rows, request_id),
        )
        .await
        .map_err(failed("UPDATE bootstrap"))?;
    }
    // A fresh insert every time: its row image is whole even where the server logs only
    // changed columns of an update (binlog_row_image=MINIMAL).
    tx.exec_drop(
        format!("DELETE FROM {db}.{MARKS_TABLE} WHERE client_id = ?"),
        (&config.client_id,),
    )
    .await
    .map_err(failed("DELETE FROM bootstrap_marks"))?;
    tx.exec_drop(
        format!(
            "INSERT INTO {db}.{MARKS_TABLE} (client_id, run, request_id, chunk, mark) VALUES (?, ?, ?, ?, ?)"
        ),
        (&config.client_id, run, request_id, chunk, mark.as_str()),
    )
    .await
    .map_err(failed("INSERT INTO bootstrap_marks"))?;
    tx.commit().await.map_err(failed("COMMIT"))
}

/// One request of this pipeline as its row stands now; `None` once deleted.
pub async fn get(
    conn: &mut Conn,
    config: &BootstrapConfig,
    id: u64,
) -> Result<Option<RequestRow>, SnapshotError> {
    Ok(select(conn, config, Some(id)).await?.pop())
}

/// This pipeline's requests not yet complete, oldest first: after a restart they run again.
pub async fn incomplete(
    conn: &mut Conn,
    config: &BootstrapConfig,
) -> Result<Vec<RequestRow>, SnapshotError> {
    Ok(list(conn, config)
        .await?
        .into_iter()
        .filter(|r| !r.complete)
        .collect())
}

/// Checks that the table can be bootstrapped, counts its rows (as Maxwell's utility does,
/// for `total_rows`), and writes the request. Returns it as written.
pub async fn submit(
    conn: &mut Conn,
    config: &BootstrapConfig,
    request: &NewRequest,
) -> Result<RequestRow, SnapshotError> {
    // Refused here rather than by the daemon later: no such table, or one this version
    // cannot read in key order.
    TablePlan::load(
        conn,
        &request.database,
        &request.table,
        request.condition.clone(),
    )
    .await?;
    let mut count = format!(
        "SELECT COUNT(*) FROM {}.{}",
        quote(&request.database),
        quote(&request.table)
    );
    if let Some(condition) = &request.condition {
        count.push_str(&format!(" WHERE ({condition})"));
    }
    let total: Option<u64> = conn.query_first(count).await.map_err(failed(
        "SELECT COUNT(*) (is the --where condition valid SQL?)",
    ))?;
    ensure_table(conn, &config.database).await?;
    conn.exec_drop(
        format!(
            "INSERT INTO {}.`bootstrap` (database_name, table_name, where_clause, total_rows, client_id, comment) \
             VALUES (?, ?, ?, ?, ?, ?)",
            quote(&config.database)
        ),
        (
            &request.database,
            &request.table,
            &request.condition,
            total.unwrap_or(0),
            &config.client_id,
            &request.comment,
        ),
    )
    .await
    .map_err(failed("INSERT INTO bootstrap"))?;
    let id = conn.last_insert_id().unwrap_or(0);
    let mut rows = select(conn, config, Some(id)).await?;
    rows.pop().ok_or(SnapshotError::Query {
        query: "SELECT FROM bootstrap",
        source: mysql_async::Error::Other("the request just written is not there".into()),
    })
}

/// The comment of the requests an initial snapshot writes.
pub const INITIAL_COMMENT: &str = "initial snapshot";

/// Requests a bootstrap of each of `tables` (database, table) for the initial snapshot,
/// with the server's estimate of each table's rows as `total_rows` (counting every table
/// could take long), skipping tables that already have an incomplete request of this
/// pipeline (an earlier first start that did not get to save its checkpoint). Returns how
/// many were written.
pub async fn submit_initial(
    conn: &mut Conn,
    config: &BootstrapConfig,
    tables: &[(String, String)],
) -> Result<usize, SnapshotError> {
    ensure_table(conn, &config.database).await?;
    // A waiting request with a condition covers only part of its table.
    let waiting: std::collections::HashSet<(String, String)> = incomplete(conn, config)
        .await?
        .into_iter()
        .filter(|r| r.condition.as_deref().is_none_or(|c| c.trim().is_empty()))
        .map(|r| (r.database, r.table))
        .collect();
    let mut written = 0;
    for (database, table) in tables {
        if waiting.contains(&(database.clone(), table.clone())) {
            continue;
        }
        conn.exec_drop(
            format!(
                "INSERT INTO {}.`bootstrap` (database_name, table_name, total_rows, client_id, comment) \
                 SELECT ?, ?, COALESCE((SELECT TABLE_ROWS FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?), 0), ?, ?",
                quote(&config.database)
            ),
            (
                database,
                table,
                database,
                table,
                &config.client_id,
                INITIAL_COMMENT,
            ),
        )
        .await
        .map_err(failed("INSERT INTO bootstrap"))?;
        written += 1;
    }
    Ok(written)
}

/// This pipeline's requests, oldest first.
pub async fn list(
    conn: &mut Conn,
    config: &BootstrapConfig,
) -> Result<Vec<RequestRow>, SnapshotError> {
    let exists: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'bootstrap'",
            (&config.database,),
        )
        .await
        .map_err(failed("SELECT FROM information_schema.TABLES"))?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    select(conn, config, None).await
}

async fn select(
    conn: &mut Conn,
    config: &BootstrapConfig,
    id: Option<u64>,
) -> Result<Vec<RequestRow>, SnapshotError> {
    // Every column may be NULL in a table made by hand: nothing here may assume otherwise.
    type Row = (
        Option<u64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u8>,
        Option<u64>,
        Option<u64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT id, database_name, table_name, where_clause, is_complete, inserted_rows, total_rows, \
                 DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s'), DATE_FORMAT(completed_at, '%Y-%m-%d %H:%i:%s'), comment \
                 FROM {}.`bootstrap` WHERE client_id = ? AND (? IS NULL OR id = ?) ORDER BY id",
                quote(&config.database)
            ),
            (&config.client_id, id, id),
        )
        .await
        .map_err(failed("SELECT FROM bootstrap"))?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                database,
                table,
                condition,
                complete,
                inserted_rows,
                total_rows,
                started_at,
                completed_at,
                comment,
            )| RequestRow {
                id: id.unwrap_or(0),
                database: database.unwrap_or_default(),
                table: table.unwrap_or_default(),
                condition,
                complete: complete.unwrap_or(0) != 0,
                inserted_rows: inserted_rows.unwrap_or(0),
                total_rows: total_rows.unwrap_or(0),
                started_at,
                completed_at,
                comment,
            },
        )
        .collect())
}

impl RequestRow {
    /// `waiting`, `running` or `complete`.
    pub fn state(&self) -> &'static str {
        match (self.complete, &self.started_at) {
            (true, _) => "complete",
            (false, Some(_)) => "running",
            (false, None) => "waiting",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_and_the_pause_are_checked() {
        assert!(BootstrapConfig::default().validate().is_ok());
        for (config, key) in [
            (
                BootstrapConfig {
                    chunk_rows: 0,
                    ..Default::default()
                },
                "bootstrap.chunk_rows",
            ),
            (
                BootstrapConfig {
                    chunk_rows: 1_000_001,
                    ..Default::default()
                },
                "bootstrap.chunk_rows",
            ),
            (
                BootstrapConfig {
                    chunk_mb: 0,
                    ..Default::default()
                },
                "bootstrap.chunk_mb",
            ),
            (
                BootstrapConfig {
                    pause_ms: 60_001,
                    ..Default::default()
                },
                "bootstrap.pause_ms",
            ),
        ] {
            let error = config.validate().expect_err("refused").to_string();
            assert!(error.contains(key), "{error}");
        }
        assert_eq!(BootstrapConfig::default().chunk_bytes(), 8 * 1024 * 1024);
    }
}
