//! Capture: the whole catalog read from the server's `information_schema`.
//!
//! This is the schema of *now*. [`super::history`] decides at which binlog positions it is
//! valid; this module only reads it: databases with their default charsets, base tables with
//! theirs, and every column's name, type, signedness, charset, ENUM/SET labels and
//! fractional-second precision, plus primary keys. System schemas are left out.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;

use super::SchemaError;
use super::catalog::{Catalog, ColumnDef, Database, TableDef, TableEntry, charset_of_collation};

/// name, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, DATETIME_PRECISION, per table.
type ColumnRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<u64>,
);

/// One step of the capture, given at most `limit`: a server that stops answering is a
/// lost connection (retried), never a wait without end. Each query gets its own limit, so
/// a large catalog is not cut short by the sum.
async fn within<T>(
    limit: Duration,
    query: &'static str,
    work: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, SchemaError> {
    match tokio::time::timeout(limit, work).await {
        Ok(answer) => answer.map_err(|source| SchemaError::Capture { query, source }),
        Err(_) => Err(SchemaError::CaptureTimeout {
            query,
            millis: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

/// Reads the server's current catalog, each query within `limit` (`source.query_timeout_ms`).
pub async fn capture(pool: &Pool, limit: Duration) -> Result<Catalog, SchemaError> {
    let mut conn = within(limit, "connect", pool.get_conn()).await?;
    const SERVER: &str = "SELECT @@character_set_server, @@lower_case_table_names";
    let server: Option<(String, u8)> = within(limit, SERVER, conn.query_first(SERVER)).await?;
    let (server_charset, lower_case_table_names) = server.unwrap_or_else(|| ("utf8mb4".into(), 0));
    let mut catalog = Catalog::new(server_charset);
    catalog.lower_case_table_names = lower_case_table_names;
    // With lower_case_table_names=2 information_schema keeps the names' case; the catalog
    // keys them in lower case either way.
    let fold = |name: String| {
        if lower_case_table_names == 0 {
            name
        } else {
            name.to_lowercase()
        }
    };

    const SCHEMATA: &str = "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN \
         ('information_schema', 'performance_schema', 'sys')";
    let schemata: Vec<(String, String)> = within(limit, SCHEMATA, conn.query(SCHEMATA)).await?;
    for (name, charset) in schemata {
        catalog.databases.insert(
            fold(name),
            Database {
                charset: charset.to_ascii_lowercase(),
                tables: BTreeMap::new(),
            },
        );
    }

    const TABLES: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_COLLATION \
         FROM information_schema.TABLES \
         WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN \
         ('information_schema', 'performance_schema', 'sys')";
    let tables: Vec<(String, String, Option<String>)> =
        within(limit, TABLES, conn.query(TABLES)).await?;
    let mut defs: BTreeMap<(String, String), TableDef> = BTreeMap::new();
    for (db, table, collation) in tables {
        let (db, table) = (fold(db), fold(table));
        let charset = collation
            .and_then(|c| charset_of_collation(&c))
            .unwrap_or_else(|| catalog.database_charset(&db));
        defs.insert(
            (db, table),
            TableDef {
                charset,
                columns: Vec::new(),
                primary_key: Vec::new(),
            },
        );
    }

    const COLUMNS: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, \
         COLUMN_TYPE, CHARACTER_SET_NAME, DATETIME_PRECISION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA NOT IN \
         ('information_schema', 'performance_schema', 'sys') \
         ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION";
    let columns: Vec<ColumnRow> = within(limit, COLUMNS, conn.query(COLUMNS)).await?;
    for (db, table, name, data_type, column_type, charset, precision) in columns {
        let (db, table) = (fold(db), fold(table));
        // Views have columns too; only base tables were listed above.
        if let Some(def) = defs.get_mut(&(db, table)) {
            def.columns.push(column_def(
                name,
                &data_type,
                &column_type,
                charset,
                precision,
            ));
        }
    }

    // MariaDB's JSON is LONGTEXT with a `json_valid` check: the check is what tells it.
    const JSON_CHECKS: &str = "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CHECK_CLAUSE \
         FROM information_schema.CHECK_CONSTRAINTS WHERE CHECK_CLAUSE LIKE 'json_valid(%'";
    const VERSION: &str = "SELECT @@version";
    let version: Option<String> = within(limit, VERSION, conn.query_first(VERSION)).await?;
    catalog.mariadb = version.is_some_and(|v| v.to_ascii_lowercase().contains("mariadb"));
    if catalog.mariadb {
        let checks: Vec<(String, String, String)> =
            match within(limit, JSON_CHECKS, conn.query(JSON_CHECKS)).await {
                Ok(checks) => checks,
                // Before 10.3.10 there is no CHECK_CONSTRAINTS table (and JSON is plain
                // LONGTEXT without a check, as Maxwell sees it too).
                Err(SchemaError::Capture {
                    source: mysql_async::Error::Server(e),
                    ..
                }) if e.code == 1109 => Vec::new(),
                Err(e) => return Err(e),
            };
        for (db, table, clause) in checks {
            let (db, table) = (fold(db), fold(table));
            if let (Some(def), Some(column)) = (
                defs.get_mut(&(db, table)),
                crate::table::json_valid_column(&clause),
            ) {
                mark_json(def, &column);
            }
        }
    }

    const KEYS: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME \
         FROM information_schema.KEY_COLUMN_USAGE \
         WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA NOT IN \
         ('information_schema', 'performance_schema', 'sys') \
         ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION";
    let keys: Vec<(String, String, String)> = within(limit, KEYS, conn.query(KEYS)).await?;
    for (db, table, column) in keys {
        let (db, table) = (fold(db), fold(table));
        if let Some(def) = defs.get_mut(&(db, table)) {
            def.primary_key.push(column);
        }
    }

    for ((db, table), def) in defs {
        catalog.put_table(&db, &table, TableEntry::Known(def));
    }
    Ok(catalog)
}

/// Marks `column` of `def` as MariaDB JSON when it holds text (not ENUM or SET), as
/// Maxwell does for a column with a `json_valid` check.
pub(super) fn mark_json(def: &mut TableDef, column: &str) {
    if let Some(c) = def
        .columns
        .iter_mut()
        .find(|c| c.name.eq_ignore_ascii_case(column))
        && ColumnDef::is_text_type(&c.data_type)
        && !matches!(c.data_type.as_str(), "enum" | "set")
    {
        c.data_type = "json".into();
    }
}

/// One `information_schema.COLUMNS` row as a catalog column.
fn column_def(
    name: String,
    data_type: &str,
    column_type: &str,
    charset: Option<String>,
    precision: Option<u64>,
) -> ColumnDef {
    let data_type = data_type.to_ascii_lowercase();
    let charset = if ColumnDef::is_binary_type(&data_type) {
        Some("binary".to_owned())
    } else {
        charset.map(|c| c.to_ascii_lowercase())
    };
    let labels = matches!(data_type.as_str(), "enum" | "set").then(|| parse_labels(column_type));
    let fsp = matches!(data_type.as_str(), "datetime" | "timestamp" | "time")
        .then(|| precision.and_then(|p| u8::try_from(p).ok()).unwrap_or(0));
    ColumnDef {
        name,
        unsigned: column_type.to_ascii_lowercase().contains("unsigned"),
        data_type,
        charset,
        labels,
        fsp,
    }
}

/// The labels of `enum('a','b''c')` / `set(...)` as `COLUMN_TYPE` spells them: quoted with
/// `'`, a quote inside doubled.
fn parse_labels(column_type: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let Some(open) = column_type.find('(') else {
        return labels;
    };
    let mut chars = column_type[open + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    label.push('\'');
                } else {
                    break;
                }
            } else {
                label.push(c);
            }
        }
        labels.push(label);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Charset;

    fn def(data_type: &str, column_type: &str, charset: Option<&str>) -> ColumnDef {
        column_def(
            "c".into(),
            data_type,
            column_type,
            charset.map(Into::into),
            None,
        )
    }

    #[test]
    fn reads_signedness_and_charsets() {
        let c = def("bigint", "bigint(20) unsigned", None);
        assert!(c.unsigned);
        assert_eq!(c.charset, None);
        let c = def("varbinary", "varbinary(10)", None);
        assert_eq!(
            c.charset.as_deref().map(Charset::from_name),
            Some(Charset::Binary)
        );
        let c = def("varchar", "varchar(10)", Some("latin1"));
        assert_eq!(
            c.charset.as_deref().map(Charset::from_name),
            Some(Charset::LATIN1)
        );
        assert!(!c.unsigned);
        let c = column_def("d".into(), "datetime", "datetime(3)", None, Some(3));
        assert_eq!(c.fsp, Some(3));
    }

    #[test]
    fn reads_enum_and_set_labels() {
        let c = def("enum", "enum('APPROVED','it''s','a,b','')", Some("utf8mb4"));
        assert_eq!(
            c.labels,
            Some(vec![
                "APPROVED".into(),
                "it's".into(),
                "a,b".into(),
                "".into()
            ])
        );
        let c = def("set", "set('x','y')", Some("utf8mb4"));
        assert_eq!(c.labels, Some(vec!["x".into(), "y".into()]));
        assert_eq!(def("int", "int(11)", None).labels, None);
    }
}
