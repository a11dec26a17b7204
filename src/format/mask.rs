//! Column masking: keeping personal data out of the stream.
//!
//! Maxwell can only drop columns (`exclude_columns`), and only from `data` and `old`.
//! Here a rule picks tables with a `db.table` pattern and names columns to
//!
//! - `drop`: left out of `data` and `old`, and `null` in `primary_key`;
//! - `null`: written as `null`;
//! - `redact`: written as a fixed string (`redact_text`, default `"[redacted]"`);
//! - `hash`: written as the hex HMAC-SHA256 of the value's JSON text under a secret key, so
//!   equal values stay equal (joinable) without being readable.
//!
//! Masks apply to the rendered values themselves, so `data`, `old` and `primary_key` all
//! carry the masked form and no message ever holds the clear value. SQL NULL stays `null`.
//! The key is read from a file or an environment variable at start-up and never printed.

use std::path::PathBuf;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::json::write_str;
use crate::filter::TablePattern;
use crate::section::ConfigError;

const DEFAULT_REDACT_TEXT: &str = "[redacted]";

/// `[masking]`: the key for `hash`, and the rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    /// A file holding the HMAC key (its bytes, trailing newline removed).
    #[serde(default)]
    pub hash_key_file: Option<PathBuf>,
    /// The name of an environment variable holding the HMAC key.
    #[serde(default)]
    pub hash_key_env: Option<String>,
    #[serde(default)]
    pub rules: Vec<MaskRuleConfig>,
}

/// `[[masking.rules]]`: columns to mask in the tables `tables` matches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskRuleConfig {
    /// `db.table`, with `*`, exact names or `/regex/` as in filters.
    pub tables: String,
    #[serde(default)]
    pub drop: Vec<String>,
    #[serde(default)]
    pub null: Vec<String>,
    #[serde(default)]
    pub redact: Vec<String>,
    #[serde(default)]
    pub hash: Vec<String>,
    /// What `redact` writes instead of the value.
    #[serde(default)]
    pub redact_text: Option<String>,
}

/// What happens to one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mask {
    Keep,
    Drop,
    Null,
    /// The replacement, already a JSON string.
    Redact(Arc<[u8]>),
    Hash,
}

/// A hashed value as JSON: a quoted 64-digit hex string, or `null` without a key.
pub enum HashText {
    Hex([u8; 66]),
    Null,
}

impl std::ops::Deref for HashText {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            HashText::Hex(text) => text,
            HashText::Null => b"null",
        }
    }
}

/// The compiled rules and key.
#[derive(Clone, Default)]
pub struct Masking {
    rules: Vec<(TablePattern, Vec<(String, Mask)>)>,
    /// HMAC-SHA256 already keyed: each value costs a clone and two compressions, not a
    /// re-keying.
    key: Option<Hmac<Sha256>>,
}

impl std::fmt::Debug for Masking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masking")
            .field("rules", &self.rules.len())
            .field("key", &self.key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl MaskingConfig {
    /// Checks the rules and reads the key. `env` looks up environment variables.
    pub fn compile(&self, env: impl Fn(&str) -> Option<String>) -> Result<Masking, ConfigError> {
        let mut rules = Vec::new();
        let mut wants_key = false;
        for (n, rule) in self.rules.iter().enumerate() {
            let key = format!("masking.rules[{n}].tables");
            let pattern = TablePattern::parse(&rule.tables)
                .map_err(|e| ConfigError::key(&key, format!("{:?}: {e}", rule.tables)))?;
            let mut redacted = Vec::new();
            write_str(
                &mut redacted,
                rule.redact_text.as_deref().unwrap_or(DEFAULT_REDACT_TEXT),
            );
            let redacted: Arc<[u8]> = redacted.into();
            let mut columns = Vec::new();
            for (names, mask) in [
                (&rule.drop, Mask::Drop),
                (&rule.null, Mask::Null),
                (&rule.redact, Mask::Redact(redacted.clone())),
                (&rule.hash, Mask::Hash),
            ] {
                for name in names {
                    if columns
                        .iter()
                        .any(|(c, _): &(String, Mask)| same_column(c, name))
                    {
                        return Err(ConfigError::key(
                            format!("masking.rules[{n}]"),
                            format!("column `{name}` has more than one mask"),
                        ));
                    }
                    wants_key |= mask == Mask::Hash;
                    columns.push((name.clone(), mask.clone()));
                }
            }
            if columns.is_empty() {
                return Err(ConfigError::key(
                    format!("masking.rules[{n}]"),
                    "names no column: list some under drop, null, redact or hash",
                ));
            }
            rules.push((pattern, columns));
        }
        let key = match (&self.hash_key_file, &self.hash_key_env) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::key(
                    "masking.hash_key_file",
                    "set hash_key_file or hash_key_env, not both",
                ));
            }
            (Some(path), None) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    ConfigError::key(
                        "masking.hash_key_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(trim_newline(bytes))
            }
            (None, Some(var)) => Some(trim_newline(
                env(var)
                    .ok_or_else(|| {
                        ConfigError::key(
                            "masking.hash_key_env",
                            format!("the environment variable {var} is not set"),
                        )
                    })?
                    .into_bytes(),
            )),
            (None, None) => None,
        };
        match &key {
            Some(k) if k.len() < 16 => {
                return Err(ConfigError::key(
                    "masking.hash_key_file",
                    "the hash key is shorter than 16 bytes; use at least 32 random bytes",
                ));
            }
            None if wants_key => {
                return Err(ConfigError::key(
                    "masking.hash_key_file",
                    "a rule hashes columns, but no key is set: set hash_key_file or hash_key_env",
                ));
            }
            _ => {}
        }
        // Any key length is accepted by HMAC; `new_from_slice` cannot fail for it.
        let key = match key {
            Some(k) => Some(Hmac::<Sha256>::new_from_slice(&k).map_err(|_| {
                ConfigError::key(
                    "masking.hash_key_file",
                    "the hash key cannot key HMAC-SHA256",
                )
            })?),
            None => None,
        };
        Ok(Masking { rules, key })
    }
}

