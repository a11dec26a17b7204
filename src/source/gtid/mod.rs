//! GTIDs, whichever server flavour wrote the binlog: the state a checkpoint records, each
//! flavour's GTIDs and their text forms, and what the server is asked about them.
//!
//! MariaDB names a point in the change history by its GTID position (one GTID per domain,
//! [`GtidPosition`]); MySQL by its executed GTID set ([`GtidSet`]). The reader moves one or
//! the other past every transaction, and the checkpoint stores it as text, so every place
//! that starts, saves or moves a checkpoint deals with one type and one dispatch.

use std::fmt;

mod mariadb;
mod mysql;
mod server;

pub use mariadb::{GtidPosition, MariadbGtid};
pub use mysql::{GtidSet, gtid_text as mysql_gtid_text};

use super::ServerInfo;

/// Where the binlog stands, by GTID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidState {
    Mariadb(GtidPosition),
    Mysql(GtidSet),
}

impl GtidState {
    /// Reads a checkpoint's `gtid_position` text, in the form the server's flavour writes.
    pub fn parse(text: &str, server: &ServerInfo) -> Option<Self> {
        if server.is_mariadb {
            GtidPosition::parse(text).map(Self::Mariadb)
        } else {
            GtidSet::parse(text).map(Self::Mysql)
        }
    }

    /// Moves past a MariaDB transaction (no effect on a MySQL set).
    pub fn apply_mariadb(&mut self, gtid: &MariadbGtid) {
        if let Self::Mariadb(position) = self {
            position.apply(gtid);
        }
    }

    /// Moves past a MySQL transaction (no effect on a MariaDB position).
    pub fn apply_mysql(&mut self, uuid: [u8; 16], tag: Option<&str>, gno: u64) {
        if let Self::Mysql(set) = self {
            set.add(uuid, tag, gno);
        }
    }

    /// Adds what a PREVIOUS_GTIDS event says came before the file (MySQL).
    pub fn extend_mysql(&mut self, previous: &GtidSet) {
        if let Self::Mysql(set) = self {
            set.extend(previous);
        }
    }
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mariadb(position) => position.fmt(f),
            Self::Mysql(set) => set.fmt(f),
        }
    }
}
