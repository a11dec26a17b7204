//! MariaDB GTIDs: the GTID event that starts each transaction, and GTID positions.
//!
//! With `@mariadb_slave_capability=4` the server sends a GTID event at the start of every
//! transaction (instead of a `BEGIN` query). We read its GTID and whether the transaction is
//! "standalone" (a DDL statement with no COMMIT/XID after it).

use std::collections::BTreeMap;

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

/// A MariaDB GTID position: the last GTID of each replication domain, as `@@gtid_binlog_pos`
/// and `@slave_connect_state` write it (`0-101-42,1-102-7`). It names the same point of
/// the change history on every server of a replication topology, which a binlog file and
/// offset does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPosition {
    /// domain → (server_id, seq_no) of its last transaction.
    domains: BTreeMap<u32, (u32, u64)>,
}

impl GtidPosition {
    /// Parses MariaDB's text form; the empty string is the empty position.
    pub fn parse(text: &str) -> Option<Self> {
        let mut domains = BTreeMap::new();
        for gtid in text.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let mut parts = gtid.split('-');
            let domain = parts.next()?.parse().ok()?;
            let server = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            if parts.next().is_some() {
                return None;
            }
            domains.insert(domain, (server, seq));
        }
        Some(Self { domains })
    }

    /// Moves the position past a transaction.
    pub fn apply(&mut self, gtid: &MariadbGtid) {
        self.domains
            .insert(gtid.domain_id, (gtid.server_id, gtid.seq_no));
    }

    /// Whether every transaction up to `other` is also up to `self`: for each domain of
    /// `other`, `self` is at the same or a later sequence number.
    pub fn contains(&self, other: &GtidPosition) -> bool {
        other.domains.iter().all(|(domain, (_, seq))| {
            self.domains
                .get(domain)
                .is_some_and(|(_, mine)| mine >= seq)
        })
    }
}

impl std::fmt::Display for GtidPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (domain, (server, seq)) in &self.domains {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{domain}-{server}-{seq}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_positions_parse_print_advance_and_compare() {
        let mut p = GtidPosition::parse("1-102-7, 0-101-42").unwrap();
        assert_eq!(p.to_string(), "0-101-42,1-102-7");
        assert_eq!(GtidPosition::parse("").unwrap().to_string(), "");
        for bad in ["0-1", "a-1-2", "0-1-2-3", "0-1-x"] {
            assert_eq!(GtidPosition::parse(bad), None, "{bad}");
        }
        let before = p.clone();
        p.apply(&MariadbGtid {
            domain_id: 0,
            server_id: 103,
            seq_no: 43,
            standalone: false,
        });
        assert_eq!(p.to_string(), "0-103-43,1-102-7");
        assert!(p.contains(&before));
        assert!(!before.contains(&p));
        // A domain the other side never saw is not contained.
        let other_domain = GtidPosition::parse("2-1-1").unwrap();
        assert!(!p.contains(&other_domain));
        assert!(p.contains(&GtidPosition::default()));
    }

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