/// Whether two column names name the same column: MySQL compares them without case.
fn same_column(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || (!a.is_ascii() && a.to_lowercase() == b.to_lowercase())
}

fn trim_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    bytes
}

impl Masking {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The mask of each column of a table (the first rule naming a column wins), and the
    /// masked column names the table does not have.
    pub fn masks_for(
        &self,
        database: &str,
        table: &str,
        columns: &[String],
    ) -> (Vec<Mask>, Vec<String>) {
        let mut masks = vec![Mask::Keep; columns.len()];
        let mut missing = Vec::new();
        for (pattern, rule) in &self.rules {
            if !pattern.matches(database, table) {
                continue;
            }
            for (name, mask) in rule {
                // Column names are case-insensitive in MySQL: `Email` masks `email`.
                match columns.iter().position(|c| same_column(c, name)) {
                    Some(i) if masks[i] == Mask::Keep => masks[i] = mask.clone(),
                    Some(_) => {}
                    None => missing.push(name.clone()),
                }
            }
        }
        (masks, missing)
    }

    /// Checks the rules against the tables known at start-up (`tables` yields each table's
    /// database, name and column names): one line per rule that matches no table, and per
    /// masked column that none of its tables has, for the operator to fix a misspelling
    /// before personal data goes out under the wrong name.
    pub fn unmatched<'a>(
        &self,
        tables: impl Iterator<Item = (&'a str, &'a str, Vec<&'a str>)> + Clone,
    ) -> Vec<String> {
        let mut report = Vec::new();
        for (pattern, rule) in &self.rules {
            let matching: Vec<Vec<&str>> = tables
                .clone()
                .filter(|(db, table, _)| pattern.matches(db, table))
                .map(|(_, _, columns)| columns)
                .collect();
            if matching.is_empty() {
                report.push(format!(
                    "masking rule for tables {pattern} matches no table"
                ));
                continue;
            }
            for (name, _) in rule {
                if !matching
                    .iter()
                    .any(|columns| columns.iter().any(|c| same_column(c, name)))
                {
                    report.push(format!(
                        "masking rule for tables {pattern} names column {name:?}, which none of its {} table(s) has",
                        matching.len()
                    ));
                }
            }
        }
        report
    }

    /// `"<hex HMAC-SHA256 of value>"` (or `null` with no key), built on the stack so a value
    /// can be hashed from the buffer the hash is then written to.
    pub fn hash(&self, value: &[u8]) -> HashText {
        let Some(keyed) = &self.key else {
            return HashText::Null;
        };
        let mut mac = keyed.clone();
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'"'; 66];
        for (i, byte) in digest.iter().enumerate() {
            text[1 + 2 * i] = HEX[usize::from(byte >> 4)];
            text[2 + 2 * i] = HEX[usize::from(byte & 0x0f)];
        }
        HashText::Hex(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rules: Vec<MaskRuleConfig>) -> MaskingConfig {
        MaskingConfig {
            hash_key_env: Some("KEY".into()),
            rules,
            ..Default::default()
        }
    }

