//! The daemon's configuration: one TOML file layered under `BINLOG_RELAY__*` environment
//! variables, checked completely before anything connects.
//!
//! Each component owns its section's struct (`source::SourceConfig`, `sink::SinkConfig`,
//! `checkpoint::CheckpointConfig`); this module only stitches them together, loads them with
//! the `config` crate, and turns every problem into a [`ConfigError`] that names the key and
//! says what to write instead. Unknown keys are errors, not silently ignored: a misspelt key
//! in a CDC daemon's config usually means data going to the wrong place.

pub mod maxwell;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::checkpoint::CheckpointConfig;
use crate::filter::FilterConfig;
use crate::format::mask::MaskingConfig;
use crate::format::{OutputConfig, TransactionsConfig};
use crate::http::HttpConfig;
use crate::reconnect::ReconnectConfig;
use crate::section::{ConfigError, Secret, read_secret};
use crate::shutdown::ShutdownConfig;
use crate::sink::SinkConfig;
use crate::source::SourceConfig;

/// Environment variables with this prefix (followed by `__`) override file keys.
pub const ENV_PREFIX: &str = "BINLOG_RELAY";
/// Separates the prefix and the key path in environment variable names:
/// `BINLOG_RELAY__SOURCE__PORT` is `source.port`.
pub const ENV_SEPARATOR: &str = "__";

/// The whole configuration, as validated at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The MySQL/MariaDB server to replicate from.
    pub source: SourceConfig,
    /// Where messages go.
    #[serde(default)]
    pub sink: SinkConfig,
    /// Where the position of the last delivered transaction is kept.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// Which tables and rows are published (Maxwell's `filter`).
    #[serde(default)]
    pub filter: FilterConfig,
    /// What each message contains (Maxwell's `output_*` options).
    #[serde(default)]
    pub output: OutputConfig,
    /// Column masks for personal data.
    #[serde(default)]
    pub masking: MaskingConfig,
    /// Where an open transaction's rows wait for its commit.
    #[serde(default)]
    pub transactions: TransactionsConfig,
    /// Pauses before resuming after a lost connection.
    #[serde(default)]
    pub reconnect: ReconnectConfig,
    /// How long a stop may take.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// The `/metrics`, `/healthz` and `/readyz` endpoint.
    #[serde(default)]
    pub http: HttpConfig,
    /// Where bootstrap requests are kept (Maxwell's `bootstrap` table).
    #[serde(default)]
    pub bootstrap: crate::source::snapshot::BootstrapConfig,
}

