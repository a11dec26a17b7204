//! Scan: reading a range of the binlog ahead of the pipeline, for the statements (QUERY
//! events) in it or for the MySQL GTIDs before a position.
//!
//! Used once, when the daemon has no schema history yet: the schema it captures from
//! `information_schema` is the schema of *now*, and the statements between the start
//! position and now say which tables may have looked different at the start.

use std::time::Duration;

use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{Event, GtidEvent, PreviousGtidsEvent, QueryEvent};

use super::mysql_gtid::GtidSet;
use super::query::statement_text;
use super::rotate::rotate_target;
use super::{BinlogSource, ServerInfo, SourceError};
use crate::position::{BinlogPosition, FIRST_EVENT_OFFSET};

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
        })
        .await?;
        Ok(statements)
    }

    /// A MySQL server's executed GTID set at `position`: its binlog file's PREVIOUS_GTIDS
    /// plus the GTIDs in the file before `position`. `None` when the server does not use
    /// GTIDs (`gtid_mode` is not ON) or is MariaDB, which has its own GTID positions.
    pub async fn mysql_gtids_at(
        &self,
        position: &BinlogPosition,
        server: &ServerInfo,
    ) -> Result<Option<GtidSet>, SourceError> {
        if server.is_mariadb || !self.mysql_gtid_mode_on().await? {
            return Ok(None);
        }
        let file_start = BinlogPosition::new(position.file.clone(), FIRST_EVENT_OFFSET);
        let mut set = GtidSet::default();
        let mut error = None;
        self.each_event_between(&file_start, position, server, |event, start| {
            let code = event.header().event_type_raw();
            if code == EventType::PREVIOUS_GTIDS_EVENT as u8 {
                match event.read_event::<PreviousGtidsEvent<'_>>() {
                    Ok(previous) => set = GtidSet::from_previous(&previous),
                    Err(e) => error = Some((start, e.to_string())),
                }
            } else if code == EventType::GTID_EVENT as u8
                || code == EventType::GTID_TAGGED_LOG_EVENT as u8
            {
                match event.read_event::<GtidEvent>() {
                    Ok(gtid) => set.add(
                        gtid.sid(),
                        gtid.tag().map(|t| t.to_string()).as_deref(),
                        gtid.gno(),
                    ),
                    Err(e) => error = Some((start, e.to_string())),
                }
            }
        })
        .await?;
        match error {
            Some((at, message)) => Err(SourceError::GtidScan {
                position: at,
                message,
            }),
            None => Ok(Some(set)),
        }
    }

    /// Calls `visit` with every event in `[from, to)` and the position it starts at.
    async fn each_event_between(
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
            visit(&event, start);
            if BinlogPosition::new(file.clone(), end).reached(to) {
                break;
            }
        }
        events.close().await;
        Ok(())
    }
}
