//! DDL messages (`output.ddl`): each schema change as Maxwell describes it.
//!
//! Maxwell builds these with Jackson from its resolved schema change, then appends `ts`
//! (milliseconds), `sql`, and the optional `position`, `gtid` and `schema_id`. The shapes:
//! `database-create|alter|drop` with `database` (and `charset`), `table-create` with `def`,
//! `table-alter` with `old` and `def` (a rename keeps the old name in `table`; `def` has the
//! new one), `table-drop`. A table definition is `database, charset, table, columns,
//! primary-key`; each column has `type` and `name`, then `charset` (text and binary
//! strings), `signed` (integer types), `enum-values` (ENUM/SET) or `column-length`
//! (fractional digits of DATETIME/TIMESTAMP/TIME, also when 0).

use std::sync::Arc;

use super::batch::{Batch, Message, MessageKind};
use super::json::{write_int, write_str};
use super::options::OutputOptions;
use crate::position::BinlogPosition;
use crate::schema::catalog::{ColumnDef, TableDef};
use crate::schema::ddl::Effect;

/// What a DDL message says besides the change itself.
#[derive(Debug, Clone, Copy)]
pub struct DdlMeta<'a> {
    /// Event timestamp in seconds; Maxwell writes milliseconds.
    pub ts: u64,
    pub sql: &'a str,
    pub position: &'a BinlogPosition,
    pub gtid: Option<&'a str>,
    pub schema_id: Option<u64>,
}

/// Appends the message for `effect` to `batch`.
pub fn push_ddl(batch: &mut Batch, effect: &Effect, meta: &DdlMeta<'_>, options: &OutputOptions) {
    let out = &mut batch.body;
    let start = out.len();
    out.push(b'{');
    let (route_db, route_table): (&str, &str) = match effect {
        Effect::DatabaseCreate { database, charset }
        | Effect::DatabaseAlter { database, charset } => {
            let kind = if matches!(effect, Effect::DatabaseCreate { .. }) {
                "database-create"
            } else {
                "database-alter"
            };
            field(out, "type", true);
            write_str(out, kind);
            field(out, "database", false);
            write_str(out, database);
            field(out, "charset", false);
            write_str(out, charset);
            (database, "")
        }
        Effect::DatabaseDrop { database } => {
            field(out, "type", true);
            write_str(out, "database-drop");
            field(out, "database", false);
            write_str(out, database);
            (database, "")
        }
        Effect::TableCreate {
            database,
            table,
            def,
        } => {
            field(out, "type", true);
            write_str(out, "table-create");
            field(out, "database", false);
            write_str(out, database);
            field(out, "table", false);
            write_str(out, table);
            field(out, "def", false);
            write_def(out, database, table, def);
            (database, table)
        }
        Effect::TableAlter {
            database,
            table,
            old,
            new_database,
            new_table,
            def,
        } => {
            field(out, "type", true);
            write_str(out, "table-alter");
            field(out, "database", false);
            write_str(out, database);
            field(out, "table", false);
            write_str(out, table);
            field(out, "old", false);
            write_def(out, database, table, old);
            field(out, "def", false);
            write_def(out, new_database, new_table, def);
            (database, table)
        }
        Effect::TableDrop { database, table } => {
            field(out, "type", true);
            write_str(out, "table-drop");
            field(out, "database", false);
            write_str(out, database);
            field(out, "table", false);
            write_str(out, table);
            (database, table)
        }
    };
    field(out, "ts", false);
    write_int(out, meta.ts.saturating_mul(1000));
    field(out, "sql", false);
    write_str(out, meta.sql);
    let config = &options.config;
    if config.binlog_position {
        field(out, "position", false);
        write_str(out, &meta.position.to_string());
    }
    if config.gtid_position {
        field(out, "gtid", false);
        match meta.gtid {
            Some(g) => write_str(out, g),
            None => out.extend_from_slice(b"null"),
        }
    }
    if config.schema_id {
        field(out, "schema_id", false);
        match meta.schema_id {
            Some(id) => write_int(out, id),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
    let end = out.len();
    batch.messages.push(Message {
        database: Arc::from(route_db),
        table: Arc::from(route_table),
        kind: MessageKind::Ddl,
        range: start..end,
    });
}

fn field(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
}

fn write_def(out: &mut Vec<u8>, database: &str, table: &str, def: &TableDef) {
    out.push(b'{');
    field(out, "database", true);
    write_str(out, database);
    field(out, "charset", false);
    write_str(out, &def.charset);
    field(out, "table", false);
    write_str(out, table);
    field(out, "columns", false);
    out.push(b'[');
    for (i, column) in def.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_column(out, column);
    }
    out.push(b']');
    field(out, "primary-key", false);
    out.push(b'[');
    for (i, key) in def.primary_key.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
    }
    out.push(b']');
    out.push(b'}');
}

