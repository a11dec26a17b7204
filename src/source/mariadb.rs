//! MariaDB's own binlog events, which `mysql_common` reports as unknown event types.
//!
//! With `@mariadb_slave_capability=4` the server sends a GTID event at the start of every
//! transaction (instead of a `BEGIN` query). We read its GTID and whether the transaction is
//! "standalone" (a DDL statement with no COMMIT/XID after it).

/// MariaDB's GTID event type code.
pub const GTID_EVENT: u8 = 162;
/// Annotate-rows (the SQL of a rows event), binlog checkpoint, GTID list, start encryption.
pub const ANNOTATE_ROWS_EVENT: u8 = 160;
pub const BINLOG_CHECKPOINT_EVENT: u8 = 161;
pub const GTID_LIST_EVENT: u8 = 163;
pub const START_ENCRYPTION_EVENT: u8 = 164;
/// `log_bin_compress=ON`: a compressed QUERY event, then the compressed rows events
/// (write, update, delete; v1 and v2) up to 171.
pub const QUERY_COMPRESSED_EVENT: u8 = 165;
pub const DELETE_ROWS_COMPRESSED_EVENT: u8 = 171;

/// The transaction has no terminating COMMIT/XID (a DDL statement on its own).
const FL_STANDALONE: u8 = 1;

/// A parsed MariaDB GTID event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariadbGtid {
    pub domain_id: u32,
    pub server_id: u32,
    pub seq_no: u64,
    pub standalone: bool,
}

impl MariadbGtid {
    /// Parses the event body (after the common header). `server_id` comes from the header.
    pub fn parse(body: &[u8], server_id: u32) -> Option<Self> {
        let seq_no = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
        let domain_id = u32::from_le_bytes(body.get(8..12)?.try_into().ok()?);
        let flags = *body.get(12)?;
        Some(Self {
            domain_id,
            server_id,
            seq_no,
            standalone: flags & FL_STANDALONE != 0,
        })
    }

    /// `domain-server-seq`, the form MariaDB prints and accepts.
    pub fn to_gtid_string(&self) -> String {
        format!("{}-{}-{}", self.domain_id, self.server_id, self.seq_no)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seq_domain_and_flags() {
        let mut body = 42u64.to_le_bytes().to_vec();
        body.extend(3u32.to_le_bytes());
        body.push(FL_STANDALONE);
        let g = MariadbGtid::parse(&body, 101).unwrap();
        assert_eq!(g.to_gtid_string(), "3-101-42");
        assert!(g.standalone);
        assert_eq!(MariadbGtid::parse(&body[..10], 1), None);
    }
}