    #[test]
    fn rules_are_checked_against_the_tables_at_start_up() {
        let m = config(vec![
            MaskRuleConfig {
                tables: "tis./^pers/".into(),
                hash: vec!["nhs_number".into(), "nhs_numbr".into()],
                ..Default::default()
            },
            MaskRuleConfig {
                tables: "tis.gone".into(),
                drop: vec!["x".into()],
                ..Default::default()
            },
        ])
        .compile(env)
        .unwrap();
        let tables = [
            ("tis", "person", vec!["id", "nhs_number"]),
            ("tis", "personal", vec!["id"]),
            ("tis", "post", vec!["nhs_numbr"]),
        ];
        let report = m.unmatched(tables.iter().map(|(d, t, c)| (*d, *t, c.clone())));
        assert_eq!(
            report,
            [
                "masking rule for tables tis./^pers/ names column \"nhs_numbr\", which none of its 2 table(s) has",
                "masking rule for tables tis.gone matches no table",
            ]
        );
    }

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "0123456789abcdef0123456789abcdef\n".to_owned())
    }

    #[test]
    fn rules_pick_tables_and_columns() {
        let m = config(vec![
            MaskRuleConfig {
                tables: "tis.person".into(),
                hash: vec!["nhs_number".into()],
                drop: vec!["notes".into()],
                ..Default::default()
            },
            MaskRuleConfig {
                tables: "tis./^pers/".into(),
                null: vec!["dob".into(), "nhs_number".into()],
                redact: vec!["email".into()],
                redact_text: Some("xx".into()),
                ..Default::default()
            },
        ])
        .compile(env)
        .unwrap();
        let columns: Vec<String> = ["id", "nhs_number", "notes", "dob", "email"]
            .map(String::from)
            .to_vec();
        let (masks, missing) = m.masks_for("tis", "person", &columns);
        assert_eq!(
            masks,
            [
                Mask::Keep,
                Mask::Hash,
                Mask::Drop,
                Mask::Null,
                Mask::Redact(Arc::from(&b"\"xx\""[..]))
            ]
        );
        assert!(missing.is_empty());
        // Column names match without case, as in MySQL.
        let upper: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
        assert_eq!(m.masks_for("tis", "person", &upper).0, masks);
        let (masks, missing) = m.masks_for("tis", "personal", &["id".to_owned()]);
        assert_eq!(masks, [Mask::Keep]);
        assert_eq!(missing, ["dob", "nhs_number", "email"]);
        assert!(
            m.masks_for("other", "person", &columns)
                .0
                .iter()
                .all(|x| *x == Mask::Keep)
        );
    }

    #[test]
    fn hashes_are_keyed_stable_and_never_show_the_key() {
        let m = config(vec![MaskRuleConfig {
            tables: "*.*".into(),
            hash: vec!["x".into()],
            ..Default::default()
        }])
        .compile(env)
        .unwrap();
        let a = m.hash(b"\"9434765919\"").to_vec();
        let b = m.hash(b"\"9434765919\"").to_vec();
        let c = m.hash(b"\"9434765920\"").to_vec();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 66);
        assert!(!format!("{m:?}").contains("0123456789"));
        // Another key, another hash.
        let other = MaskingConfig {
            hash_key_env: Some("KEY".into()),
            rules: vec![MaskRuleConfig {
                tables: "*.*".into(),
                hash: vec!["x".into()],
                ..Default::default()
            }],
            ..Default::default()
        }
        .compile(|_| Some("another key of sixteen+ bytes".into()))
        .unwrap();
        let d = other.hash(b"\"9434765919\"").to_vec();
        assert_ne!(a, d);
    }

    #[test]
    fn bad_settings_are_named_without_the_key() {
        let no_key = MaskingConfig {
            rules: vec![MaskRuleConfig {
                tables: "a.b".into(),
                hash: vec!["x".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = no_key.compile(env).unwrap_err().to_string();
        assert!(err.contains("no key is set"), "{err}");
        let short = config(vec![])
            .compile(|_| Some("short".into()))
            .unwrap_err();
        assert!(short.to_string().contains("shorter than 16"), "{short}");
        assert!(!short.to_string().contains("short\""), "{short}");
        let twice = config(vec![MaskRuleConfig {
            tables: "a.b".into(),
            hash: vec!["x".into()],
            null: vec!["x".into()],
            ..Default::default()
        }])
        .compile(env)
        .unwrap_err();
        assert!(twice.to_string().contains("more than one mask"), "{twice}");
        let unset = config(vec![]).compile(|_| None).unwrap_err();
        assert!(unset.to_string().contains("KEY is not set"), "{unset}");
    }
}
