//! What the server is asked about GTIDs: the GTID state at a binlog position, and where a
//! MariaDB GTID position continues in this server's binlog (after a failover).

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn};
use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{GtidEvent, PreviousGtidsEvent};

use super::{GtidPosition, GtidSet, GtidState};
use crate::position::{BinlogPosition, FIRST_EVENT_OFFSET};
use crate::source::event::{self, Follower};
use crate::source::{BinlogSource, ServerInfo, SourceError};

/// How long to wait for the first transaction after a GTID position.
const GTID_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl BinlogSource {
    /// Whether a MySQL server assigns GTIDs (`@@gtid_mode` is ON).
    pub async fn mysql_gtid_mode_on(&self) -> Result<bool, SourceError> {
        let mut conn = self.conn().await?;
        Ok(self
            .global_variable(&mut conn, "gtid_mode")
            .await?
            .is_some_and(|mode| mode.eq_ignore_ascii_case("ON")))
    }

    /// MariaDB's GTID position at a binlog position (`BINLOG_GTID_POS`), `None` when the
    /// server cannot tell (not MariaDB, or a position it does not have).
    pub async fn gtid_position_at(
        &self,
        position: &BinlogPosition,
    ) -> Result<Option<GtidPosition>, SourceError> {
        const Q: &str = "SELECT BINLOG_GTID_POS(?, ?)";
        let mut conn = self.conn().await?;
        let text: Option<Option<String>> = self
            .answer(
                Q,
                conn.exec_first(Q, (position.file.as_str(), position.offset)),
            )
            .await?;
        Ok(text.flatten().as_deref().and_then(GtidPosition::parse))
    }

    async fn gtid_binlog_pos(&self, conn: &mut Conn) -> Result<GtidPosition, SourceError> {
        const Q: &str = "SELECT @@gtid_binlog_pos";
        let text: Option<String> = self.answer(Q, conn.query_first(Q)).await?;
        Ok(text
            .as_deref()
            .and_then(GtidPosition::parse)
            .unwrap_or_default())
    }

    /// Where, in this MariaDB server's binlog, the transactions after GTID position
    /// `wanted` begin: the file and offset to stream from to continue exactly there. This
    /// is how a checkpoint taken on one server of a replication topology carries over to
    /// another after a failover.
    pub async fn position_of_gtid(
        &self,
        wanted: &GtidPosition,
    ) -> Result<BinlogPosition, SourceError> {
        let mut conn = self.conn().await?;
        let before = self.gtid_binlog_pos(&mut conn).await?;
        if !before.contains(wanted) {
            return Err(SourceError::GtidNotOnServer {
                wanted: wanted.to_string(),
                server_has: before.to_string(),
            });
        }
        // Nothing after `wanted` yet: the answer is the end of the binlog, if no
        // transaction committed while we looked.
        if wanted.contains(&before) {
            let now = self.current_position().await?;
            if self.gtid_binlog_pos(&mut conn).await? == before {
                return Ok(now);
            }
        }
        drop(conn);
        // Ask the server to stream from `wanted`, as a GTID replica would, and take the
        // start of the first transaction it sends.
        let unresolved = |message: String| SourceError::GtidUnresolved {
            wanted: wanted.to_string(),
            message,
        };
        let mut conn = self.replica_conn().await?;
        let state = format!("SET @slave_connect_state='{wanted}'");
        for q in [
            "SET @mariadb_slave_capability=4",
            "SET @slave_gtid_strict_mode=1",
            state.as_str(),
        ] {
            self.bounded("SET @slave_connect_state", async {
                Ok(conn.query_drop(q).await)
            })
            .await?
            .map_err(|e| unresolved(format!("{q}: {e}")))?;
        }
        let request = BinlogStreamRequest::new(self.replica_server_id)
            .with_filename(&[])
            .with_pos(FIRST_EVENT_OFFSET);
        let mut stream = self
            .bounded("COM_BINLOG_DUMP_GTID", async {
                Ok(conn.get_binlog_stream(request).await)
            })
            .await?
            .map_err(|e| unresolved(e.to_string()))?;
        // The stream was asked for no file: the first ROTATE names it.
        let mut follower = Follower::new(BinlogPosition::new("", FIRST_EVENT_OFFSET));
        let mut named = false;
        let found = tokio::time::timeout(GTID_LOOKUP_TIMEOUT, async {
            while let Some(event) = stream.next().await {
                let event = event.map_err(|e| unresolved(e.to_string()))?;
                let located = follower
                    .follow(&event)
                    .map_err(|e| unresolved(format!("ROTATE event: {e}")))?;
                named |= located.rotated_from.is_some();
                if event.header().event_type_raw() == event::mariadb::GTID_EVENT
                    && let Some(start) = located.start
                {
                    return if named {
                        Ok(start)
                    } else {
                        Err(unresolved("the server named no binlog file".into()))
                    };
                }
            }
            Err(unresolved("the server closed the stream".into()))
        })
        .await;
        let _ = stream.close().await;
        match found {
            Ok(result) => result,
            Err(_) => Err(unresolved(format!(
                "no transaction arrived within {} s",
                GTID_LOOKUP_TIMEOUT.as_secs()
            ))),
        }
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

    /// The GTID state at `position`: MariaDB's `BINLOG_GTID_POS`, or MySQL's executed set
    /// read from the binlog. `None` when the server does not use GTIDs.
    pub async fn gtids_at(
        &self,
        position: &BinlogPosition,
        server: &ServerInfo,
    ) -> Result<Option<GtidState>, SourceError> {
        if server.is_mariadb {
            Ok(self
                .gtid_position_at(position)
                .await?
                .map(GtidState::Mariadb))
        } else {
            Ok(self
                .mysql_gtids_at(position, server)
                .await?
                .map(GtidState::Mysql))
        }
    }
}