impl Config {
    /// Loads the file at `path` (if any) and the process environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment, so tests need not touch the
    /// process's own.
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        if let Some(path) = path
            && !path.is_file()
        {
            return Err(ConfigError::File {
                path: path.to_owned(),
                message: "no such file".into(),
            });
        }
        let file = path.map(|p| {
            config::File::from(p)
                .format(config::FileFormat::Toml)
                .required(true)
        });
        Self::build(file, env, path)
    }

    /// Loads a Maxwell `config.properties` (with the environment variables Maxwell reads)
    /// through its TOML translation ([`maxwell`]); `BINLOG_RELAY__*` variables still
    /// override. Returns the translation too: its warnings name the Maxwell options that
    /// were accepted but have no effect, for the caller to log, and `config from-maxwell`
    /// prints it.
    pub fn load_maxwell(path: &Path) -> Result<(Self, maxwell::Translation), ConfigError> {
        Self::load_maxwell_with_env(path, std::env::vars())
    }

    /// Like [`Config::load_maxwell`] with an explicit environment.
    pub fn load_maxwell_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, maxwell::Translation), ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut props = maxwell::read_file(path)?;
        maxwell::apply_environment(&mut props, &env);
        let translation = maxwell::translate(props)?;
        let text = translation.to_toml(maxwell::Secrets::Shown);
        let file = config::File::from_str(&text, config::FileFormat::Toml);
        let config = Self::build(Some(file), env, None).map_err(|e| match e {
            // Name the option the operator wrote, not only ours.
            ConfigError::Key { key, message } => match translation.origin(&key) {
                Some(origin) => ConfigError::Maxwell {
                    key: origin.to_owned(),
                    message: format!("{message} (binlog-relay's {key})"),
                },
                None => ConfigError::Key { key, message },
            },
            other => other,
        })?;
        Ok((config, translation))
    }

    fn build<F>(
        file: Option<config::File<F, config::FileFormat>>,
        env: impl IntoIterator<Item = (String, String)>,
        path: Option<&Path>,
    ) -> Result<Self, ConfigError>
    where
        config::File<F, config::FileFormat>: config::Source + Send + Sync + 'static,
    {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(file);
        }
        let env_prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
        let overrides: config::Map<String, String> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(&env_prefix))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator(ENV_SEPARATOR)
                .separator(ENV_SEPARATOR)
                // No `try_parsing`: it would turn a password or key of digits into a
                // number ("007" into 7). Values stay text, and a numeric or boolean key
                // parses its text when it is read.
                .source(Some(overrides)),
        );
        let raw = builder.build().map_err(|e| classify(e, path))?;
        let mut config: Config = raw.try_deserialize().map_err(|e| classify(e, path))?;
        config.read_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    /// Replaces passwords with the contents of their `*_file` keys. A trailing newline is
    /// not part of the secret. Setting both a secret and its file is an error: which one
    /// wins would be a guess.
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.source.password_file {
            if !self.source.password.expose().is_empty() {
                return Err(ConfigError::key(
                    "source.password_file",
                    "set source.password or source.password_file, not both",
                ));
            }
            self.source.password = Secret::new(read_secret("source.password_file", path)?);
        }
        if let Some(path) = &self.output.secret_key_file {
            if !self.output.secret_key.expose().is_empty() {
                return Err(ConfigError::key(
                    "output.secret_key_file",
                    "set output.secret_key or output.secret_key_file, not both",
                ));
            }
            self.output.secret_key = Secret::new(read_secret("output.secret_key_file", path)?);
        }
        let rabbit = &mut self.sink.rabbitmq;
        if let Some(path) = &rabbit.password_file {
            let password = read_secret("sink.rabbitmq.password_file", path)?;
            let mut uri: lapin::uri::AMQPUri = rabbit.uri.expose().parse().map_err(|_| {
                ConfigError::key(
                    "sink.rabbitmq.uri",
                    "not an AMQP URI; expected amqp://USER@HOST:PORT/VHOST with password_file",
                )
            })?;
            uri.authority.userinfo.password = password;
            rabbit.uri = Secret::new(uri.to_string());
        }
        Ok(())
    }

    /// Checks values that deserialised but make no sense together or on their own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.source.validate()?;
        self.sink.validate()?;
        self.checkpoint.validate()?;
        self.output.validate()?;
        self.filter.compile()?;
        self.masking.compile(|name| std::env::var(name).ok())?;
        self.transactions.validate()?;
        self.reconnect.validate()?;
        self.shutdown.validate()?;
        self.http.validate()?;
        self.bootstrap.validate()?;
        if self.checkpoint.store == crate::checkpoint::StoreKind::Database
            && self.checkpoint.database == self.bootstrap.database
        {
            return Err(ConfigError::key(
                "bootstrap.database",
                "must differ from checkpoint.database: binlog-relay reads nothing of its state database from the binlog, and bootstrap reads its requests and marks there",
            ));
        }
        Ok(())
    }
}

/// Turns a `config` crate error into one that names the key where it can.
fn classify(err: config::ConfigError, path: Option<&Path>) -> ConfigError {
    match err {
        config::ConfigError::NotFound(key) => ConfigError::key(key, "is required but missing"),
        config::ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => {
            // A string's text may be a secret typed into the wrong key: name its kind only.
            let found = unexpected.to_string();
            let found = if found.starts_with("string") {
                "a string".to_owned()
            } else {
                found
            };
            ConfigError::key(key, format!("expected {expected}, found {found}"))
        }
        config::ConfigError::Foreign(e) => match path {
            Some(p) => ConfigError::File {
                path: p.to_owned(),
                message: e.to_string(),
            },
            None => ConfigError::Other(e.to_string()),
        },
        config::ConfigError::FileParse { uri, cause } => ConfigError::File {
            path: uri.map(PathBuf::from).unwrap_or_default(),
            message: without_quoted_lines(&cause.to_string()),
        },
        config::ConfigError::At { error, key, .. } => match (*error, key) {
            (config::ConfigError::Message(m), Some(key)) => ConfigError::key(key, m),
            (inner, _) => classify(inner, path),
        },
        other => ConfigError::Other(missing_field_hint(other.to_string())),
    }
}

