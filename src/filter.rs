//! Filter: which rows and DDL messages are published.
//!
//! Two layers, as in Maxwell (its `Filter` and `FilterPattern` classes):
//!
//! - Rules Maxwell applies whatever its configuration says ([`Filter::always_dropped`],
//!   [`Filter::ddl_dropped`]): its own schema database (`maxwell.*` by default, whatever
//!   `schema_database` names; except inserts into its `bootstrap` table)
//!   and the heartbeat tables of managed MySQL (`mysql.ha_health_check`,
//!   `mysql.rds_heartbeat*`) never reach the sink.
//! - The operator's [`Filter`], written in Maxwell's `filter` syntax:
//!   `exclude: foodb.*, include: foodb.tbl, include: foodb./table_\d+/,
//!   exclude: db.tbl.col=reject, blacklist: bad_db.*`. Rules are read in order and the last
//!   one that matches decides; with none matching, the row is included. `*` matches any
//!   name, a bare name matches exactly, `/regex/` matches anywhere in the name, and names may
//!   be quoted with `` ` ``, `'` or `"`. A rule with `.column=value` applies to rows whose
//!   column has that value (`null` matches SQL NULL and the strings `null`/`NULL`, `*`
//!   matches anything). `blacklist` tables are never even looked up in the schema, nor
//!   tracked by its history (`schema::history::TrackedSchema::untrack`), so a table whose
//!   definition cannot be followed cannot stop replication or make other tables unknown.
//!
//! Dropped rows are never buffered, so `xoffset` and `commit` count only what is published.

use regex::Regex;

use crate::decode::RowKind;
use crate::schema::ddl::Effect;

/// Maxwell's default schema database.
const MAXWELL_SCHEMA: &str = "maxwell";

/// Whether Maxwell, with its schema database `schema`, drops rows of this table regardless
/// of filters.
fn always_dropped_in(schema: &str, database: &str, table: &str, kind: RowKind) -> bool {
    if database == schema {
        return !(table == "bootstrap" && kind == RowKind::Insert);
    }
    database == "mysql" && (table == "ha_health_check" || table.starts_with("rds_heartbeat"))
}

/// The database and table (none for database statements) a DDL message is about.
pub fn ddl_subject(effect: &Effect) -> (&str, Option<&str>) {
    match effect {
        Effect::DatabaseCreate { database, .. }
        | Effect::DatabaseAlter { database, .. }
        | Effect::DatabaseDrop { database } => (database, None),
        Effect::TableCreate {
            database, table, ..
        }
        | Effect::TableAlter {
            database, table, ..
        }
        | Effect::TableDrop { database, table } => (database, Some(table)),
    }
}

/// A `db.table` pattern in the filter's syntax (`*`, exact names, quoted names,
/// `/regex/`), for settings that pick tables without including or excluding them.
#[derive(Debug, Clone)]
pub struct TablePattern {
    database: Pattern,
    table: Pattern,
    /// As written, for messages.
    text: String,
}

impl std::fmt::Display for TablePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl TablePattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut s = Scanner {
            text: text.trim(),
            at: 0,
        };
        let database = s.pattern()?;
        let table = if s.eat('.') {
            s.pattern()?
        } else {
            Pattern::Any
        };
        if !s.done() {
            return Err(format!("unexpected `{}`", s.rest()));
        }
        Ok(Self {
            database,
            table,
            text: text.trim().to_owned(),
        })
    }

    pub fn matches(&self, database: &str, table: &str) -> bool {
        self.database.matches(database) && self.table.matches(table)
    }
}

/// `[filter]`: which tables and rows are published.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Maxwell's `filter` string; empty publishes every table.
    #[serde(default)]
    pub rules: String,
}

impl FilterConfig {
    pub fn compile(&self) -> Result<Filter, crate::section::ConfigError> {
        Filter::parse(&self.rules)
            .map_err(|e| crate::section::ConfigError::key("filter.rules", e.to_string()))
    }
}

