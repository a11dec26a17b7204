//! The table model every stage shares: a table as one TABLE_MAP describes it, its columns,
//! their binlog types and character sets.
//!
//! A leaf: it imports no other module of the crate. The schema stage builds [`Table`]s, the
//! decoder cuts row images by their [`ColumnType`]s, and the formatter renders values with
//! their [`Charset`]s; none of those stages needs the others to name these types.

mod charset;
mod column_type;

use std::sync::Arc;

pub use charset::Charset;
pub use column_type::ColumnType;

/// A table as the binlog describes it, with names and encodings filled in.
#[derive(Debug)]
pub struct Table {
    pub database: Arc<str>,
    pub name: Arc<str>,
    pub columns: Vec<Column>,
    /// Column indexes of the primary key, in key order; empty when there is none (or the
    /// server did not say).
    pub primary_key: Vec<usize>,
}

/// One column of a [`Table`].
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    /// Numeric columns only: whether the column is UNSIGNED.
    pub unsigned: bool,
    /// Character columns only: how its bytes are encoded.
    pub charset: Charset,
    /// ENUM and SET columns only: the labels in definition order.
    pub labels: Option<Arc<[String]>>,
    /// MariaDB's JSON: a text column that holds JSON text (MariaDB stores `JSON` as
    /// `LONGTEXT` with a `json_valid` check), published as embedded JSON like MySQL's
    /// binary JSON. Only the schema can tell; the binlog sees text.
    pub json_text: bool,
}

/// The column a MariaDB JSON check names: MariaDB gives a `JSON` column the check
/// `` json_valid(`name`) `` (information_schema's `CHECK_CLAUSE`, `SHOW CREATE TABLE`), which
/// is how Maxwell, and this daemon, tell it from other `LONGTEXT`. `None` for any other
/// clause (a check on anything more than the bare column is not a JSON column).
pub fn json_valid_column(clause: &str) -> Option<String> {
    let clause = clause.trim();
    let open = "json_valid(";
    let head = clause.get(..open.len())?;
    if !head.eq_ignore_ascii_case(open) {
        return None;
    }
    let quoted = clause[open.len()..].strip_suffix(')')?.trim();
    let inner = quoted.strip_prefix('`')?.strip_suffix('`')?;
    // A backquote inside a quoted name is doubled; a lone one ends the name early.
    let mut name = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '`' && chars.next() != Some('`') {
            return None;
        }
        name.push(c);
    }
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::json_valid_column;

    #[test]
    fn a_json_valid_check_names_its_column() {
        assert_eq!(
            json_valid_column("json_valid(`doc`)").as_deref(),
            Some("doc")
        );
        assert_eq!(
            json_valid_column("JSON_VALID(`a``b`)").as_deref(),
            Some("a`b")
        );
        assert_eq!(
            json_valid_column(" json_valid( `x y` ) ").as_deref(),
            Some("x y")
        );
        for other in [
            "json_valid(`a`) and `a` <> ''",
            "json_valid(concat(`a`,'x'))",
            "json_valid(a)",
            "json_valid(`a`b`)",
            "json_valid(``)",
            "`a` > 0",
            "json_valid(`a`",
            "",
        ] {
            assert_eq!(json_valid_column(other), None, "{other}");
        }
    }
}
