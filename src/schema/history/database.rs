//! The schema history in the source database, beside the database checkpoint store, so a
//! standby that takes over rebuilds the catalog of the leader's last checkpoint.
//!
//! `DATABASE.schema_history` holds one row per item of a client id's history: `seq` 0 is
//! the base catalog, 1, 2, ... the entries in order, each as the same JSON the file store
//! writes on a line. Writes run on the leader lock's session, guarded by
//! `IS_USED_LOCK(name) = CONNECTION_ID()`: a leader that lost its lock cannot change the
//! history a new leader reads. A replacement is one transaction.

use std::sync::Arc;

use futures_util::FutureExt;
use mysql_async::prelude::Queryable;

use super::{Base, Entry, History, HistoryError, HistoryStore};
use crate::source::lease::{self, Lease, LeaseError};

/// A history replaced in one transaction is written this many rows, or bytes of entries,
/// per statement at most.
const REPLACE_BATCH_ROWS: usize = 500;
const REPLACE_BATCH_BYTES: usize = 1 << 20;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS `{db}`.`schema_history` (
  client_id VARCHAR(64) NOT NULL,
  seq BIGINT UNSIGNED NOT NULL COMMENT '0: the base catalog; then the entries in order',
  body LONGTEXT NOT NULL COMMENT 'JSON, as in schema-history.jsonl',
  PRIMARY KEY (client_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/// Creates the table if it is missing, in a database that exists (the checkpoint store
/// makes the database and both tables on first use).
pub async fn create_table(
    conn: &mut mysql_async::Conn,
    database: &str,
) -> Result<(), mysql_async::Error> {
    conn.query_drop(CREATE_TABLE.replace("{db}", database))
        .await
}

/// One client id's history, written through the leader's lease.
#[derive(Clone)]
pub struct DatabaseHistoryStore {
    lease: Arc<Lease>,
    database: String,
    client_id: String,
}

impl DatabaseHistoryStore {
    /// The store; its table is made by [`create_table`] first.
    pub fn new(lease: Arc<Lease>, database: &str, client_id: &str) -> Self {
        Self {
            lease,
            database: database.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    fn corrupt(&self, seq: u64, message: impl ToString) -> HistoryError {
        HistoryError::Corrupt {
            path: format!("{}.schema_history", self.database),
            line: usize::try_from(seq).unwrap_or(usize::MAX),
            message: message.to_string(),
        }
    }

    fn run<T>(
        &self,
        op: impl for<'c> FnOnce(
            &'c mut mysql_async::Conn,
            &'c str,
        ) -> futures_util::future::BoxFuture<'c, Result<T, LeaseError>>,
    ) -> Result<T, HistoryError> {
        lease::block_on(self.lease.fenced(op))
            .and_then(|r| r)
            .map_err(|e| error(&self.database, e))
    }
}

fn error(database: &str, e: LeaseError) -> HistoryError {
    HistoryError::Io {
        path: format!("{database}.schema_history"),
        source: std::io::Error::other(e),
    }
}

/// Fails unless this session holds the lock: the guard for the statements after it in the
/// same transaction.
async fn holds(conn: &mut impl Queryable, name: &str) -> Result<(), LeaseError> {
    let held: Option<Option<i64>> = conn
        .exec_first("SELECT IS_USED_LOCK(?) = CONNECTION_ID()", (name,))
        .await
        .map_err(LeaseError::Query)?;
    if held.flatten() == Some(1) {
        Ok(())
    } else {
        Err(LeaseError::Lost {
            name: name.to_owned(),
        })
    }
}

impl HistoryStore for DatabaseHistoryStore {
    fn load(&mut self) -> Result<Option<History>, HistoryError> {
        let (db, id) = (self.database.clone(), self.client_id.clone());
        let rows: Vec<(u64, String)> = self.run(move |conn, _| {
            async move {
                conn.exec(
                    format!(
                        "SELECT seq, body FROM `{db}`.`schema_history` WHERE client_id = ? ORDER BY seq"
                    ),
                    (&id,),
                )
                .await
                .map_err(LeaseError::Query)
            }
            .boxed()
        })?;
        let mut rows = rows.into_iter();
        let Some((seq, first)) = rows.next() else {
            return Ok(None);
        };
        if seq != 0 {
            return Err(self.corrupt(seq, "the base catalog (seq 0) is missing"));
        }
        let base: Base = serde_json::from_str(&first).map_err(|e| self.corrupt(0, e))?;
        let mut entries = Vec::new();
        for (seq, body) in rows {
            entries.push(serde_json::from_str::<Entry>(&body).map_err(|e| self.corrupt(seq, e))?);
        }
        Ok(Some(History { base, entries }))
    }

    fn replace(&mut self, history: &History) -> Result<(), HistoryError> {
        let mut bodies = Vec::with_capacity(history.entries.len() + 1);
        bodies.push(serde_json::to_string(&history.base).map_err(|e| self.corrupt(0, e))?);
        for (i, entry) in history.entries.iter().enumerate() {
            bodies.push(serde_json::to_string(entry).map_err(|e| self.corrupt(i as u64 + 1, e))?);
        }
        let (db, id) = (self.database.clone(), self.client_id.clone());
        self.run(move |conn, name| {
            async move {
                let mut tx = conn
                    .start_transaction(mysql_async::TxOpts::default())
                    .await
                    .map_err(LeaseError::Query)?;
                holds(&mut tx, name).await?;
                tx.exec_drop(
                    format!("DELETE FROM `{db}`.`schema_history` WHERE client_id = ?"),
                    (&id,),
                )
                .await
                .map_err(LeaseError::Query)?;
                // Several rows per statement: one round trip per entry made a long history
                // outlast the lease keeper's patience (it cannot ping while this runs).
                let mut start = 0;
                while start < bodies.len() {
                    let mut end = start;
                    let mut bytes = 0;
                    while end < bodies.len()
                        && (end == start
                            || (bytes + bodies[end].len() <= REPLACE_BATCH_BYTES
                                && end - start < REPLACE_BATCH_ROWS))
                    {
                        bytes += bodies[end].len();
                        end += 1;
                    }
                    let rows = vec!["(?, ?, ?)"; end - start].join(", ");
                    let mut params: Vec<mysql_async::Value> = Vec::with_capacity(3 * (end - start));
                    for (seq, body) in bodies.iter().enumerate().take(end).skip(start) {
                        params.push(id.as_str().into());
                        params.push((seq as u64).into());
                        params.push(body.as_str().into());
                    }
                    tx.exec_drop(
                        format!(
                            "INSERT INTO `{db}`.`schema_history` (client_id, seq, body) VALUES {rows}"
                        ),
                        params,
                    )
                    .await
                    .map_err(LeaseError::Query)?;
                    start = end;
                }
                tx.commit().await.map_err(LeaseError::Query)
            }
            .boxed()
        })
    }

    fn append(&mut self, entry: &Entry) -> Result<(), HistoryError> {
        let body = serde_json::to_string(entry).map_err(|e| self.corrupt(0, e))?;
        let (db, id) = (self.database.clone(), self.client_id.clone());
        self.run(move |conn, name| {
            async move {
                lease::guarded_write(
                    conn,
                    format!(
                        "INSERT INTO `{db}`.`schema_history` (client_id, seq, body) \
                         SELECT ?, next.seq, ? FROM \
                         (SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM `{db}`.`schema_history` WHERE client_id = ?) AS next \
                         WHERE IS_USED_LOCK(?) = CONNECTION_ID()"
                    ),
                    (&id, &body, &id, name),
                    name,
                )
                .await
            }
            .boxed()
        })
    }
}
