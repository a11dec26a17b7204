//! Scan: reading a range of the binlog ahead of the pipeline, for the statements (QUERY
//! events) in it or for the MySQL GTIDs before a position (`gtid::server`).
//!
//! Used once, when the daemon has no schema history yet: the schema it captures from
//! `information_schema` is the schema of *now*, and the statements between the start
//! position and now say which tables may have looked different at the start.

use std::time::Duration;

use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{Event, QueryEvent};

use super::event::{Follower, StatementKind};
use super::query::statement_text;
use super::{BinlogSource, ServerInfo, SourceError};
use crate::position::BinlogPosition;

/// How long the scan waits for the next event before deciding the server will not send
/// the rest of the range.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A statement from a QUERY event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Start of the event.
    pub position: BinlogPosition,
    /// The session's database.
    pub database: String,
    pub sql: String,
    /// Whether the text decoded in the session's charset; if not, `sql` is lossy.
    pub readable: bool,
}

impl BinlogSource {
    /// The statements in `[from, to)`, transaction control (`BEGIN`, `COMMIT`, ...) left out.
    pub async fn statements_between(
        &self,
        from: &BinlogPosition,
        to: &BinlogPosition,
        server: &ServerInfo,
    ) -> Result<Vec<Statement>, SourceError> {
        let mut statements = Vec::new();
        self.each_event_between(from, to, server, |event, start| {
            if event.header().event_type_raw() != EventType::QUERY_EVENT as u8 {
                return;
            }
            let Ok(query) = event.read_event::<QueryEvent<'_>>() else {
                return;
            };
            let (sql, readable) = match statement_text(&query) {
                Ok(text) => (text, true),
                Err(lossy) => (lossy, false),
            };
            let trimmed = sql.trim();
            let control = StatementKind::classify(trimmed).is_control();
            if !control {
                statements.push(Statement {
                    position: start,
                    database: query.schema().into_owned(),
                    sql: trimmed.to_owned(),
                    readable,
                });
            }
        })
        .await?;
        Ok(statements)
    }

    /// Calls `visit` with every event in `[from, to)` and the position it starts at.
    pub(super) async fn each_event_between(
        &self,
        from: &BinlogPosition,
        to: &BinlogPosition,
        server: &ServerInfo,
        mut visit: impl FnMut(&Event, BinlogPosition),
    ) -> Result<(), SourceError> {
        if from.reached(to) {
            return Ok(());
        }
        let mut events = self.stream_from(from, server).await?;
        let mut follower = Follower::new(from.clone());
        loop {
            let incomplete = |follower: &Follower| SourceError::ScanIncomplete {
                from: from.to_string(),
                to: to.to_string(),
                reached: follower.position().file.clone(),
            };
            let event = match tokio::time::timeout(EVENT_TIMEOUT, events.next()).await {
                Ok(Some(event)) => event?,
                Ok(None) | Err(_) => {
                    events.close().await;
                    return Err(incomplete(&follower));
                }
            };
            let located = match follower.follow(&event) {
                Ok(located) => located,
                Err(e) => {
                    events.close().await;
                    return Err(SourceError::ScanEvent {
                        position: follower.position().clone(),
                        message: format!("ROTATE event: {e}"),
                    });
                }
            };
            if located.rotated_from.is_some() {
                continue;
            }
            let Some(start) = located.start else {
                continue;
            };
            if start.reached(to) {
                break;
            }
            let end = BinlogPosition::new(start.file.clone(), u64::from(event.header().log_pos()));
            visit(&event, start);
            if end.reached(to) {
                break;
            }
        }
        events.close().await;
        Ok(())
    }
}
