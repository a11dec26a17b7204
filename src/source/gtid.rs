//! The GTID state a checkpoint records, whichever server flavour wrote the binlog.
//!
//! MariaDB names a point in the change history by its GTID position (one GTID per domain,
//! [`GtidPosition`]); MySQL by its executed GTID set ([`GtidSet`]). The reader moves one or
//! the other past every transaction, and the checkpoint stores it as text, so every place
//! that starts, saves or moves a checkpoint deals with one type and one dispatch.

use std::fmt;

use super::mariadb::{GtidPosition, MariadbGtid};
use super::mysql_gtid::GtidSet;
use super::{BinlogSource, ServerInfo, SourceError};
use crate::position::BinlogPosition;

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

impl BinlogSource {
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
