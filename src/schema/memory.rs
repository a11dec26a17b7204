//! A [`SchemaProvider`] with fixed answers, for replaying binlog files whose table maps carry
//! no column names (tests, offline decoding with a known schema).

use std::collections::HashMap;

use super::{ColumnInfo, SchemaError, SchemaProvider};
use crate::position::BinlogPosition;

/// Tables described up front.
#[derive(Debug, Clone, Default)]
pub struct StaticSchema {
    tables: HashMap<(String, String), Vec<ColumnInfo>>,
}

impl StaticSchema {
    pub fn new() -> Self {
        Self::default()
    }

    /// Describes `database`.`table`.
    pub fn with_table(mut self, database: &str, table: &str, columns: Vec<ColumnInfo>) -> Self {
        self.tables
            .insert((database.to_owned(), table.to_owned()), columns);
        self
    }
}

impl SchemaProvider for StaticSchema {
    async fn columns(
        &mut self,
        _at: &BinlogPosition,
        database: &str,
        table: &str,
    ) -> Result<Option<Vec<ColumnInfo>>, SchemaError> {
        Ok(self
            .tables
            .get(&(database.to_owned(), table.to_owned()))
            .cloned())
    }
}

/// Names columns by position (`@1`, `@2`, ...) as `mysqlbinlog -v` does, for looking at
/// binlogs whose table maps carry no names and whose schema is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct PositionalNames;

impl SchemaProvider for PositionalNames {
    async fn columns(
        &mut self,
        _at: &BinlogPosition,
        _database: &str,
        _table: &str,
    ) -> Result<Option<Vec<ColumnInfo>>, SchemaError> {
        Ok(None)
    }

    fn positional_fallback(&self) -> bool {
        true
    }
}
