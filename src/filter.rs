//! Filter: which rows are published.
//!
//! Today this is only the rule Maxwell applies whatever its configuration says: its own schema
//! (`maxwell.*`, except inserts into `maxwell.bootstrap`, which it publishes) and the
//! heartbeat tables of managed MySQL (`mysql.ha_health_check`, `mysql.rds_heartbeat*`) never
//! reach the sink. Dropped rows are not buffered, so `xoffset` and `commit` count only what
//! is published. Include/exclude rules and column filters will live here too.

use crate::decode::RowKind;
use crate::schema::ddl::Effect;

/// Whether Maxwell drops rows of this table regardless of filters.
pub fn always_dropped(database: &str, table: &str, kind: RowKind) -> bool {
    match database {
        "maxwell" => !(table == "bootstrap" && kind == RowKind::Insert),
        "mysql" => table == "ha_health_check" || table.starts_with("rds_heartbeat"),
        _ => false,
    }
}

/// Whether Maxwell drops a DDL message regardless of filters: changes to its own schema
/// database.
pub fn ddl_dropped(effect: &Effect) -> bool {
    let database = match effect {
        Effect::DatabaseCreate { database, .. }
        | Effect::DatabaseAlter { database, .. }
        | Effect::DatabaseDrop { database }
        | Effect::TableCreate { database, .. }
        | Effect::TableAlter { database, .. }
        | Effect::TableDrop { database, .. } => database,
    };
    database == "maxwell"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxwells_own_tables_and_managed_heartbeats_are_dropped() {
        assert!(always_dropped("maxwell", "heartbeats", RowKind::Insert));
        assert!(always_dropped("maxwell", "bootstrap", RowKind::Update));
        assert!(!always_dropped("maxwell", "bootstrap", RowKind::Insert));
        assert!(always_dropped("mysql", "ha_health_check", RowKind::Update));
        assert!(always_dropped("mysql", "rds_heartbeat2", RowKind::Insert));
        assert!(!always_dropped("mysql", "user", RowKind::Insert));
        assert!(!always_dropped("tcs", "Placement", RowKind::Insert));
    }
}
