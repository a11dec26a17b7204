//! A [`SchemaProvider`] that asks the server's live `information_schema`.
//!
//! Correct only while the table has not changed since the row being read was written; it is
//! the fallback for servers that do not log `binlog_row_metadata=FULL`. Answers are cached
//! per table until a DDL statement invalidates them.

use std::collections::HashMap;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;

use super::{Charset, ColumnInfo, SchemaError, SchemaProvider};

const COLUMNS_QUERY: &str = "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, \
     c.CHARACTER_SET_NAME, k.ORDINAL_POSITION \
     FROM information_schema.COLUMNS c \
     LEFT JOIN information_schema.KEY_COLUMN_USAGE k \
       ON k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME \
       AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY' \
     WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? \
     ORDER BY c.ORDINAL_POSITION";

/// name, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, position in the primary key.
type ColumnRow = (String, String, String, Option<String>, Option<u32>);

/// Column lookups against `information_schema.COLUMNS`.
pub struct InformationSchema {
    pool: Pool,
    cache: HashMap<(String, String), Vec<ColumnInfo>>,
}

impl InformationSchema {
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            cache: HashMap::new(),
        }
    }
}

impl SchemaProvider for InformationSchema {
    async fn columns(
        &mut self,
        database: &str,
        table: &str,
    ) -> Result<Option<Vec<ColumnInfo>>, SchemaError> {
        let key = (database.to_owned(), table.to_owned());
        if let Some(columns) = self.cache.get(&key) {
            return Ok(Some(columns.clone()));
        }
        let query_err = |source| SchemaError::Query {
            database: database.to_owned(),
            table: table.to_owned(),
            source,
        };
        let mut conn = self.pool.get_conn().await.map_err(query_err)?;
        let rows: Vec<ColumnRow> = conn
            .exec(COLUMNS_QUERY, (database, table))
            .await
            .map_err(query_err)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let columns: Vec<ColumnInfo> = rows
            .into_iter()
            .map(|(name, data_type, column_type, charset, pk)| {
                let mut info = column_info(name, &data_type, &column_type, charset);
                info.primary_key_position = pk;
                info
            })
            .collect();
        self.cache.insert(key, columns.clone());
        Ok(Some(columns))
    }

    fn invalidate(&mut self) {
        self.cache.clear();
    }
}

fn column_info(
    name: String,
    data_type: &str,
    column_type: &str,
    charset: Option<String>,
) -> ColumnInfo {
    let data_type = data_type.to_ascii_lowercase();
    let binary = matches!(
        data_type.as_str(),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
    );
    let charset = match charset {
        _ if binary => Some(Charset::Binary),
        Some(name) => Some(Charset::from_name(&name)),
        None => None,
    };
    let labels = match data_type.as_str() {
        "enum" | "set" => Some(parse_labels(column_type)),
        _ => None,
    };
    ColumnInfo {
        name,
        unsigned: column_type.to_ascii_lowercase().contains("unsigned"),
        charset,
        labels,
        primary_key_position: None,
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

    #[test]
    fn reads_signedness_and_charsets() {
        let c = column_info("id".into(), "bigint", "bigint(20) unsigned", None);
        assert!(c.unsigned);
        assert_eq!(c.charset, None);
        let c = column_info("b".into(), "varbinary", "varbinary(10)", None);
        assert_eq!(c.charset, Some(Charset::Binary));
        let c = column_info("t".into(), "varchar", "varchar(10)", Some("latin1".into()));
        assert_eq!(c.charset, Some(Charset::LATIN1));
        assert!(!c.unsigned);
    }

    #[test]
    fn reads_enum_and_set_labels() {
        let c = column_info(
            "e".into(),
            "enum",
            "enum('APPROVED','it''s','a,b','')",
            Some("utf8mb4".into()),
        );
        assert_eq!(
            c.labels,
            Some(vec![
                "APPROVED".into(),
                "it's".into(),
                "a,b".into(),
                "".into()
            ])
        );
        let c = column_info("s".into(), "set", "set('x','y')", Some("utf8mb4".into()));
        assert_eq!(c.labels, Some(vec!["x".into(), "y".into()]));
        assert_eq!(column_info("i".into(), "int", "int(11)", None).labels, None);
    }
}