/// A filter rule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "filter rule {index} (`{rule}`): {message}. Rules look like `include: db.table`, `exclude: db.*`, `blacklist: db./regex/` or `include: db.table.column=value`, separated by commas"
)]
pub struct FilterError {
    pub index: usize,
    pub rule: String,
    pub message: String,
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Include,
    Exclude,
    Blacklist,
}

/// How a rule matches one name.
#[derive(Debug, Clone)]
enum Pattern {
    Any,
    Exact(String),
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(exact) => exact == name,
            Pattern::Regex(re) => re.is_match(name),
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    kind: Kind,
    database: Pattern,
    table: Pattern,
    /// A column-value rule: the column, and the value pattern.
    column: Option<(String, Pattern)>,
}

impl Rule {
    fn applies_to(&self, database: &str, table: Option<&str>) -> bool {
        self.database.matches(database) && table.is_none_or(|t| self.table.matches(t))
    }
}

/// The operator's filter. The empty filter includes everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    rules: Vec<Rule>,
    /// Maxwell's schema database (`schema_database`, our `bootstrap.database`); `maxwell`
    /// when not set.
    maxwell_schema: Option<String>,
}

/// A column's value as the filter sees it: `None` for SQL NULL, else its text.
pub type ColumnText = Option<String>;

impl Filter {
    /// Parses Maxwell's `filter` syntax.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut rules = Vec::new();
        for (i, raw) in split_rules(text).into_iter().enumerate() {
            let error = |message: String| FilterError {
                index: i + 1,
                rule: raw.trim().to_owned(),
                message,
            };
            rules.push(parse_rule(raw.trim()).map_err(error)?);
        }
        Ok(Self {
            rules,
            maxwell_schema: None,
        })
    }

    /// Names Maxwell's schema database, whose tables' rows and DDL are never published
    /// (but inserts into its `bootstrap` table).
    pub fn set_maxwell_schema(&mut self, database: &str) {
        self.maxwell_schema = Some(database.to_owned());
    }

    fn maxwell_schema(&self) -> &str {
        self.maxwell_schema.as_deref().unwrap_or(MAXWELL_SCHEMA)
    }

    /// Whether Maxwell drops rows of this table regardless of the rules: its own schema
    /// database's (but inserts into `bootstrap`) and managed MySQL's heartbeats.
    pub fn always_dropped(&self, database: &str, table: &str, kind: RowKind) -> bool {
        always_dropped_in(self.maxwell_schema(), database, table, kind)
    }

    /// Whether Maxwell drops a DDL message regardless of the rules: changes to its own
    /// schema database.
    pub fn ddl_dropped(&self, effect: &Effect) -> bool {
        ddl_subject(effect).0 == self.maxwell_schema()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether rows of `database.table` are included, by the table rules alone. With `table`
    /// `None`, whether statements about the database are.
    pub fn includes_table(&self, database: &str, table: Option<&str>) -> bool {
        let mut include = true;
        for rule in self.rules.iter().filter(|r| r.column.is_none()) {
            if rule.applies_to(database, table) {
                include = rule.kind == Kind::Include;
            }
        }
        include
    }

    /// Whether some column-value rule applies to this table and names one of its columns:
    /// then rows must be judged one by one.
    pub fn has_column_rules_for(
        &self,
        database: &str,
        table: &str,
        has_column: impl Fn(&str) -> bool,
    ) -> bool {
        self.rules.iter().any(|rule| {
            rule.column
                .as_ref()
                .is_some_and(|(name, _)| has_column(name))
                && rule.applies_to(database, Some(table))
        })
    }

    /// The columns column-value rules look at, for the table.
    pub fn columns_for<'a>(
        &'a self,
        database: &'a str,
        table: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.rules.iter().filter_map(move |rule| {
            rule.column
                .as_ref()
                .filter(|_| rule.applies_to(database, Some(table)))
                .map(|(name, _)| name.as_str())
        })
    }

    /// Whether one row is included: every rule in order, column-value rules applying when
    /// the row has the column and its value matches. `value` gives a column's value, `None`
    /// when the row has no such column.
    pub fn includes_row(
        &self,
        database: &str,
        table: &str,
        mut value: impl FnMut(&str) -> Option<ColumnText>,
    ) -> bool {
        let mut include = true;
        for rule in &self.rules {
            let applies = match &rule.column {
                None => rule.applies_to(database, Some(table)),
                Some((name, pattern)) => {
                    rule.applies_to(database, Some(table))
                        && value(name).is_some_and(|v| value_matches(pattern, v.as_deref()))
                }
            };
            if applies {
                include = rule.kind == Kind::Include;
            }
        }
        include
    }

    /// Whether a `blacklist` rule names the table: its rows are dropped before its schema is
    /// even looked up.
    /// Adds, after every other rule, `blacklist` for the whole of `database`: binlog-relay's
    /// own state tables (the database store) are never published, looked up or tracked,
    /// whatever the operator's rules say.
    pub fn blacklist_database(&mut self, database: &str) {
        self.rules.push(Rule {
            kind: Kind::Blacklist,
            database: Pattern::Exact(database.to_owned()),
            table: Pattern::Any,
            column: None,
        });
    }

    pub fn is_blacklisted(&self, database: &str, table: &str) -> bool {
        self.rules.iter().any(|rule| {
            rule.kind == Kind::Blacklist
                && rule.column.is_none()
                && rule.applies_to(database, Some(table))
        })
    }
}

