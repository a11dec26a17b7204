//! The checkpoint kept in the source database, where every instance of a pipeline can read
//! it: the store that lets a standby resume exactly where the leader stopped.
//!
//! One row per client id in `DATABASE.checkpoints`, created on first use. Writes run on the
//! leader lock's own session and only while it holds the lock ([`Lease::fenced`]): a leader
//! that lost its lock cannot move the checkpoint a new leader relies on. The row also says
//! who leads (host and pid, the session's connection id, since when), for `check` and
//! operators.

use std::sync::Arc;

use futures_util::FutureExt;
use mysql_async::prelude::Queryable;

use super::{Checkpoint, CheckpointError, CheckpointStore};
use crate::source::lease::{self, Lease, LeaseError};

/// The table's definition; `{db}` is the configured database.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS `{db}`.`checkpoints` (
  client_id VARCHAR(64) NOT NULL PRIMARY KEY,
  checkpoint TEXT NULL COMMENT 'JSON: position, gtid, server_id, gtid_position, server_uuid',
  leader VARCHAR(255) NOT NULL DEFAULT '' COMMENT 'host and pid of the instance holding the lock',
  leader_connection BIGINT UNSIGNED NULL,
  leader_since TIMESTAMP(6) NULL,
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

/// Creates the database and the state tables (this one and the schema history's) if they
/// are missing.
pub async fn create_tables(
    conn: &mut mysql_async::Conn,
    database: &str,
) -> Result<(), mysql_async::Error> {
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{database}` DEFAULT CHARACTER SET utf8mb4"
    ))
    .await?;
    conn.query_drop(CREATE_TABLE.replace("{db}", database))
        .await?;
    crate::schema::history::database::create_table(conn, database).await
}

/// What the table says about a pipeline, read by anyone (no lock needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub checkpoint: Option<Checkpoint>,
    pub leader: String,
    pub leader_connection: Option<u64>,
    pub leader_since: Option<String>,
}

/// The columns `read` selects: checkpoint, leader, leader_connection, leader_since.
type RawRow = (Option<String>, String, Option<u64>, Option<String>);

/// Reads the pipeline's row on any session; `None` when there is none (or no table yet).
pub async fn read(
    conn: &mut mysql_async::Conn,
    database: &str,
    client_id: &str,
) -> Result<Option<Row>, CheckpointError> {
    let query = format!(
        "SELECT checkpoint, leader, leader_connection, CAST(leader_since AS CHAR) FROM `{database}`.`checkpoints` WHERE client_id = ?"
    );
    let row: Option<RawRow> = match conn.exec_first(query, (client_id,)).await {
        Ok(row) => row,
        // No such table yet (1146) or database (1049): nothing saved.
        Err(mysql_async::Error::Server(e)) if e.code == 1146 || e.code == 1049 => None,
        Err(e) => return Err(database_error(database, e)),
    };
    let Some((text, leader, leader_connection, leader_since)) = row else {
        return Ok(None);
    };
    let checkpoint = match text {
        Some(text) => Some(parse(database, client_id, &text)?),
        None => None,
    };
    Ok(Some(Row {
        checkpoint,
        leader,
        leader_connection,
        leader_since,
    }))
}

fn parse(database: &str, client_id: &str, text: &str) -> Result<Checkpoint, CheckpointError> {
    serde_json::from_str(text).map_err(|e| CheckpointError::Corrupt {
        path: format!("{database}.checkpoints, client_id {client_id:?}").into(),
        message: e.to_string(),
    })
}

fn database_error(database: &str, e: mysql_async::Error) -> CheckpointError {
    CheckpointError::Database {
        database: database.to_owned(),
        message: e.to_string(),
    }
}

/// The checkpoint of one client id, written through the leader's lease.
#[derive(Clone)]
pub struct DatabaseStore {
    lease: Arc<Lease>,
    database: String,
    client_id: String,
}

impl DatabaseStore {
    /// A handle on a store [`DatabaseStore::open`] has set up under the same lease.
    pub fn from_parts(lease: Arc<Lease>, database: &str, client_id: &str) -> Self {
        Self {
            lease,
            database: database.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    /// Creates the state tables if needed and records this instance as the pipeline's
    /// leader.
    pub async fn open(
        lease: Arc<Lease>,
        database: &str,
        client_id: &str,
    ) -> Result<Self, CheckpointError> {
        let holder = lease.holder().to_owned();
        let db = database.to_owned();
        let id = client_id.to_owned();
        lease
            .fenced(move |conn, name| {
                async move {
                    create_tables(conn, &db).await.map_err(LeaseError::Query)?;
                    lease::guarded_write(
                        conn,
                        format!(
                            "INSERT INTO `{db}`.`checkpoints` (client_id, leader, leader_connection, leader_since) \
                             SELECT ?, ?, CONNECTION_ID(), NOW(6) FROM DUAL WHERE IS_USED_LOCK(?) = CONNECTION_ID() \
                             ON DUPLICATE KEY UPDATE leader = VALUES(leader), leader_connection = VALUES(leader_connection), leader_since = VALUES(leader_since)"
                        ),
                        (&id, &holder, name),
                        name,
                    )
                    .await
                }
                .boxed()
            })
            .await?;
        Ok(Self {
            lease,
            database: database.to_owned(),
            client_id: client_id.to_owned(),
        })
    }
}

impl CheckpointStore for DatabaseStore {
    fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let (db, id) = (self.database.clone(), self.client_id.clone());
        let text = lease::block_on(self.lease.fenced(move |conn, _| {
            async move {
                conn.exec_first::<Option<String>, _, _>(
                    format!("SELECT checkpoint FROM `{db}`.`checkpoints` WHERE client_id = ?"),
                    (&id,),
                )
                .await
                .map(Option::flatten)
                .map_err(LeaseError::Query)
            }
            .boxed()
        }))??;
        text.map(|t| parse(&self.database, &self.client_id, &t))
            .transpose()
    }

    fn save(&mut self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let body = serde_json::to_string(checkpoint).map_err(|e| CheckpointError::Database {
            database: self.database.clone(),
            message: e.to_string(),
        })?;
        let (db, id) = (self.database.clone(), self.client_id.clone());
        lease::block_on(self.lease.fenced(move |conn, name| {
            async move {
                // updated_at changes on every save, so one row is affected whenever the
                // guard holds, and none when it does not.
                lease::guarded_write(
                    conn,
                    format!(
                        "UPDATE `{db}`.`checkpoints` SET checkpoint = ?, updated_at = NOW(6) \
                         WHERE client_id = ? AND IS_USED_LOCK(?) = CONNECTION_ID()"
                    ),
                    (&body, &id, name),
                    name,
                )
                .await
            }
            .boxed()
        }))??;
        Ok(())
    }
}
