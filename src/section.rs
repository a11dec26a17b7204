//! What every configuration section shares, and nothing else: the error that names a key,
//! secrets that never print, and checks of the files a key names.
//!
//! A leaf. Each component owns its section's struct (`source::SourceConfig`,
//! `sink::SinkConfig`, ...) and imports this module to validate it; `config` assembles the
//! sections and imports the components. Nothing here imports either, so the dependencies
//! run one way.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A configuration problem, naming the key when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("configuration key `{key}`: {message}")]
    Key { key: String, message: String },
    #[error("Maxwell option `{key}`: {message}")]
    Maxwell { key: String, message: String },
    #[error("configuration: {0}")]
    Other(String),
}

impl ConfigError {
    pub fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A password or other secret: never printed, not even in debug output.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for handing to a client library. Do not log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Checks at load time that a file a setting names can be opened, so a typo is a
/// configuration error naming the key rather than a failure at the first connection.
/// A database name as a config key may give it: 1 to 64 letters, digits, `_` or `$` (it is
/// pasted into SQL between backquotes). `Err` names the key.
pub(crate) fn plain_database(key: &str, name: &str) -> Result<(), ConfigError> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        Ok(())
    } else {
        Err(ConfigError::key(
            key,
            "must be a plain database name: 1 to 64 letters, digits, _ or $",
        ))
    }
}

pub(crate) fn readable_file(key: &str, path: Option<&Path>) -> Result<(), ConfigError> {
    let Some(path) = path else {
        return Ok(());
    };
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| ConfigError::key(key, format!("cannot read {}: {e}", path.display())))
}

/// The certificate files of a `[*.tls]` section: the client certificate and key come as a
/// pair, and every file given can be read. `section` is the key prefix, as
/// `source.tls`.
pub(crate) fn check_tls_files(
    section: &str,
    ca_file: Option<&Path>,
    client_cert_file: Option<&Path>,
    client_key_file: Option<&Path>,
) -> Result<(), ConfigError> {
    if client_cert_file.is_some() != client_key_file.is_some() {
        return Err(ConfigError::key(
            format!("{section}.client_cert_file"),
            "client_cert_file and client_key_file go together",
        ));
    }
    for (name, path) in [
        ("ca_file", ca_file),
        ("client_cert_file", client_cert_file),
        ("client_key_file", client_key_file),
    ] {
        readable_file(&format!("{section}.{name}"), path)?;
    }
    Ok(())
}

/// A secret from a file, without the trailing newline editors and `echo` add. The error
/// names the file, never its contents.
pub(crate) fn read_secret(key: &str, path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::key(key, format!("cannot read {}: {e}", path.display())))?;
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        return Err(ConfigError::key(
            key,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(secret.to_owned())
}

#[cfg(test)]
mod plain_database_tests {
    use super::plain_database;

    #[test]
    fn only_plain_database_names_pass() {
        assert!(plain_database("k", "maxwell").is_ok());
        assert!(plain_database("k", "mx_state$1").is_ok());
        for bad in ["", "a`b", "a b", "x".repeat(65).as_str(), "é"] {
            let e = plain_database("bootstrap.database", bad).expect_err(bad);
            assert!(e.to_string().contains("bootstrap.database"), "{e}");
        }
    }
}
