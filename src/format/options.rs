//! `[output]`: Maxwell's `output_*` options (names without the prefix) and
//! `exclude_columns`, with the defaults of Maxwell's code (`MaxwellOutputConfig`).
//!
//! [`OutputConfig`] is what the file says; [`OutputOptions`] is the checked, compiled form
//! the formatter uses (regexes built, field names run through the naming strategy once).

use serde::Deserialize;

use crate::section::ConfigError;

/// `[output]` as written in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// `position`: `"FILE:OFFSET"` of the rows event.
    pub binlog_position: bool,
    /// `gtid`: the transaction's GTID, `null` when the server sent none.
    pub gtid_position: bool,
    /// `xid` and `commit` (and so `xoffset`).
    pub commit_info: bool,
    /// `xoffset` on every row but a transaction's last. On in Maxwell's code (not its docs).
    pub xoffset: bool,
    /// Keep columns whose value is NULL in `data` and `old`.
    pub nulls: bool,
    /// `server_id` of the server that wrote the event.
    pub server_id: bool,
    /// `thread_id` of the client connection, from the transaction's BEGIN.
    pub thread_id: bool,
    /// `schema_id`: the version of the tracked schema the row was labelled with (1 for the
    /// first capture, one more for each change since). Maxwell's numbers come from its own
    /// store and differ; they only ever grow in both.
    pub schema_id: bool,
    /// `query`: the statement that changed the row (server's `binlog_rows_query_log_events`
    /// on MySQL, `binlog_annotate_row_events` on MariaDB).
    pub row_query: bool,
    /// Truncate `query` to this many characters; 0 keeps it whole.
    pub row_query_max_length: usize,
    /// `primary_key`: the row's primary key values.
    pub primary_keys: bool,
    /// `primary_key_columns`: the primary key's column names.
    pub primary_key_columns: bool,
    /// `push_ts`: wall-clock seconds, with microseconds, when the message was made.
    pub push_timestamp: bool,
    /// A message for every schema change the history follows (`table-create`, ...).
    pub ddl: bool,
    /// Zero DATE/DATETIME/TIMESTAMP values as `null` instead of `0000-00-00...`.
    pub null_zerodates: bool,
    /// `none`, or `underscore_to_camelcase` for field and column names.
    pub naming_strategy: NamingStrategy,
    /// Columns left out of `data` and `old`: exact names, or `/regex/` (whole-name match).
    pub exclude_columns: Vec<String>,
    /// Maxwell's `encrypt`: `none`, `data` (`data` and `old` sealed) or `all` (the whole
    /// message sealed), with AES-CBC as Maxwell does it (`docs/format.md`).
    pub encrypt: super::EncryptMode,
    /// Maxwell's `secret_key`: the AES key as text, whose UTF-8 bytes (16, 24 or 32) are
    /// the key. Never logged.
    pub secret_key: crate::section::Secret,
    /// A file holding `secret_key` (a trailing newline is not part of it).
    pub secret_key_file: Option<std::path::PathBuf>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            binlog_position: false,
            gtid_position: false,
            commit_info: true,
            xoffset: true,
            nulls: true,
            server_id: false,
            thread_id: false,
            schema_id: false,
            row_query: false,
            row_query_max_length: 0,
            primary_keys: false,
            primary_key_columns: false,
            push_timestamp: false,
            ddl: false,
            null_zerodates: false,
            naming_strategy: NamingStrategy::None,
            exclude_columns: Vec::new(),
            encrypt: super::EncryptMode::None,
            secret_key: crate::section::Secret::default(),
            secret_key_file: None,
        }
    }
}

/// How field and column names are spelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamingStrategy {
    #[default]
    None,
    /// `server_id` → `serverId`, `first_name` → `firstName`.
    UnderscoreToCamelcase,
}

impl NamingStrategy {
    /// Renames `name` as Maxwell's `FieldNameStrategy` does: each `_x` becomes `x`
    /// upper-cased (only lower-case letters change), leading and trailing underscores go,
    /// and a name of nothing but underscores stays as it is.
    pub fn apply(self, name: &str) -> String {
        if self == Self::None {
            return name.to_owned();
        }
        let chars: Vec<char> = name.chars().collect();
        let mut out = String::with_capacity(name.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '_' {
                if !out.is_empty() && i + 1 < chars.len() {
                    i += 1;
                    let next = chars[i];
                    if next.is_lowercase() {
                        let mut upper = next.to_uppercase();
                        match (upper.next(), upper.next()) {
                            (Some(u), None) => out.push(u),
                            _ => out.push(next),
                        }
                    } else {
                        out.push(next);
                    }
                }
            } else {
                out.push(c);
            }
            i += 1;
        }
        if out.is_empty() { name.to_owned() } else { out }
    }
}

/// Matches column names to leave out.
#[derive(Debug, Clone)]
struct ColumnPattern(regex::Regex);

/// The checked form of [`OutputConfig`] the formatter works with.
#[derive(Debug, Clone)]
pub struct OutputOptions {
    pub config: OutputConfig,
    exclude: Vec<ColumnPattern>,
    /// Top-level field names after the naming strategy.
    pub names: FieldNames,
    /// Column masks (`[masking]`).
    pub masking: std::sync::Arc<super::mask::Masking>,
    /// Seals finished messages when `encrypt` is on.
    pub sealer: Option<std::sync::Arc<super::Sealer>>,
}