fn write_column(out: &mut Vec<u8>, column: &ColumnDef) {
    out.push(b'{');
    field(out, "type", true);
    write_str(out, &column.data_type);
    field(out, "name", false);
    write_str(out, &column.name);
    match column.data_type.as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => {
            field(out, "signed", false);
            out.extend_from_slice(if column.unsigned { b"false" } else { b"true" });
        }
        "enum" | "set" => {
            field(out, "enum-values", false);
            out.push(b'[');
            for (i, label) in column.labels.iter().flatten().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, label);
            }
            out.push(b']');
        }
        "datetime" | "timestamp" | "time" => {
            field(out, "column-length", false);
            write_int(out, column.fsp.unwrap_or(0));
        }
        "json" => {}
        _ => {
            if let Some(charset) = &column.charset {
                field(out, "charset", false);
                write_str(out, charset);
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::options::OutputConfig;
    use crate::schema::catalog::Catalog;
    use crate::schema::ddl;

    fn render(sql: &str, config: OutputConfig) -> Vec<String> {
        let mut catalog = Catalog::new("latin1");
        ddl::apply(
            &mut catalog,
            "",
            "CREATE DATABASE test CHARACTER SET utf8mb4",
        )
        .unwrap();
        ddl::apply(
            &mut catalog,
            "test",
            "CREATE TABLE old (id INT PRIMARY KEY)",
        )
        .unwrap();
        let touched = ddl::apply(&mut catalog, "test", sql).unwrap();
        let options = config.compile().unwrap();
        let pos = BinlogPosition::new("master.000006", 800050);
        let meta = DdlMeta {
            ts: 1477053126,
            sql,
            position: &pos,
            gtid: None,
            schema_id: Some(3),
        };
        let mut batch = Batch::default();
        for effect in &touched.effects {
            push_ddl(&mut batch, effect, &meta, &options);
        }
        batch
            .messages
            .iter()
            .map(|m| String::from_utf8(batch.body_of(m).to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn table_create_matches_maxwells_documented_example() {
        let sql = "create table test.e ( id int(10) not null primary key auto_increment, m double, c timestamp(6), comment varchar(255) charset 'latin1' )";
        let config = OutputConfig {
            ddl: true,
            binlog_position: true,
            ..OutputConfig::default()
        };
        // The example in Maxwell's documentation of DDL messages, compacted.
        assert_eq!(
            render(sql, config),
            vec![format!(
                r#"{{"type":"table-create","database":"test","table":"e","def":{{"database":"test","charset":"utf8mb4","table":"e","columns":[{{"type":"int","name":"id","signed":true}},{{"type":"double","name":"m"}},{{"type":"timestamp","name":"c","column-length":6}},{{"type":"varchar","name":"comment","charset":"latin1"}}],"primary-key":["id"]}},"ts":1477053126000,"sql":"{sql}","position":"master.000006:800050"}}"#
            )]
        );
    }

    #[test]
    fn alters_renames_drops_and_databases() {
        let config = OutputConfig {
            ddl: true,
            gtid_position: true,
            schema_id: true,
            ..OutputConfig::default()
        };
        let got = render("RENAME TABLE old TO new", config.clone());
        assert_eq!(
            got,
            vec![
                r#"{"type":"table-alter","database":"test","table":"old","old":{"database":"test","charset":"utf8mb4","table":"old","columns":[{"type":"int","name":"id","signed":true}],"primary-key":["id"]},"def":{"database":"test","charset":"utf8mb4","table":"new","columns":[{"type":"int","name":"id","signed":true}],"primary-key":["id"]},"ts":1477053126000,"sql":"RENAME TABLE old TO new","gtid":null,"schema_id":3}"#
            ]
        );
        let got = render(
            "ALTER TABLE old ADD e ENUM('a','b'), ADD u BIGINT UNSIGNED",
            config.clone(),
        );
        assert!(
            got[0].contains(r#"{"type":"enum","name":"e","enum-values":["a","b"]},{"type":"bigint","name":"u","signed":false}"#),
            "{got:?}"
        );
        assert_eq!(
            render("DROP TABLE old, missing", config.clone()),
            vec![
                r#"{"type":"table-drop","database":"test","table":"old","ts":1477053126000,"sql":"DROP TABLE old, missing","gtid":null,"schema_id":3}"#
            ]
        );
        assert_eq!(
            render("CREATE DATABASE d2", config.clone())[0],
            r#"{"type":"database-create","database":"d2","charset":"latin1","ts":1477053126000,"sql":"CREATE DATABASE d2","gtid":null,"schema_id":3}"#
        );
        assert_eq!(
            render("DROP DATABASE test", config)[0],
            r#"{"type":"database-drop","database":"test","ts":1477053126000,"sql":"DROP DATABASE test","gtid":null,"schema_id":3}"#
        );
    }
}
