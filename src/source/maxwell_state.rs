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