/// Maxwell's value matching: `null` matches SQL NULL and the strings `null`/`NULL`; `*`
/// matches anything, NULL included; otherwise NULL matches nothing.
fn value_matches(pattern: &Pattern, value: Option<&str>) -> bool {
    if let Pattern::Exact(p) = pattern
        && p.eq_ignore_ascii_case("null")
    {
        return matches!(value, None | Some("null") | Some("NULL"));
    }
    match value {
        None => matches!(pattern, Pattern::Any),
        Some(v) => pattern.matches(v),
    }
}

/// Splits at commas outside quotes and `/regex/`.
fn split_rules(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut in_regex = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, in_regex, c) {
            (Some(q), _, c) if c == q => quote = None,
            (Some(_), _, _) => {}
            (None, true, '\\') => escaped = true,
            (None, true, '/') => in_regex = false,
            (None, true, _) => {}
            (None, false, '/') => in_regex = true,
            (None, false, '`' | '\'' | '"') => quote = Some(c),
            (None, false, ',') => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let (kind, rest) = rule
        .split_once(':')
        .ok_or_else(|| "missing `include:`, `exclude:` or `blacklist:`".to_owned())?;
    let kind = match kind.trim().to_ascii_lowercase().as_str() {
        "include" => Kind::Include,
        "exclude" => Kind::Exclude,
        "blacklist" => Kind::Blacklist,
        other => return Err(format!("`{other}` is not include, exclude or blacklist")),
    };
    let mut s = Scanner {
        text: rest.trim(),
        at: 0,
    };
    let database = s.pattern()?;
    if !s.eat('.') {
        // `blacklist: db` (a whole database) is allowed; so is `exclude: db`.
        if s.done() {
            return Ok(Rule {
                kind,
                database,
                table: Pattern::Any,
                column: None,
            });
        }
        return Err("expected `.` after the database".into());
    }
    let table = s.pattern()?;
    let column = if s.eat('.') {
        let name = match s.pattern()? {
            Pattern::Exact(name) => name,
            _ => return Err("a column must be named exactly".into()),
        };
        if !s.eat('=') {
            return Err(format!("expected `=value` after column `{name}`"));
        }
        let value = s.pattern()?;
        if kind == Kind::Blacklist {
            return Err("blacklist applies to whole tables, not column values".into());
        }
        Some((name, value))
    } else {
        None
    };
    if !s.done() {
        return Err(format!("unexpected `{}`", &s.text[s.at..]));
    }
    Ok(Rule {
        kind,
        database,
        table,
        column,
    })
}

