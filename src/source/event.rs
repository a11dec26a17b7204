//! Binlog events in one place: what kind an event is, where it starts and ends, which file
//! the stream continues in after a ROTATE, and what a QUERY event's statement does to a
//! transaction.
//!
//! The reader, the read-ahead scan and the GTID lookup all walk the same event stream; they
//! share these rules instead of each doing its own position arithmetic.

use mysql_common::binlog::consts::{EventFlags, EventType};
use mysql_common::binlog::events::Event;

use crate::position::BinlogPosition;

/// MySQL 8.0's HEARTBEAT_LOG_EVENT_V2, which `mysql_common` does not name.
pub const HEARTBEAT_V2: u8 = 0x29;

/// MariaDB's own event type codes, which `mysql_common` reports as unknown.
pub mod mariadb {
    /// Annotate-rows: the SQL of the rows events that follow.
    pub const ANNOTATE_ROWS_EVENT: u8 = 160;
    pub const BINLOG_CHECKPOINT_EVENT: u8 = 161;
    /// A GTID at the start of every transaction (with `@mariadb_slave_capability=4`).
    pub const GTID_EVENT: u8 = 162;
    pub const GTID_LIST_EVENT: u8 = 163;
    pub const START_ENCRYPTION_EVENT: u8 = 164;
    /// `log_bin_compress=ON`: a compressed QUERY event, then the compressed rows events
    /// (write, update, delete; v1 and v2) up to 171.
    pub const QUERY_COMPRESSED_EVENT: u8 = 165;
    pub const DELETE_ROWS_COMPRESSED_EVENT: u8 = 171;
}

/// The event type's name, for metrics: `mysql_common`'s name, MariaDB's own events by
/// theirs, other unknown codes numbered.
pub fn type_name(code: u8) -> String {
    use mariadb::*;
    if let Ok(known) = EventType::try_from(code) {
        return format!("{known:?}");
    }
    match code {
        ANNOTATE_ROWS_EVENT => "MARIADB_ANNOTATE_ROWS_EVENT".into(),
        BINLOG_CHECKPOINT_EVENT => "MARIADB_BINLOG_CHECKPOINT_EVENT".into(),
        GTID_EVENT => "MARIADB_GTID_EVENT".into(),
        GTID_LIST_EVENT => "MARIADB_GTID_LIST_EVENT".into(),
        START_ENCRYPTION_EVENT => "MARIADB_START_ENCRYPTION_EVENT".into(),
        QUERY_COMPRESSED_EVENT..=DELETE_ROWS_COMPRESSED_EVENT => "MARIADB_COMPRESSED_EVENT".into(),
        other => format!("UNKNOWN_{other}"),
    }
}

/// Whether the event is a heartbeat: the server's "nothing new", which names the server's
/// position rather than an event of the stream.
pub fn is_heartbeat(event: &Event) -> bool {
    let code = event.header().event_type_raw();
    code == EventType::HEARTBEAT_EVENT as u8 || code == HEARTBEAT_V2
}

/// Whether the server made the event up for this stream (the ROTATE and FORMAT_DESCRIPTION
/// it sends first): it does not move the stream's position.
pub fn is_artificial(event: &Event) -> bool {
    event
        .header()
        .flags()
        .contains(EventFlags::LOG_EVENT_ARTIFICIAL_F)
}

/// A ROTATE event whose body is too short or whose file name is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("body too short or name not UTF-8")]
pub struct BadRotate;

/// The position a ROTATE event points to, or `None` if its body is too short or the file
/// name is not UTF-8.
///
/// The server sends an artificial ROTATE first, before the FORMAT_DESCRIPTION event that
/// says whether events carry a CRC32 footer, so the event reader cannot strip the footer
/// from it: the file name then ends in four checksum bytes. We recognise them by verifying
/// the CRC.
pub fn rotate_target(event: &Event) -> Option<BinlogPosition> {
    let data = event.data();
    let offset = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    let mut name = data.get(8..)?;
    if name.len() > 4 {
        let (rest, footer) = name.split_at(name.len() - 4);
        let expected = u32::from_le_bytes(footer.try_into().ok()?);
        let h = event.header();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&h.timestamp().to_le_bytes());
        hasher.update(&[h.event_type_raw()]);
        hasher.update(&h.server_id().to_le_bytes());
        hasher.update(&h.event_size().to_le_bytes());
        hasher.update(&h.log_pos().to_le_bytes());
        hasher.update(&h.flags_raw().to_le_bytes());
        hasher.update(&data[..8]);
        hasher.update(rest);
        if hasher.finalize() == expected {
            name = rest;
        }
    }
    let name = std::str::from_utf8(name).ok()?;
    Some(BinlogPosition::new(name, offset))
}

/// Follows the stream's position from event to event: the file it is in (through ROTATE
/// events) and the end of the last event read, which is where a restart would continue.
#[derive(Debug, Clone)]
pub struct Follower {
    position: BinlogPosition,
}