/// Maxwell's top-level field names, renamed once by the naming strategy.
#[derive(Debug, Clone)]
pub struct FieldNames {
    pub database: String,
    pub table: String,
    pub query: String,
    pub kind: String,
    pub ts: String,
    pub xid: String,
    pub xoffset: String,
    pub commit: String,
    pub position: String,
    pub gtid: String,
    pub server_id: String,
    pub thread_id: String,
    pub schema_id: String,
    pub push_ts: String,
    pub primary_key: String,
    pub primary_key_columns: String,
    pub data: String,
    pub old: String,
}

impl OutputConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.compile().map(|_| ())
    }

    /// Checks the options and builds what the formatter needs.
    /// Compiles with column masks.
    pub fn compile_with(
        &self,
        masking: super::mask::Masking,
    ) -> Result<OutputOptions, ConfigError> {
        let mut options = self.compile()?;
        options.masking = std::sync::Arc::new(masking);
        Ok(options)
    }

    pub fn compile(&self) -> Result<OutputOptions, ConfigError> {
        let mut exclude = Vec::with_capacity(self.exclude_columns.len());
        for entry in &self.exclude_columns {
            let entry = entry.trim();
            let pattern = match entry.strip_prefix('/') {
                Some(rest) => {
                    let inner = rest.strip_suffix('/').ok_or_else(|| {
                        ConfigError::key(
                            "output.exclude_columns",
                            format!("{entry:?} starts a /regex/ but does not end with /"),
                        )
                    })?;
                    // Java's Pattern.matches: the whole name must match.
                    format!("^(?:{inner})$")
                }
                None => format!("^{}$", regex::escape(entry)),
            };
            let re = regex::Regex::new(&pattern).map_err(|e| {
                ConfigError::key(
                    "output.exclude_columns",
                    format!("{entry:?} is not a valid regular expression: {e}"),
                )
            })?;
            exclude.push(ColumnPattern(re));
        }
        let names = FieldNames::new(self.naming_strategy);
        let sealer = super::Sealer::new(self.encrypt, self.secret_key.expose())
            .map_err(|message| ConfigError::key("output.secret_key", message))?
            .map(std::sync::Arc::new);
        Ok(OutputOptions {
            config: self.clone(),
            exclude,
            names,
            masking: Default::default(),
            sealer,
        })
    }
}

impl OutputOptions {
    /// Whether `exclude_columns` leaves this column out of `data` and `old`.
    pub fn excludes(&self, column: &str) -> bool {
        self.exclude.iter().any(|p| p.0.is_match(column))
    }
}

impl Default for OutputOptions {
    fn default() -> Self {
        Self {
            config: OutputConfig::default(),
            exclude: Vec::new(),
            names: FieldNames::new(NamingStrategy::None),
            masking: Default::default(),
            sealer: None,
        }
    }
}

impl FieldNames {
    fn new(strategy: NamingStrategy) -> Self {
        let n = |name: &str| strategy.apply(name);
        Self {
            database: n("database"),
            table: n("table"),
            query: n("query"),
            kind: n("type"),
            ts: n("ts"),
            xid: n("xid"),
            xoffset: n("xoffset"),
            commit: n("commit"),
            position: n("position"),
            gtid: n("gtid"),
            server_id: n("server_id"),
            thread_id: n("thread_id"),
            schema_id: n("schema_id"),
            push_ts: n("push_ts"),
            primary_key: n("primary_key"),
            primary_key_columns: n("primary_key_columns"),
            data: n("data"),
            old: n("old"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_follows_maxwell() {
        let s = NamingStrategy::UnderscoreToCamelcase;
        assert_eq!(s.apply("server_id"), "serverId");
        assert_eq!(s.apply("primary_key_columns"), "primaryKeyColumns");
        assert_eq!(s.apply("_leading"), "leading");
        assert_eq!(s.apply("trailing_"), "trailing");
        assert_eq!(s.apply("a__b"), "a_b");
        assert_eq!(s.apply("a_B"), "aB");
        assert_eq!(s.apply("a_1"), "a1");
        assert_eq!(s.apply("___"), "___");
        assert_eq!(s.apply("plain"), "plain");
        assert_eq!(NamingStrategy::None.apply("server_id"), "server_id");
    }

    #[test]
    fn exclude_columns_match_whole_names() {
        let o = OutputConfig {
            exclude_columns: vec!["password".into(), "/secret_.*/".into()],
            ..OutputConfig::default()
        }
        .compile()
        .unwrap();
        assert!(o.excludes("password"));
        assert!(!o.excludes("password2"));
        assert!(o.excludes("secret_a"));
        assert!(!o.excludes("my_secret_a"));
    }

    #[test]
    fn bad_options_name_the_key() {
        let bad = OutputConfig {
            exclude_columns: vec!["/open".into()],
            ..OutputConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("output.exclude_columns")
        );
        let bad = OutputConfig {
            exclude_columns: vec!["/(/".into()],
            ..OutputConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("output.exclude_columns")
        );
        let ddl = OutputConfig {
            ddl: true,
            schema_id: true,
            ..OutputConfig::default()
        };
        assert!(ddl.validate().is_ok());
    }
}