/// Reads the pieces of one rule.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn done(&self) -> bool {
        self.rest().trim().is_empty()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// `*`, a quoted name, `/regex/`, or a bare name (up to `.`, `=` or the end).
    fn pattern(&mut self) -> Result<Pattern, String> {
        let rest = self.rest();
        let first = rest.chars().next().ok_or("a name is missing")?;
        match first {
            '*' => {
                self.at += 1;
                Ok(Pattern::Any)
            }
            '`' | '\'' | '"' => {
                let end = rest[1..]
                    .find(first)
                    .ok_or_else(|| format!("unclosed {first}"))?;
                let name = rest[1..1 + end].to_owned();
                self.at += end + 2;
                Ok(Pattern::Exact(name))
            }
            '/' => {
                let mut escaped = false;
                let mut end = None;
                for (i, c) in rest.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '/' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or("unclosed /regex/")?;
                let source = &rest[1..end];
                let re = Regex::new(source).map_err(|e| format!("bad regex /{source}/: {e}"))?;
                self.at += end + 1;
                Ok(Pattern::Regex(re))
            }
            _ => {
                let end = rest.find(['.', '=']).unwrap_or(rest.len());
                let name = rest[..end].trim().to_owned();
                if name.is_empty() {
                    return Err("a name is missing".into());
                }
                self.at += end;
                Ok(Pattern::Exact(name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        values: &'a [(&'a str, Option<&'a str>)],
    ) -> impl Fn(&str) -> Option<ColumnText> + 'a {
        move |name| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.map(str::to_owned))
        }
    }

    #[test]
    fn the_state_database_is_dropped_whatever_the_rules_say() {
        let mut f = Filter::parse("include: binlog_relay.*, include: *.*").unwrap();
        f.blacklist_database("binlog_relay");
        assert!(f.is_blacklisted("binlog_relay", "checkpoints"));
        assert!(!f.includes_table("binlog_relay", Some("schema_history")));
        assert!(!f.includes_table("binlog_relay", None));
        assert!(f.includes_table("app", Some("t")));
    }

    #[test]
    fn maxwells_own_tables_and_managed_heartbeats_are_dropped() {
        let f = Filter::default();
        assert!(f.always_dropped("maxwell", "heartbeats", RowKind::Insert));
        assert!(f.always_dropped("maxwell", "bootstrap", RowKind::Update));
        assert!(!f.always_dropped("maxwell", "bootstrap", RowKind::Insert));
        assert!(f.always_dropped("mysql", "ha_health_check", RowKind::Update));
        assert!(f.always_dropped("mysql", "rds_heartbeat2", RowKind::Insert));
        assert!(!f.always_dropped("mysql", "user", RowKind::Insert));
        assert!(!f.always_dropped("tcs", "Placement", RowKind::Insert));
    }

    #[test]
    fn maxwells_schema_is_dropped_under_its_configured_name_only() {
        let mut f = Filter::default();
        f.set_maxwell_schema("mx_tis");
        assert!(f.always_dropped("mx_tis", "positions", RowKind::Update));
        assert!(f.always_dropped("mx_tis", "heartbeats", RowKind::Insert));
        assert!(!f.always_dropped("mx_tis", "bootstrap", RowKind::Insert));
        // A database that happens to be called maxwell is then an ordinary one.
        assert!(!f.always_dropped("maxwell", "positions", RowKind::Update));
        let ddl = |database: &str| Effect::DatabaseDrop {
            database: database.into(),
        };
        assert!(f.ddl_dropped(&ddl("mx_tis")));
        assert!(!f.ddl_dropped(&ddl("maxwell")));
        assert!(Filter::default().ddl_dropped(&ddl("maxwell")));
    }

    /// The example of Maxwell's filtering documentation, rule by rule.
    #[test]
    fn maxwells_documented_example() {
        let f = Filter::parse(
            "exclude: foodb.*, include: foodb.tbl, include: foodb./table_\\d+/, exclude: db.tbl.col=reject, blacklist: bad_db.*",
        )
        .unwrap();
        assert!(!f.includes_table("foodb", Some("other")));
        assert!(f.includes_table("foodb", Some("tbl")));
        assert!(f.includes_table("foodb", Some("table_42")));
        assert!(
            f.includes_table("foodb", Some("my_table_7x")),
            "regexes are unanchored"
        );
        assert!(
            !f.includes_table("foodb", Some("tbl2")),
            "bare names are exact"
        );
        assert!(f.includes_table("otherdb", Some("t")), "default include");
        assert!(f.includes_row("db", "tbl", row(&[("col", Some("accept"))])));
        assert!(!f.includes_row("db", "tbl", row(&[("col", Some("reject"))])));
        assert!(f.includes_row("db", "tbl", row(&[("other", Some("reject"))])));
        assert!(f.is_blacklisted("bad_db", "anything"));
        assert!(!f.includes_table("bad_db", Some("anything")));
        assert!(!f.is_blacklisted("foodb", "tbl"));
    }

    #[test]
    fn later_rules_win_and_an_include_everything_then_exclude_works() {
        let f = Filter::parse("exclude: *.*, include: tcs.*").unwrap();
        assert!(f.includes_table("tcs", Some("Placement")));
        assert!(!f.includes_table("reference", Some("Grade")));
        assert!(!f.includes_table("auth", Some("User")));
        let f = Filter::parse("include: tcs.*, exclude: *.*").unwrap();
        assert!(!f.includes_table("tcs", Some("Placement")));
        assert!(Filter::parse("").unwrap().includes_table("any", Some("t")));
    }

    #[test]
    fn column_values_match_like_maxwell() {
        let f = Filter::parse("exclude: *.*, include: shop.orders.status=/^ship/").unwrap();
        assert!(f.includes_row("shop", "orders", row(&[("status", Some("shipped"))])));
        assert!(!f.includes_row("shop", "orders", row(&[("status", Some("new"))])));
        assert!(!f.includes_row("shop", "orders", row(&[("status", None)])));
        // Table-level decisions ignore column rules; they say the rows must be judged.
        assert!(!f.includes_table("shop", Some("orders")));
        assert!(f.has_column_rules_for("shop", "orders", |c| c == "status"));
        assert!(!f.has_column_rules_for("shop", "orders", |c| c == "other"));
        let nulls = Filter::parse("exclude: a.b.c=null").unwrap();
        assert!(!nulls.includes_row("a", "b", row(&[("c", None)])));
        assert!(!nulls.includes_row("a", "b", row(&[("c", Some("NULL"))])));
        assert!(nulls.includes_row("a", "b", row(&[("c", Some("x"))])));
        let any = Filter::parse("exclude: a.b.c=*").unwrap();
        assert!(!any.includes_row("a", "b", row(&[("c", None)])));
        assert!(
            any.includes_row("a", "b", row(&[])),
            "a missing column never matches"
        );
    }

    #[test]
    fn quoting_and_regexes_with_commas_and_dots() {
        let f = Filter::parse("exclude: `my.db`.'t,1', include: /^a.c$/./x{1,2}/").unwrap();
        assert!(!f.includes_table("my.db", Some("t,1")));
        assert!(f.includes_table("abc", Some("xx")));
        let f = Filter::parse("blacklist: secrets").unwrap();
        assert!(f.is_blacklisted("secrets", "anything"));
        assert!(!f.includes_table("secrets", None));
    }

    #[test]
    fn bad_rules_name_themselves() {
        for (text, index, says) in [
            ("include foo.bar", 1, "missing `include:`"),
            ("include: a.b, allow: c.d", 2, "`allow` is not"),
            ("include: a.b, exclude: a./(/", 2, "bad regex"),
            ("include: a.b.c", 1, "expected `=value`"),
            ("blacklist: a.b.c=1", 1, "whole tables"),
            ("include: a.`b", 1, "unclosed"),
        ] {
            let err = Filter::parse(text).unwrap_err();
            assert_eq!(err.index, index, "{text}: {err}");
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
    }
}