/// Where one event lies, as [`Follower::follow`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where the event starts; `None` for events that name no place of their own in the
    /// stream (a heartbeat, an event inside a compressed transaction).
    pub start: Option<BinlogPosition>,
    /// Set when the event was a ROTATE that moved the stream: the position before it.
    /// Artificial rotates (the first event of every stream) say where the stream is, and
    /// are reported as moves too.
    pub rotated_from: Option<BinlogPosition>,
}

impl Follower {
    /// Starts at `position`: where the stream was asked to begin.
    pub fn new(position: BinlogPosition) -> Self {
        Self { position }
    }

    /// The end of the last event read, in the file the stream is in.
    pub fn position(&self) -> &BinlogPosition {
        &self.position
    }

    /// Moves past `event`. Real events move the position to their end, but positions only
    /// grow within a file: an event sent again from a file's header (MariaDB's GTID list,
    /// on connect) does not move it back. Artificial events and heartbeats leave it; a
    /// ROTATE moves it to the file it names.
    pub fn follow(&mut self, event: &Event) -> Result<Located, BadRotate> {
        let header = event.header();
        let end = u64::from(header.log_pos());
        let heartbeat = is_heartbeat(event);
        let start = (end != 0 && !heartbeat).then(|| {
            BinlogPosition::new(
                self.position.file.clone(),
                end.saturating_sub(u64::from(header.event_size())),
            )
        });
        if header.event_type_raw() == EventType::ROTATE_EVENT as u8 {
            let next = rotate_target(event).ok_or(BadRotate)?;
            let rotated_from =
                (next != self.position).then(|| std::mem::replace(&mut self.position, next));
            return Ok(Located {
                start,
                rotated_from,
            });
        }
        if !is_artificial(event) && !heartbeat && end > self.position.offset {
            self.position.offset = end;
        }
        Ok(Located {
            start,
            rotated_from: None,
        })
    }
}

/// What a QUERY event's statement means for the transaction around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// `BEGIN`: a transaction starts.
    Begin,
    /// `COMMIT`: a transaction of non-transactional tables ends (no XID event).
    Commit,
    /// `ROLLBACK`: the open transaction's rows are discarded.
    Rollback,
    /// `SAVEPOINT ...` or `ROLLBACK TO ...`: transaction bookkeeping the row images already
    /// reflect.
    Savepoint,
    /// `XA ...`: rows logged at PREPARE and committed later.
    Xa,
    /// A comment, e.g. MariaDB's stand-in for an event the replica did not ask for.
    Comment,
    /// Anything else: a statement that may change a table's shape.
    Other,
}

impl StatementKind {
    /// Classifies a statement's text (surrounding whitespace ignored).
    pub fn classify(sql: &str) -> Self {
        let trimmed = sql.trim();
        if trimmed.eq_ignore_ascii_case("BEGIN") {
            return Self::Begin;
        }
        if trimmed.eq_ignore_ascii_case("COMMIT") {
            return Self::Commit;
        }
        if trimmed.eq_ignore_ascii_case("ROLLBACK") {
            return Self::Rollback;
        }
        let starts = |keyword: &str| {
            trimmed
                .get(..keyword.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(keyword))
        };
        if starts("SAVEPOINT") || starts("ROLLBACK") {
            return Self::Savepoint;
        }
        if starts("XA ") {
            return Self::Xa;
        }
        if trimmed.starts_with('#') {
            return Self::Comment;
        }
        Self::Other
    }

    /// Whether the statement only controls transactions: nothing a schema follows.
    pub fn is_control(self) -> bool {
        self != Self::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_classified_as_the_server_logs_them() {
        use StatementKind::*;
        for (sql, want) in [
            ("BEGIN", Begin),
            (" begin ", Begin),
            ("COMMIT", Commit),
            ("ROLLBACK", Rollback),
            ("ROLLBACK TO SAVEPOINT a", Savepoint),
            ("SAVEPOINT `a`", Savepoint),
            ("XA START 'x'", Xa),
            ("xa commit 'x'", Xa),
            ("# Dummy event replacing event type 160", Comment),
            ("BEGIN NOT ATOMIC SELECT 1; END", Other),
            ("ALTER TABLE t ADD c INT", Other),
            ("COMMITTED", Other),
            ("", Other),
            ("é", Other),
        ] {
            assert_eq!(StatementKind::classify(sql), want, "{sql:?}");
        }
        assert!(Begin.is_control() && !Other.is_control());
    }

    #[test]
    fn event_type_names_cover_mariadb_and_unknown_codes() {
        assert_eq!(type_name(EventType::XID_EVENT as u8), "XID_EVENT");
        assert_eq!(type_name(mariadb::GTID_EVENT), "MARIADB_GTID_EVENT");
        assert_eq!(type_name(168), "MARIADB_COMPRESSED_EVENT");
        assert_eq!(type_name(200), "UNKNOWN_200");
    }
}