/// A parser's message without the lines of the file it quotes (` 3 | password = "..."`):
/// the position and the reason stay, a secret on the offending line does not reach the log.
fn without_quoted_lines(message: &str) -> String {
    let quoted = |line: &str| {
        let t = line.trim_start();
        let t = t
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        t.starts_with('|')
    };
    message
        .lines()
        .filter(|l| !l.trim().is_empty() && !quoted(l))
        .collect::<Vec<_>>()
        .join(": ")
}

/// serde says "missing field `host`"; say where it belongs and how to set it.
fn missing_field_hint(message: String) -> String {
    if message.starts_with("missing field") {
        format!(
            "{message}: every required key must be set in the file or as {ENV_PREFIX}{ENV_SEPARATOR}SECTION{ENV_SEPARATOR}KEY"
        )
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::SinkKind;
    use crate::source::StartFrom;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load_with_env(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn a_syntax_error_names_the_position_but_never_quotes_the_line() {
        let err = load("[source]\nhost = \"db\"\npassword = \"s3cretpw\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains("s3cretpw"), "{err}");
        // A string in a key of another type is named by its kind, not its text.
        let err = load("[source]\nhost = \"db\"\nport = \"s3cretpw\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("source.port"), "{err}");
        assert!(!err.contains("s3cretpw"), "{err}");
    }

    #[test]
    fn minimal_file_gets_maxwell_defaults() {
        let c = load("[source]\nhost = \"db\"\n", &[]).unwrap();
        assert_eq!(c.source.host, "db");
        assert_eq!(c.source.port, 3306);
        assert_eq!(c.source.server_id, 6379);
        assert_eq!(c.source.start, StartFrom::Latest);
        assert_eq!(c.sink.kind, SinkKind::Rabbitmq);
        assert_eq!(c.sink.rabbitmq.exchange, "maxwell");
        assert_eq!(c.sink.rabbitmq.exchange_type, "fanout");
        assert_eq!(c.sink.rabbitmq.routing_key_template, "%db%.%table%");
        assert!(!c.sink.rabbitmq.persistent);
        assert!(c.sink.rabbitmq.declare_exchange);
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load(
            "[source]\nhost = \"db\"\nport = 3306\n",
            &[
                ("BINLOG_RELAY__SOURCE__PORT", "3307"),
                ("BINLOG_RELAY__SOURCE__PASSWORD", "12345"),
                ("BINLOG_RELAY__SINK__RABBITMQ__EXCHANGE", "cdc"),
                ("BINLOG_RELAY__SINK__RABBITMQ__PERSISTENT", "true"),
                ("UNRELATED", "x"),
            ],
        )
        .unwrap();
        assert_eq!(c.source.port, 3307);
        assert_eq!(c.source.password.expose(), "12345");
        assert_eq!(c.sink.rabbitmq.exchange, "cdc");
        assert!(c.sink.rabbitmq.persistent);
    }

    /// A secret that looks like a number is the text it was given, leading zeros, dots and
    /// exponents included; numbers and switches still read theirs.
    #[test]
    fn a_secret_of_digits_from_the_environment_keeps_its_text() {
        let file = "[source]\nhost = \"db\"\n";
        let env = [
            ("BINLOG_RELAY__SOURCE__PASSWORD", "007"),
            ("BINLOG_RELAY__OUTPUT__ENCRYPT", "data"),
            ("BINLOG_RELAY__OUTPUT__SECRET_KEY", "0000111122223333"),
            ("BINLOG_RELAY__SOURCE__PORT", "03307"),
            ("BINLOG_RELAY__SINK__RABBITMQ__PERSISTENT", "false"),
        ];
        let c = load(file, &env).unwrap();
        assert_eq!(c.source.password.expose(), "007");
        assert_eq!(c.output.secret_key.expose(), "0000111122223333");
        assert_eq!(c.source.port, 3307);
        assert!(!c.sink.rabbitmq.persistent);
        let c = load(file, &[("BINLOG_RELAY__SOURCE__PASSWORD", "1.50")]).unwrap();
        assert_eq!(c.source.password.expose(), "1.50");
        // A number the key cannot read as an integer is named.
        let err = load(file, &[("BINLOG_RELAY__SOURCE__SERVER_ID", "1e3")]).unwrap_err();
        assert!(err.to_string().contains("source.server_id"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load("[source]\nhost = \"db\"\nhots = 1\n", &[]).unwrap_err();
        assert!(err.to_string().contains("hots"), "{err}");
        let err = load(
            "[source]\nhost = \"db\"\n",
            &[("BINLOG_RELAY__SINK__RABBITMQ__EXCHANGE_TYP", "topic")],
        )
        .unwrap_err();
        assert!(err.to_string().contains("exchange_typ"), "{err}");
    }

    #[test]
    fn missing_host_is_named() {
        let err = load("[source]\nport = 3306\n", &[]).unwrap_err();
        assert!(err.to_string().contains("host"), "{err}");
        let err = load("[source]\nhost = \"\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("source.host"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = load("[source]\nhost = \"db\"\nstart = \"bin.1:x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("source.start"), "{err}");
        let err = load("[source]\nhost = \"db\"\nport = \"abc\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
        let err = load("[source]\nhost = \"db\"\nserver_id = 0\n", &[]).unwrap_err();
        assert!(err.to_string().contains("source.server_id"), "{err}");
        let err = load(
            "[source]\nhost = \"db\"\n[sink.rabbitmq]\nexchange_type = \"fan\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("sink.rabbitmq.exchange_type"),
            "{err}"
        );
        let err = load("[source]\nhost = \"db\"\n[sink]\ntype = \"kafka\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("kafka"), "{err}");
    }

    #[test]
    fn output_options_default_to_maxwells_code_defaults() {
        let c = load("[source]\nhost = \"db\"\n", &[]).unwrap();
        assert!(c.output.commit_info && c.output.xoffset && c.output.nulls);
        assert!(!c.output.binlog_position && !c.output.primary_keys && !c.output.ddl);
        let c = load(
            "[source]\nhost = \"db\"\n[output]\nnaming_strategy = \"underscore_to_camelcase\"\nexclude_columns = [\"password\"]\n",
            &[("BINLOG_RELAY__OUTPUT__BINLOG_POSITION", "true")],
        )
        .unwrap();
        assert!(c.output.binlog_position);
        assert_eq!(c.output.exclude_columns, vec!["password".to_string()]);
        let err = load(
            "[source]\nhost = \"db\"\n[output]\nnaming_strategy = \"kebab\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("kebab"), "{err}");
        let err = load("[source]\nhost = \"db\"\n[output]\nnull = false\n", &[]).unwrap_err();
        assert!(err.to_string().contains("null"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let c = load("[source]\nhost = \"db\"\npassword = \"hunter2\"\n", &[]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn maxwell_properties_load_with_our_defaults_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.properties");
        std::fs::write(
            &path,
            "host=db\nuser=maxwell\npassword=pw\nproducer=rabbitmq\n\
             rabbitmq_exchange=tis\nenv_config_prefix=MAXWELL_\nlog_level=info\n",
        )
        .unwrap();
        let env = [
            ("MAXWELL_RABBITMQ_EXCHANGE_TYPE", "topic"),
            ("BINLOG_RELAY__SOURCE__PORT", "3307"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (c, translation) = Config::load_maxwell_with_env(&path, env).unwrap();
        let warnings = translation.warnings;
        assert_eq!(c.source.host, "db");
        assert_eq!(c.source.port, 3307);
        assert_eq!(c.source.password.expose(), "pw");
        assert_eq!(c.sink.kind, SinkKind::Rabbitmq);
        assert_eq!(c.sink.rabbitmq.exchange, "tis");
        assert_eq!(c.sink.rabbitmq.exchange_type, "topic");
        assert_eq!(
            c.sink.rabbitmq.uri.expose(),
            "amqp://guest:guest@localhost:5672/%2F"
        );
        // Our own defaults where Maxwell has no such option.
        assert_eq!(c.checkpoint.dir, PathBuf::from("/var/lib/binlog-relay"));
        // Maxwell's plain-text default, kept and flagged, and an option we do not read.
        let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["ssl", "log_level"]);
        assert_eq!(c.source.tls.mode, crate::source::tls::TlsMode::Disabled);

        // A value our checks refuse names the Maxwell option it came from.
        std::fs::write(&path, "producer=rabbitmq\nrabbitmq_exchange_type=fan\n").unwrap();
        let err = Config::load_maxwell_with_env(&path, std::iter::empty()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Maxwell option `rabbitmq_exchange_type`"),
            "{err}"
        );
        std::fs::write(&path, "output_naming_strategy=kebab\n").unwrap();
        let err = Config::load_maxwell_with_env(&path, std::iter::empty()).unwrap_err();
        assert!(err.to_string().contains("output_naming_strategy"), "{err}");
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db-password");
        let mq = dir.path().join("mq-password");
        std::fs::write(&db, "s3cret-db\n").unwrap();
        std::fs::write(&mq, "s3cret/mq\n").unwrap();
        let toml = format!(
            "[source]\nhost = \"db\"\npassword_file = \"{}\"\n\
             [sink.rabbitmq]\nuri = \"amqps://relay@mq:5671/%2f\"\npassword_file = \"{}\"\n",
            db.display(),
            mq.display()
        );
        let c = load(&toml, &[]).unwrap();
        assert_eq!(c.source.password.expose(), "s3cret-db");
        assert_eq!(
            c.sink.rabbitmq.uri.expose(),
            "amqps://relay:s3cret%2Fmq@mq:5671/%2F"
        );
        // Both a password and its file: refused. A missing file is named, its contents never.
        let err = load(
            &format!(
                "[source]\nhost = \"db\"\npassword = \"x\"\npassword_file = \"{}\"\n",
                db.display()
            ),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let err = load(
            "[source]\nhost = \"db\"\npassword_file = \"/nonexistent/pw\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/pw"), "{err}");
        // Through the environment, as a systemd unit sets it.
        let c = load(
            "[source]\nhost = \"db\"\n",
            &[("BINLOG_RELAY__SOURCE__PASSWORD_FILE", db.to_str().unwrap())],
        )
        .unwrap();
        assert_eq!(c.source.password.expose(), "s3cret-db");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn tls_settings_load_and_are_checked() {
        let c = load(
            "[source]\nhost = \"db\"\n[source.tls]\nmode = \"verify-identity\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.source.tls.mode,
            crate::source::tls::TlsMode::VerifyIdentity
        );
        let c = load("[source]\nhost = \"db\"\n", &[]).unwrap();
        // The default verifies: a weaker mode is an explicit choice.
        assert_eq!(
            c.source.tls.mode,
            crate::source::tls::TlsMode::VerifyIdentity
        );
        let err = load(
            "[source]\nhost = \"db\"\n[source.tls]\nmode = \"verify-full\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("verify-full"), "{err}");
        // Broker certificates with a plain amqp:// URI would not be used: refused.
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let err = load(
            &format!(
                "[source]\nhost = \"db\"\n[sink.rabbitmq.tls]\nca_file = \"{}\"\n",
                ca.display()
            ),
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("amqps://"), "{err}");
        // A certificate file that cannot be read is named at load, not at the connection.
        let err = load(
            "[source]\nhost = \"db\"\n[sink.rabbitmq]\nuri = \"amqps://u:p@mq/%2f\"\n\
             [sink.rabbitmq.tls]\nca_file = \"/nonexistent/ca.pem\"\n",
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("sink.rabbitmq.tls.ca_file")
                && err.to_string().contains("/nonexistent/ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn example_config_is_valid_and_complete() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/binlog-relay.toml");
        let c = Config::load_with_env(Some(&path), std::iter::empty()).unwrap();
        assert_eq!(c.sink.kind, SinkKind::Rabbitmq);
    }
}
