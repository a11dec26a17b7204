//! Maxwell's stored position, read once so that a switch from Maxwell loses nothing.
//!
//! Maxwell keeps where it stopped in `<schema_database>.positions`, one row per
//! `(server_id, client_id)`: the binlog file and offset after the last row it published
//! (Maxwell's `MysqlPositionStore`). A first start with `source.start = "maxwell"`
//! begins there, so the changes made between stopping Maxwell and starting binlog-relay are
//! published, not skipped. Read on the source server, which is where Maxwell keeps its
//! state unless it had a separate `replication_host`.

use mysql_async::prelude::Queryable;

use super::SourceError;
use super::{BinlogSource, MaxwellState};
use crate::position::BinlogPosition;

/// The server's error code for an unknown database.
const ER_BAD_DB_ERROR: u16 = 1049;
/// The server's error code for an unknown table.
const ER_NO_SUCH_TABLE: u16 = 1146;

impl BinlogSource {
    /// Maxwell's position for `state.client_id` on this server, or `None` when there is no
    /// Maxwell state on the server at all (no such database or table: Maxwell never ran
    /// here). A state without this client's row, or with a row from another server, is an
    /// error: starting anywhere else could skip changes.
    pub async fn maxwell_position(
        &self,
        state: &MaxwellState,
        server_id: u32,
    ) -> Result<Option<BinlogPosition>, SourceError> {
        let table = format!("`{}`.`positions`", state.database);
        let query = format!(
            "SELECT server_id, binlog_file, binlog_position FROM {table} WHERE client_id = ?"
        );
        let mut conn = self.conn().await?;
        let answer = self
            .bounded("SELECT FROM positions", async {
                Ok(conn.exec(query.as_str(), (state.client_id.as_str(),)).await)
            })
            .await?;
        let rows: Vec<(u64, Option<String>, Option<u64>)> = match answer {
            Ok(rows) => rows,
            Err(mysql_async::Error::Server(e))
                if e.code == ER_BAD_DB_ERROR || e.code == ER_NO_SUCH_TABLE =>
            {
                return Ok(None);
            }
            Err(source) => {
                return Err(SourceError::MaxwellPosition {
                    table,
                    message: source.to_string(),
                });
            }
        };
        // Maxwell writes server_id 0 in GTID mode; its file and offset are still this
        // server's unless the row names another server.
        let pick = rows
            .iter()
            .find(|(id, _, _)| *id == u64::from(server_id))
            .or_else(|| rows.iter().find(|(id, _, _)| *id == 0));
        match pick {
            Some((_, Some(file), Some(offset))) => {
                Ok(Some(BinlogPosition::new(file.clone(), *offset)))
            }
            Some(_) => Err(SourceError::MaxwellPosition {
                table,
                message: format!(
                    "the row for client_id {:?} holds no binlog file and offset; set \
                     source.start to the position Maxwell stopped at",
                    state.client_id
                ),
            }),
            None => match rows.first() {
                Some((other, _, _)) => Err(SourceError::MaxwellPosition {
                    table,
                    message: format!(
                        "the row for client_id {:?} was written on server_id {other}, but the \
                         source is server_id {server_id}: its binlog offsets do not apply here. \
                         Point source.host at that server, or set source.start to a position \
                         on this one",
                        state.client_id
                    ),
                }),
                None => Err(SourceError::MaxwellPosition {
                    table,
                    message: format!(
                        "there is no row for client_id {:?}: check client_id (Maxwell's \
                         default is \"maxwell\"), or set source.start = \"latest\" if Maxwell \
                         never ran with it",
                        state.client_id
                    ),
                }),
            },
        }
    }
}

/// The row Maxwell's `MysqlPositionStore.set` writes into `<schema_database>.positions`,
/// field for field: what `positions export-maxwell` writes so that Maxwell resumes where
/// binlog-relay stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxwellPositionRow {
    /// The server's `@@server_id`; 0 when Maxwell runs with `gtid_mode` (its
    /// `DEFAULT_GTID_SERVER_ID`).
    pub server_id: u32,
    pub client_id: String,
    pub binlog_file: String,
    pub binlog_position: u64,
    /// Only in GTID mode (Maxwell reads it back only then): MySQL's executed GTID set or
    /// MariaDB's GTID position.
    pub gtid_set: Option<String>,
    /// The last of Maxwell's own heartbeats read from the binlog. Maxwell writes no
    /// heartbeats while binlog-relay runs, so this is the last one it wrote.
    pub last_heartbeat_read: i64,
}

/// What `export_maxwell_position` found and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxwellExport {
    pub row: MaxwellPositionRow,
    /// Where Maxwell's row pointed before: where it stopped, and binlog-relay started.
    pub previous: Option<BinlogPosition>,
    /// Where Maxwell's newest stored schema for the server is (`schemas`), if it has one.
    pub schema_position: Option<BinlogPosition>,
}

