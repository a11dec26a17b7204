//! The catalog: every database, table and column the daemon tracks, as plain data.
//!
//! A catalog is what the schema looked like at one binlog position. It is built from
//! `information_schema` ([`super::capture`]), changed by DDL statements ([`super::ddl`]),
//! stored as JSON in the schema history ([`super::history`]), and asked for the columns of
//! a table when a TABLE_MAP event does not name them.
//!
//! It keeps what the binlog lacks and nothing else: names, signedness, charsets, ENUM/SET
//! labels, fractional-second precision and the primary key. The physical type of each
//! column always comes from the TABLE_MAP event; `data_type` is kept to resolve charsets
//! and to spot drift.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Charset, ColumnInfo};

/// All tracked databases, by name (case-sensitive, as on Linux servers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The server's `character_set_server`: the default for new databases.
    pub server_charset: String,
    /// The server's `lower_case_table_names`: with 1 or 2, database and table names are
    /// kept in lower case and looked up that way.
    #[serde(default)]
    pub lower_case_table_names: u8,
    /// Whether the server is MariaDB, whose `JSON` is text with a `json_valid` check (set
    /// at capture; a history captured before this field existed reads as not MariaDB, so
    /// only `JSON` itself marks JSON there until the next capture).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mariadb: bool,
    pub databases: BTreeMap<String, Database>,
}

/// One database (schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Default charset for new tables; empty when it is not known at this position (it
    /// changed between the start and the first capture), which makes a CREATE TABLE that
    /// relies on it a statement that cannot be followed.
    pub charset: String,
    pub tables: BTreeMap<String, TableEntry>,
}

/// What is known about one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableEntry {
    Known(TableDef),
    /// A statement changed the table in a way binlog-relay could not follow; until the
    /// definition is known again, its rows cannot be labelled.
    Unknown {
        reason: String,
    },
}

/// A table definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Default charset for new text columns.
    pub charset: String,
    pub columns: Vec<ColumnDef>,
    /// Primary-key column names, in key order.
    pub primary_key: Vec<String>,
}

/// A column definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    /// Lower-case base type, synonyms resolved (`int`, `varchar`, `enum`, `datetime`, ...).
    pub data_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
    /// Text columns only: the charset name (`utf8mb4`, `latin1`, `binary` for binary
    /// strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// ENUM and SET only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Temporal types only: fractional-second digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsp: Option<u8>,
}

impl ColumnDef {
    /// Whether values of this type are text in some charset.
    pub fn is_text_type(data_type: &str) -> bool {
        matches!(
            data_type,
            "char"
                | "varchar"
                | "tinytext"
                | "text"
                | "mediumtext"
                | "longtext"
                | "enum"
                | "set"
                | "json"
        )
    }

    /// Whether values of this type are binary strings.
    pub fn is_binary_type(data_type: &str) -> bool {
        matches!(
            data_type,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
        )
    }
}

impl TableDef {
    /// The column called `name` (column names are case-insensitive in MySQL).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// What a schema provider reports for this table.
    pub fn column_infos(&self) -> Vec<ColumnInfo> {
        self.columns
            .iter()
            .map(|c| ColumnInfo {
                name: c.name.clone(),
                unsigned: c.unsigned,
                charset: c.charset.as_deref().map(Charset::from_name),
                labels: c.labels.clone(),
                primary_key_position: self
                    .primary_key
                    .iter()
                    .position(|k| k.eq_ignore_ascii_case(&c.name))
                    .and_then(|p| u32::try_from(p + 1).ok()),
                fsp: c.fsp,
                json: c.data_type == "json",
            })
            .collect()
    }
}

impl Catalog {
    pub fn new(server_charset: impl Into<String>) -> Self {
        Self {
            server_charset: server_charset.into(),
            lower_case_table_names: 0,
            mariadb: false,
            databases: BTreeMap::new(),
        }
    }

    pub fn table(&self, database: &str, table: &str) -> Option<&TableEntry> {
        self.databases.get(database)?.tables.get(table)
    }

    /// The table as a TABLE_MAP event names it, folding case as the server does.
    pub fn lookup(&self, database: &str, table: &str) -> Option<&TableEntry> {
        if self.lower_case_table_names == 0 {
            self.table(database, table)
        } else {
            self.table(&database.to_lowercase(), &table.to_lowercase())
        }
    }

    /// Puts a table in place, creating its database entry if the catalog lacks it.
    pub fn put_table(&mut self, database: &str, table: &str, entry: TableEntry) {
        let server_charset = self.server_charset.clone();
        self.databases
            .entry(database.to_owned())
            .or_insert_with(|| Database {
                charset: server_charset,
                tables: BTreeMap::new(),
            })
            .tables
            .insert(table.to_owned(), entry);
    }

    pub fn remove_table(&mut self, database: &str, table: &str) -> Option<TableEntry> {
        self.databases.get_mut(database)?.tables.remove(table)
    }

    /// The default charset for a new table in `database`.
    pub fn database_charset(&self, database: &str) -> String {
        self.databases
            .get(database)
            .map_or_else(|| self.server_charset.clone(), |d| d.charset.clone())
    }
}

/// The charset a collation name belongs to (`utf8mb4_0900_ai_ci` → `utf8mb4`).
/// `None` for MariaDB 11's charset-independent names (`uca1400_ai_ci`), which keep the
/// charset in force.
pub fn charset_of_collation(collation: &str) -> Option<String> {
    let collation = collation.to_ascii_lowercase();
    if collation == "binary" {
        return Some(collation);
    }
    match collation.split_once('_') {
        Some(("uca1400", _)) => None,
        Some((charset, _)) => Some(charset.to_owned()),
        None => Some(collation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collations_name_their_charset() {
        assert_eq!(
            charset_of_collation("utf8mb4_0900_ai_ci").unwrap(),
            "utf8mb4"
        );
        assert_eq!(charset_of_collation("latin1_swedish_ci").unwrap(), "latin1");
        assert_eq!(charset_of_collation("BINARY").unwrap(), "binary");
        assert_eq!(charset_of_collation("uca1400_ai_ci"), None);
    }

    #[test]
    fn column_infos_carry_key_positions_and_charsets() {
        let def = TableDef {
            charset: "utf8mb4".into(),
            columns: vec![
                ColumnDef {
                    name: "a".into(),
                    data_type: "int".into(),
                    unsigned: true,
                    charset: None,
                    labels: None,
                    fsp: None,
                },
                ColumnDef {
                    name: "B".into(),
                    data_type: "varchar".into(),
                    unsigned: false,
                    charset: Some("latin1".into()),
                    labels: None,
                    fsp: None,
                },
            ],
            primary_key: vec!["b".into(), "a".into()],
        };
        let infos = def.column_infos();
        assert_eq!(infos[0].primary_key_position, Some(2));
        assert_eq!(infos[1].primary_key_position, Some(1));
        assert!(infos[0].unsigned);
        assert_eq!(infos[1].charset, Some(Charset::LATIN1));
        assert_eq!(def.column_index("b"), Some(1));
    }
}
