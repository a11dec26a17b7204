//! Scan: the statements (QUERY events) between two binlog positions, read ahead of the
//! pipeline.
//!
//! Used once, when the daemon has no schema history yet: the schema it captures from
//! `information_schema` is the schema of *now*, and the statements between the start
//! position and now say which tables may have looked different at the start.

use std::time::Duration;

use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::QueryEvent;

use super::query::statement_text;
use super::rotate::rotate_target;
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
        if from.reached(to) {
            return Ok(statements);
        }
        let mut events = self.stream_from(from, server).await?;
        let mut file = from.file.clone();
        loop {
            let event = match tokio::time::timeout(EVENT_TIMEOUT, events.next()).await {
                Ok(Some(event)) => event?,
                Ok(None) | Err(_) => {
                    events.close().await;
                    return Err(SourceError::ScanIncomplete {
                        from: from.to_string(),
                        to: to.to_string(),
                        reached: file,
                    });
                }
            };
            let header = event.header();
            if header.event_type_raw() == EventType::ROTATE_EVENT as u8 {
                if let Some(next) = rotate_target(&event) {
                    file = next.file;
                }
                continue;
            }
            let end = u64::from(header.log_pos());
            if end == 0 {
                continue;
            }
            let start = BinlogPosition::new(
                file.clone(),
                end.saturating_sub(u64::from(header.event_size())),
            );
            if start.reached(to) {
                break;
            }
            if header.event_type_raw() == EventType::QUERY_EVENT as u8
                && let Ok(query) = event.read_event::<QueryEvent<'_>>()
            {
                let (sql, readable) = match statement_text(&query) {
                    Ok(text) => (text, true),
                    Err(lossy) => (lossy, false),
                };
                let trimmed = sql.trim();
                let control = ["BEGIN", "COMMIT", "ROLLBACK", "XA ", "SAVEPOINT", "#"]
                    .iter()
                    .any(|kw| {
                        trimmed
                            .get(..kw.len())
                            .is_some_and(|head| head.eq_ignore_ascii_case(kw))
                    });
                if !control {
                    statements.push(Statement {
                        position: start,
                        database: query.schema().into_owned(),
                        sql: trimmed.to_owned(),
                        readable,
                    });
                }
            }
            if BinlogPosition::new(file.clone(), end).reached(to) {
                break;
            }
        }
        events.close().await;
        Ok(statements)
    }
}