impl BinlogSource {
    /// Writes `row` (its `last_heartbeat_read` filled in here) into Maxwell's `positions`
    /// table with the statement Maxwell's position store uses. Maxwell's tables must exist:
    /// if Maxwell never ran on this server there is nothing to roll back to, and it starts
    /// from `init_position` instead. `server_id` is the server's own id, under which
    /// Maxwell stores its schemas (in GTID mode too, where the position row has 0).
    pub async fn export_maxwell_position(
        &self,
        state: &MaxwellState,
        mut row: MaxwellPositionRow,
        server_id: u32,
    ) -> Result<MaxwellExport, SourceError> {
        let db = format!("`{}`", state.database.replace('`', "``"));
        let table = format!("{db}.`positions`");
        let failed = |message: String| SourceError::MaxwellExport {
            table: table.clone(),
            message,
        };
        let mut conn = self.conn().await?;
        // The last heartbeat Maxwell wrote for this client, else what its row says.
        let heartbeat_sql = format!(
            "SELECT heartbeat FROM {db}.`heartbeats` WHERE server_id = ? AND client_id = ?"
        );
        let args = (row.server_id, row.client_id.as_str());
        let heartbeat: Option<i64> = self
            .bounded("SELECT FROM heartbeats", async {
                Ok(conn.exec_first(heartbeat_sql.as_str(), args).await)
            })
            .await?
            .or_else(|e| missing_table(e).map(|()| None))
            .map_err(|e| failed(e.to_string()))?;
        let stored_sql = format!(
            "SELECT last_heartbeat_read, binlog_file, binlog_position FROM {table} \
             WHERE server_id = ? AND client_id = ?"
        );
        type Stored = (Option<i64>, Option<String>, Option<u64>);
        let stored: Option<Stored> = self
            .bounded("SELECT FROM positions", async {
                Ok(conn.exec_first(stored_sql.as_str(), args).await)
            })
            .await?
            .map_err(|e| match missing_table(e) {
                Ok(()) => failed(format!(
                    "Maxwell's state is not on this server (no `{}`.positions): Maxwell never \
                     ran here with schema_database {:?}, so there is no position to hand back. \
                     Start Maxwell with init_position={}:{}:{} instead",
                    state.database,
                    state.database,
                    row.binlog_file,
                    row.binlog_position,
                    row.last_heartbeat_read
                )),
                Err(e) => failed(e.to_string()),
            })?;
        let previous = stored
            .as_ref()
            .and_then(|(_, file, offset)| Some(BinlogPosition::new(file.clone()?, (*offset)?)));
        row.last_heartbeat_read = heartbeat
            .or(stored.as_ref().and_then(|(h, _, _)| *h))
            .unwrap_or(0);
        // A row only under the other key means Maxwell runs with the other gtid_mode: it
        // would read that stale row, not this one.
        let other_key = if row.server_id == 0 { server_id } else { 0 };
        if stored.is_none() && other_key != row.server_id {
            let other: Option<Option<String>> = self
                .bounded("SELECT FROM positions", async {
                    Ok(conn
                        .exec_first(
                            format!(
                                "SELECT binlog_file FROM {table} \
                                 WHERE server_id = ? AND client_id = ?"
                            )
                            .as_str(),
                            (other_key, row.client_id.as_str()),
                        )
                        .await)
                })
                .await?
                .map_err(|e| failed(e.to_string()))?;
            if other.is_some() {
                return Err(failed(format!(
                    "Maxwell's row for client_id {:?} is under server_id {other_key}, which                      means Maxwell runs with gtid_mode {}; set source.gtid_mode = {} to match                      it, or Maxwell would resume from its old row",
                    row.client_id,
                    if other_key == 0 { "on" } else { "off" },
                    other_key == 0
                )));
            }
        }
        let insert = format!(
            "INSERT INTO {table} SET server_id = ?, gtid_set = ?, binlog_file = ?, \
             binlog_position = ?, last_heartbeat_read = ?, client_id = ? \
             ON DUPLICATE KEY UPDATE last_heartbeat_read = ?, gtid_set = ?, binlog_file = ?, \
             binlog_position = ?"
        );
        let params: Vec<mysql_async::Value> = vec![
            row.server_id.into(),
            row.gtid_set.clone().into(),
            row.binlog_file.clone().into(),
            row.binlog_position.into(),
            row.last_heartbeat_read.into(),
            row.client_id.clone().into(),
            row.last_heartbeat_read.into(),
            row.gtid_set.clone().into(),
            row.binlog_file.clone().into(),
            row.binlog_position.into(),
        ];
        self.bounded("INSERT INTO positions", async {
            Ok(conn.exec_drop(insert.as_str(), params).await)
        })
        .await?
        .map_err(|e| failed(e.to_string()))?;
        // Maxwell's newest stored schema for the server: what it restores at its start.
        let schema_sql = format!(
            "SELECT binlog_file, binlog_position FROM {db}.`schemas` \
             WHERE server_id = ? AND deleted = 0 ORDER BY id DESC LIMIT 1"
        );
        let schema: Option<(String, u64)> = self
            .bounded("SELECT FROM schemas", async {
                Ok(conn.exec_first(schema_sql.as_str(), (server_id,)).await)
            })
            .await?
            .or_else(|e| missing_table(e).map(|()| None))
            .map_err(|e| failed(e.to_string()))?;
        Ok(MaxwellExport {
            row,
            previous,
            schema_position: schema.map(|(file, offset)| BinlogPosition::new(file, offset)),
        })
    }
}

/// `Ok` when `e` says the database or table does not exist; the error otherwise.
fn missing_table(e: mysql_async::Error) -> Result<(), mysql_async::Error> {
    match &e {
        mysql_async::Error::Server(s)
            if s.code == ER_BAD_DB_ERROR || s.code == ER_NO_SUCH_TABLE =>
        {
            Ok(())
        }
        _ => Err(e),
    }
}
