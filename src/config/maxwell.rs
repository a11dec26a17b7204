//! Maxwell's `config.properties`, read as it is and turned into our configuration.
//!
//! Moving from Maxwell should not mean rewriting a working setup first. `run --maxwell-config
//! FILE` reads Maxwell's file, and the environment variables Maxwell itself reads (those
//! under its `env_config_prefix`, and `GTID_MODE`); `config from-maxwell FILE` prints the TOML
//! it becomes, for review and for switching over. Both go through [`translate`], whose TOML
//! text then loads through the ordinary path ([`super::Config::load_maxwell_with_env`]): one
//! set of defaults and checks, and `BINLOG_RELAY__*` variables still override.
//!
//! Every Maxwell option gets one of three answers. It is translated; or accepted with a
//! warning naming it, where ignoring it cannot change what is published or where it goes
//! (metrics reporters, tuning knobs, other producers' keys); or refused with an error naming
//! it, where going on without it would change the messages, their destination or their
//! protection (TLS, JavaScript filters, a separate schema server). A key Maxwell
//! does not know is an error too. The reference is Maxwell's `MaxwellConfig` and
//! `RabbitmqProducer` (docs/configuration.md lists the whole key map).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use lapin::uri::{AMQPScheme, AMQPUri};

use super::ConfigError;

/// Maxwell's options as read from the file and the environment: key → value.
pub type Properties = BTreeMap<String, String>;

/// The environment variable whose presence turns Maxwell's `gtid_mode` on by default.
const GTID_MODE_ENV: &str = "GTID_MODE";
/// Where a client's checkpoint goes when `client_id` is set: one directory per client, as
/// Maxwell keeps one `positions` row per client.
const STATE_ROOT: &str = "/var/lib/binlog-relay";
/// Shown in place of a secret unless `--show-secrets` is given.
const HIDDEN: &str = "********";

/// Reads a Java properties file (`key=value`, `key: value`, `#`/`!` comments, `\`
/// continuations and escapes) as UTF-8, as Maxwell's launcher reads it. Trailing blanks are
/// cut from values: Java keeps them, which turns `producer=rabbitmq ` into an unknown
/// producer.
pub fn read_file(path: &Path) -> Result<Properties, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.to_owned(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
    let mut props = Properties::new();
    java_properties::PropertiesIter::new_with_encoding(
        std::io::BufReader::new(file),
        encoding_rs::UTF_8,
    )
    .read_into(|key, value| {
        props.insert(key, value.trim_end().to_owned());
    })
    .map_err(|e| file_error(e.to_string()))?;
    Ok(props)
}

/// Adds what Maxwell reads from the environment. With `env_config_prefix` set in the file,
/// every variable whose name starts with it (in any case) sets the key named by the rest of
/// its name in lower case, over the file's value: `MAXWELL_RABBITMQ_HOST` is `rabbitmq_host`.
/// `GTID_MODE`, when set at all, makes `gtid_mode` default to true. Returns the variables
/// used, by name, for the record.
pub fn apply_environment(props: &mut Properties, env: &[(String, String)]) -> Vec<String> {
    let mut used = Vec::new();
    if let Some(prefix) = props.get("env_config_prefix").map(|p| p.to_lowercase())
        && !prefix.is_empty()
    {
        for (name, value) in env {
            let lower = name.to_lowercase();
            if let Some(key) = lower.strip_prefix(&prefix)
                && !key.is_empty()
            {
                props.insert(key.to_owned(), value.clone());
                used.push(name.clone());
            }
        }
    }
    if !props.contains_key("gtid_mode") && env.iter().any(|(name, _)| name == GTID_MODE_ENV) {
        props.insert("gtid_mode".into(), "true".into());
        used.push(GTID_MODE_ENV.into());
    }
    used
}

/// A Maxwell option that is accepted but has no effect here, and why that is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Maxwell option `{}` {}", self.key, self.message)
    }
}

/// One key of the TOML result and where it came from.
#[derive(Debug, Clone)]
struct Entry {
    key: &'static str,
    value: toml::Value,
    /// What to print instead when secrets are hidden.
    hidden: Option<toml::Value>,
    /// The Maxwell option(s) behind it, or why it is set without one.
    from: String,
    /// How it carries the option over, where that is not plain.
    note: Option<String>,
}

/// A Maxwell configuration as TOML, with the warnings its translation gave.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// Sections in the order they are printed.
    sections: Vec<(&'static str, Vec<Entry>)>,
    pub warnings: Vec<Warning>,
}

/// Whether [`Translation::to_toml`] writes passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    Hidden,
    Shown,
}

impl Translation {
    fn set(
        &mut self,
        section: &'static str,
        key: &'static str,
        value: impl Into<toml::Value>,
        from: impl Into<String>,
    ) {
        self.put(section, key, value.into(), None, from.into());
    }

    fn set_secret(
        &mut self,
        section: &'static str,
        key: &'static str,
        value: String,
        hidden: String,
        from: impl Into<String>,
    ) {
        self.put(section, key, value.into(), Some(hidden.into()), from.into());
    }

    fn put(
        &mut self,
        section: &'static str,
        key: &'static str,
        value: toml::Value,
        hidden: Option<toml::Value>,
        from: String,
    ) {
        let entry = Entry {
            key,
            value,
            hidden,
            from,
            note: None,
        };
        match self.sections.iter_mut().find(|(name, _)| *name == section) {
            Some((_, entries)) => {
                entries.retain(|e| e.key != key);
                entries.push(entry);
            }
            None => self.sections.push((section, vec![entry])),
        }
    }

    /// Explains an entry already set.
    fn note(&mut self, section: &str, key: &str, note: &str) {
        if let Some((_, entries)) = self.sections.iter_mut().find(|(name, _)| *name == section)
            && let Some(entry) = entries.iter_mut().find(|e| e.key == key)
        {
            entry.note = Some(note.to_owned());
        }
    }

    fn warn(&mut self, key: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            key: key.to_owned(),
            message: message.into(),
        });
    }

    /// The Maxwell option behind a dotted TOML key (`sink.rabbitmq.exchange_type`), to name
    /// it in errors found after translation.
    pub fn origin(&self, dotted: &str) -> Option<&str> {
        let (section, key) = dotted.rsplit_once('.')?;
        self.sections
            .iter()
            .find(|(name, _)| *name == section)?
            .1
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.from.as_str())
    }

    /// The configuration as a TOML document; each key says which Maxwell option it came from,
    /// and the warnings are listed at the top.
    pub fn to_toml(&self, secrets: Secrets) -> String {
        let mut out = String::from(
            "# binlog-relay configuration translated from a Maxwell config.properties.\n\
             # Keys not written here take binlog-relay's defaults (config/binlog-relay.toml),\n\
             # which are Maxwell's where Maxwell has the option.\n",
        );
        if secrets == Secrets::Hidden && self.has_secrets() {
            out.push_str(
                "# Passwords are shown as ********: rerun with --show-secrets to write them, or\n\
                 # set them in BINLOG_RELAY__SOURCE__PASSWORD / BINLOG_RELAY__SINK__RABBITMQ__URI\n\
                 # (and BINLOG_RELAY__OUTPUT__SECRET_KEY).\n",
            );
        }
        for w in &self.warnings {
            let _ = writeln!(out, "# ignored: {w}");
        }
        for (section, entries) in &self.sections {
            let _ = writeln!(out, "\n[{section}]");
            for e in entries {
                let value = match (&e.hidden, secrets) {
                    (Some(hidden), Secrets::Hidden) => hidden,
                    _ => &e.value,
                };
                let _ = match &e.note {
                    Some(note) => writeln!(out, "{} = {value} # {}: {note}", e.key, e.from),
                    None => writeln!(out, "{} = {value} # {}", e.key, e.from),
                };
            }
        }
        out
    }

    fn has_secrets(&self) -> bool {
        self.sections
            .iter()
            .any(|(_, entries)| entries.iter().any(|e| e.hidden.is_some()))
    }
}

/// What is left of the properties while they are translated: each option is taken once,
/// and whatever nobody took is judged at the end.
struct Options {
    left: Properties,
}

impl Options {
    fn take(&mut self, key: &str) -> Option<String> {
        self.left.remove(key)
    }

    /// Maxwell accepts exactly `true` and `false`, in any case.
    fn take_bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.take(key).map(|v| parse_bool(key, &v)).transpose()
    }

    fn take_number<T: FromStr>(&mut self, key: &str) -> Result<Option<T>, ConfigError> {
        self.take(key)
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| {
                    refuse(key, format!("{v:?} is not a valid number for this option"))
                })
            })
            .transpose()
    }
}

/// An error naming the Maxwell option, as the operator wrote it.
fn refuse(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Maxwell {
        key: key.into(),
        message: message.into(),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(refuse(
            key,
            format!("{value:?} is not true or false (Maxwell refuses it too)"),
        )),
    }
}

/// Translates Maxwell's options (after [`apply_environment`]) into our configuration.
pub fn translate(props: Properties) -> Result<Translation, ConfigError> {
    let mut t = Translation::default();
    let mut o = Options { left: props };
    // Consumed by apply_environment; a `config` key inside the file means nothing to Maxwell.
    o.take("env_config_prefix");
    if o.take("config").is_some() {
        t.warn(
            "config",
            "inside a config file has no effect, in Maxwell too",
        );
    }
    source(&mut o, &mut t)?;
    let producer = sink(&mut o, &mut t)?;
    output(&mut o, &mut t)?;
    identity(&mut o, &mut t)?;
    http(&mut o, &mut t)?;
    let left = std::mem::take(&mut o.left);
    for key in left.into_keys() {
        judge_leftover(&key, &producer, &mut t)?;
    }
    Ok(t)
}

/// `host`/`port`/`user`/`password` name Maxwell's own store, which is also the server it
/// replicates from unless `replication_*` name another.
fn source(o: &mut Options, t: &mut Translation) -> Result<(), ConfigError> {
    let store_host = o.take("host");
    let store_port: Option<u16> = o.take_number("port")?;
    let store_user = o.take("user");
    let store_password = o.take("password");
    let repl_host = o.take("replication_host");
    let repl_port: Option<u16> = o.take_number("replication_port")?;
    let repl_user = o.take("replication_user");
    let repl_password = o.take("replication_password");

    let separate = repl_host.is_some() && repl_user.is_some();
    if !separate && (repl_host.is_some() || repl_user.is_some() || repl_password.is_some()) {
        return Err(refuse(
            "replication_host",
            "replication_host, replication_user and replication_password go together (as in \
             Maxwell): set all of them, or none to replicate from `host`",
        ));
    }
    let (prefix, host, port, user, password) = if separate {
        if store_host.is_some() || store_user.is_some() {
            t.warn(
                "host",
                "(Maxwell's position and schema store) is not used: binlog-relay keeps its \
                 checkpoint and schema history in checkpoint.dir and reads from replication_host",
            );
        }
        (
            "replication_",
            repl_host,
            repl_port,
            repl_user,
            repl_password,
        )
    } else {
        ("", store_host, store_port, store_user, store_password)
    };
    match host {
        Some(h) => t.set("source", "host", h, format!("{prefix}host")),
        None => t.set(
            "source",
            "host",
            "localhost",
            "Maxwell's default when host is not set",
        ),
    }
    if let Some(p) = port {
        t.set("source", "port", i64::from(p), format!("{prefix}port"));
    }
    if let Some(u) = user {
        t.set("source", "user", u, format!("{prefix}user"));
    }
    if let Some(pw) = password {
        t.set_secret(
            "source",
            "password",
            pw,
            HIDDEN.into(),
            format!("{prefix}password"),
        );
    }

    // `replication_ssl` overrides `ssl` for the binlog connection, as in Maxwell.
    let ssl = o.take("ssl");
    let replication_ssl = o.take("replication_ssl");
    let (key, mode) = match (replication_ssl, ssl) {
        (Some(mode), _) => ("replication_ssl", Some(mode)),
        (None, Some(mode)) => ("ssl", Some(mode)),
        (None, None) => ("ssl", None),
    };
    if mode.is_none() {
        // Maxwell's default is DISABLED; binlog-relay's is verify-identity, which a server
        // Maxwell reached in plain text would refuse at the cut-over. Keep Maxwell's
        // behaviour, written out and flagged, so the choice is visible.
        t.set("source.tls", "mode", "disabled", key);
        t.warn(
            key,
            "is not set, so Maxwell connected without TLS (its default DISABLED) and so will \
             binlog-relay (source.tls.mode = \"disabled\"); give the server a certificate and \
             set mode = \"verify-identity\" with source.tls.ca_file",
        );
    }
    if let Some(mode) = mode {
        let ours = match mode.trim().to_ascii_uppercase().as_str() {
            "DISABLED" => "disabled",
            "PREFERRED" => "preferred",
            "REQUIRED" => "required",
            "VERIFY_CA" => "verify-ca",
            "VERIFY_IDENTITY" => "verify-identity",
            _ => {
                return Err(refuse(
                    key,
                    format!(
                        "{mode:?} is not DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                    ),
                ));
            }
        };
        t.set("source.tls", "mode", ours, key);
        if ours.starts_with("verify") {
            t.warn(
                key,
                "verifies against the JVM trust store in Maxwell; binlog-relay trusts the \
                 public roots unless source.tls.ca_file names the CA that signed the \
                 server's certificate: set it",
            );
        }
    }
    for key in ["jdbc_options", "replication_jdbc_options"] {
        if let Some(options) = o.take(key) {
            if options.to_ascii_lowercase().contains("ssl") {
                return Err(refuse(
                    key,
                    "asks for TLS through JDBC options, which binlog-relay does not read: use \
                     ssl=REQUIRED or VERIFY_IDENTITY (source.tls.mode) instead",
                ));
            }
            t.warn(
                key,
                "is for Maxwell's JDBC driver; binlog-relay's MySQL client takes no such options",
            );
        }
    }
    for key in [
        "schema_host",
        "schema_port",
        "schema_user",
        "schema_password",
        "schema_ssl",
        "schema_jdbc_options",
    ] {
        if o.take(key).is_some() {
            return Err(refuse(
                key,
                "binlog-relay reads table definitions from the server it replicates from; a \
                 separate schema server (Maxwell's schema_*) is not supported",
            ));
        }
    }
    Ok(())
}

/// `producer` and the RabbitMQ producer's options. Returns the producer.
fn sink(o: &mut Options, t: &mut Translation) -> Result<String, ConfigError> {
    let producer = o.take("producer").unwrap_or_else(|| "stdout".into());
    match producer.as_str() {
        "rabbitmq" => t.set("sink", "type", "rabbitmq", "producer"),
        "stdout" => {
            t.set("sink", "type", "stdout", "producer");
            t.note("sink", "type", "Maxwell's default is stdout");
            return Ok(producer);
        }
        other => {
            return Err(refuse(
                "producer",
                format!(
                    "{other:?} is not supported: binlog-relay publishes to RabbitMQ \
                     (producer=rabbitmq) or prints to stdout (producer=stdout)"
                ),
            ));
        }
    }

    let uri = rabbitmq_uri(o, t)?;
    // For display: the URI writer percent-encodes a password, and the mask is to be read
    // as it is, so a placeholder is swapped for it afterwards.
    let mut shown = uri.clone();
    shown.authority.userinfo.password = "MASK".into();
    let masked = shown
        .to_string()
        .replacen(":MASK@", &format!(":{HIDDEN}@"), 1);
    t.set_secret(
        "sink.rabbitmq",
        "uri",
        uri.to_string(),
        masked,
        "rabbitmq_uri, rabbitmq_host, rabbitmq_port, rabbitmq_user, rabbitmq_pass, \
         rabbitmq_virtual_host, rabbitmq_use_ssl",
    );
    let exchange = o.take("rabbitmq_exchange");
    t.set(
        "sink.rabbitmq",
        "exchange",
        exchange.clone().unwrap_or_else(|| "maxwell".into()),
        from_or_default("rabbitmq_exchange", exchange.is_some()),
    );
    let kind = o.take("rabbitmq_exchange_type");
    t.set(
        "sink.rabbitmq",
        "exchange_type",
        kind.clone().unwrap_or_else(|| "fanout".into()),
        from_or_default("rabbitmq_exchange_type", kind.is_some()),
    );
    for (maxwell, ours, default) in [
        ("rabbitmq_exchange_durable", "exchange_durable", false),
        (
            "rabbitmq_exchange_autodelete",
            "exchange_auto_delete",
            false,
        ),
        ("rabbitmq_declare_exchange", "declare_exchange", true),
        ("rabbitmq_message_persistent", "persistent", false),
    ] {
        let given = o.take_bool(maxwell)?;
        t.set(
            "sink.rabbitmq",
            ours,
            given.unwrap_or(default),
            from_or_default(maxwell, given.is_some()),
        );
    }
    let template = o.take("rabbitmq_routing_key_template");
    if let Some(tpl) = &template
        && tpl.contains("%type%")
    {
        // Maxwell leaves %type% in the key as text; we replace it. Keep Maxwell's keys.
        return Err(refuse(
            "rabbitmq_routing_key_template",
            "contains %type%, which Maxwell publishes literally and binlog-relay replaces with \
             the change type; write the TOML routing_key_template instead to choose",
        ));
    }
    t.set(
        "sink.rabbitmq",
        "routing_key_template",
        template.clone().unwrap_or_else(|| "%db%.%table%".into()),
        from_or_default("rabbitmq_routing_key_template", template.is_some()),
    );
    match o.take_number::<u64>("rabbitmq_handshake_timeout")? {
        // The Java client reads 0 as "wait for ever", which is the hang this setting is for.
        Some(0) => t.warn(
            "rabbitmq_handshake_timeout",
            "= 0 (no limit) is not followed: a connection attempt gives up after sink.rabbitmq.connect_timeout_ms (10000) and tries the next address",
        ),
        Some(ms) => t.set(
            "sink.rabbitmq",
            "connect_timeout_ms",
            i64::try_from(ms).unwrap_or(i64::MAX),
            "rabbitmq_handshake_timeout",
        ),
        None => {}
    }
    Ok(producer)
}

fn from_or_default(key: &str, given: bool) -> String {
    if given {
        key.to_owned()
    } else {
        format!("{key} not set: Maxwell's default")
    }
}

/// The broker URI as Maxwell's producer builds its connection: `rabbitmq_uri` first, then
/// `rabbitmq_host` and `rabbitmq_port` over it when set, then user, password and virtual
/// host, which always apply (their defaults `guest`, `guest` and `/` replace those in the
/// URI, a Maxwell quirk kept so that the same broker account is used).
fn rabbitmq_uri(o: &mut Options, t: &mut Translation) -> Result<AMQPUri, ConfigError> {
    let given = o.take("rabbitmq_uri");
    let mut uri = match &given {
        // The URI may hold a password, and the parser's messages may quote it: say only
        // what is expected.
        Some(text) => AMQPUri::from_str(text).map_err(|_| {
            refuse(
                "rabbitmq_uri",
                "is not an amqp:// or amqps:// URI (amqp://USER:PASSWORD@HOST:PORT/VHOST)",
            )
        })?,
        None => AMQPUri::default(),
    };
    if let Some(host) = o.take("rabbitmq_host") {
        uri.authority.host = host;
    }
    let use_ssl = o.take_bool("rabbitmq_use_ssl")?.unwrap_or(false);
    if use_ssl && uri.scheme != AMQPScheme::AMQPS {
        uri.scheme = AMQPScheme::AMQPS;
        if given.is_none() || uri.authority.port == AMQPScheme::AMQP.default_port() {
            uri.authority.port = AMQPScheme::AMQPS.default_port();
        }
    }
    if let Some(port) = o.take_number::<u16>("rabbitmq_port")? {
        uri.authority.port = port;
    }
    let user = o.take("rabbitmq_user");
    let pass = o.take("rabbitmq_pass");
    let vhost = o.take("rabbitmq_virtual_host");
    if given.is_some() {
        let from_uri = (
            uri.authority.userinfo.username.clone(),
            uri.authority.userinfo.password.clone(),
            uri.vhost.clone(),
        );
        let applied = (
            user.clone().unwrap_or_else(|| "guest".into()),
            pass.clone().unwrap_or_else(|| "guest".into()),
            vhost.clone().unwrap_or_else(|| "/".into()),
        );
        if from_uri != applied && (user.is_none() || pass.is_none() || vhost.is_none()) {
            t.warn(
                "rabbitmq_uri",
                "has a user, password or virtual host that Maxwell replaces with rabbitmq_user, \
                 rabbitmq_pass and rabbitmq_virtual_host or their defaults (guest, guest, /); \
                 binlog-relay does the same so that the same account is used",
            );
        }
    }
    uri.authority.userinfo.username = user.unwrap_or_else(|| "guest".into());
    uri.authority.userinfo.password = pass.unwrap_or_else(|| "guest".into());
    uri.vhost = vhost.unwrap_or_else(|| "/".into());
    Ok(uri)
}

/// `filter`, the `output_*` options and `exclude_columns`.
fn output(o: &mut Options, t: &mut Translation) -> Result<(), ConfigError> {
    if let Some(rules) = o.take("filter") {
        t.set("filter", "rules", rules, "filter");
    }
    for key in [
        "include_dbs",
        "exclude_dbs",
        "include_tables",
        "exclude_tables",
        "blacklist_dbs",
        "blacklist_tables",
    ] {
        if o.take(key).is_some() {
            return Err(refuse(
                key,
                "was replaced by `filter` in Maxwell 1.18 and is not read by current Maxwell; \
                 write it as a filter rule, e.g. include_dbs=a becomes \
                 filter=exclude: *.*, include: a.*",
            ));
        }
    }
    for (maxwell, ours) in [
        ("output_binlog_position", "binlog_position"),
        ("output_gtid_position", "gtid_position"),
        ("output_commit_info", "commit_info"),
        ("output_xoffset", "xoffset"),
        ("output_nulls", "nulls"),
        ("output_server_id", "server_id"),
        ("output_thread_id", "thread_id"),
        ("output_schema_id", "schema_id"),
        ("output_row_query", "row_query"),
        ("output_primary_keys", "primary_keys"),
        ("output_primary_key_columns", "primary_key_columns"),
        ("output_push_timestamp", "push_timestamp"),
        ("output_ddl", "ddl"),
        ("output_null_zerodates", "null_zerodates"),
    ] {
        if let Some(on) = o.take_bool(maxwell)? {
            t.set("output", ours, on, maxwell);
        }
    }
    if let Some(n) = o.take_number::<i64>("row_query_max_length")? {
        t.set("output", "row_query_max_length", n, "row_query_max_length");
    }
    if let Some(strategy) = o.take("output_naming_strategy") {
        t.set(
            "output",
            "naming_strategy",
            strategy.trim().to_owned(),
            "output_naming_strategy",
        );
    }
    if let Some(columns) = o.take("exclude_columns") {
        let list: Vec<toml::Value> = columns
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| toml::Value::from(c.to_owned()))
            .collect();
        t.set("output", "exclude_columns", list, "exclude_columns");
    }
    match o.take("encrypt").as_deref().map(str::trim) {
        None | Some("none") => {
            if o.take("secret_key").is_some() {
                t.warn("secret_key", "is not used: encrypt is none");
            }
        }
        Some(mode @ ("data" | "all")) => {
            t.set("output", "encrypt", mode, "encrypt");
            // Maxwell refuses to start without it; so does binlog-relay, at load.
            if let Some(key) = o.take("secret_key") {
                t.set_secret("output", "secret_key", key, "********".into(), "secret_key");
            }
        }
        Some(mode) => {
            return Err(refuse(
                "encrypt",
                format!("{mode:?}: Maxwell's modes are none, data and all"),
            ));
        }
    }
    if o.take("javascript").is_some() {
        return Err(refuse(
            "javascript",
            "JavaScript filters are not supported; express the filter as `filter` rules, \
             [masking] and [[sink.rabbitmq.routes]]",
        ));
    }
    Ok(())
}

/// `client_id`, `replica_server_id`, `gtid_mode`, `init_position` and the modes that change
/// where replication starts.
fn identity(o: &mut Options, t: &mut Translation) -> Result<(), ConfigError> {
    match o.take_bool("binlog_heartbeat")? {
        Some(true) => {
            t.set(
                "source",
                "read_timeout_ms",
                10_000_i64,
                "binlog_heartbeat",
            );
            t.note(
                "source",
                "read_timeout_ms",
                "binlog-relay always asks for the server's heartbeat (every second); this long without any event or heartbeat is a lost connection",
            );
        }
        Some(false) => t.warn(
            "binlog_heartbeat",
            "= false is not followed: binlog-relay always asks for the server's heartbeat, to notice a silent connection (source.read_timeout_ms)",
        ),
        None => {}
    }
    if let Some(id) = o.take_number::<u32>("replica_server_id")? {
        t.set("source", "server_id", i64::from(id), "replica_server_id");
    }
    if let Some(on) = o.take_bool("gtid_mode")? {
        t.set("source", "gtid_mode", on, "gtid_mode");
    }
    if let Some(position) = o.take("init_position") {
        let mut parts = position.split(':');
        let (file, pos) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let start = format!("{file}:{pos}");
        crate::source::StartFrom::from_str(&start).map_err(|e| {
            refuse(
                "init_position",
                format!("{position:?} is not FILE:POSITION[:HEARTBEAT]: {e}"),
            )
        })?;
        t.set("source", "start", start, "init_position");
        t.warn(
            "init_position",
            "is read by Maxwell only from its command line; binlog-relay takes it as \
             source.start, the position to start from when there is no checkpoint yet",
        );
    }
    let mut client_id = String::from("maxwell");
    if let Some(id) = o.take("client_id") {
        if id.is_empty()
            || id.starts_with('.')
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(refuse(
                "client_id",
                format!(
                    "{id:?} cannot name a checkpoint directory: use letters, digits, _, - and ."
                ),
            ));
        }
        t.set(
            "checkpoint",
            "dir",
            format!("{STATE_ROOT}/{id}"),
            "client_id",
        );
        t.note(
            "checkpoint",
            "dir",
            "one checkpoint directory per client, as Maxwell keeps one position per client_id",
        );
        client_id = id;
    }
    let database = o
        .take("schema_database")
        .unwrap_or_else(|| "maxwell".into());
    // Bootstrap requests live in Maxwell's bootstrap table, under its names.
    if database != "maxwell" {
        t.set("bootstrap", "database", database.clone(), "schema_database");
    }
    if client_id != "maxwell" {
        t.set("bootstrap", "client_id", client_id.clone(), "client_id");
    }
    if t.origin("source.start").is_none() {
        if t.origin("source.host") == Some("replication_host") {
            t.warn(
                "schema_database",
                "is on `host`, not on replication_host where binlog-relay reads: set \
                 source.start to Maxwell's last position (SELECT binlog_file, binlog_position \
                 FROM positions) so that nothing between the two runs is skipped",
            );
        } else {
            t.set(
                "source",
                "start",
                format!("maxwell:{client_id}@{database}"),
                "client_id, schema_database",
            );
            t.note(
                "source",
                "start",
                "with no checkpoint yet, continue where Maxwell stopped (its positions table); \
                 the current position if Maxwell never ran on this server",
            );
        }
    }
    for (key, why) in [
        (
            "master_recovery",
            "Maxwell's heartbeat-based master recovery is not supported; use gtid_mode=true \
             (MariaDB) to follow a failover",
        ),
        (
            "replay",
            "replay mode is not supported; run with a separate checkpoint.dir instead",
        ),
        (
            "recapture_schema",
            "run `binlog-relay schema recapture` with the daemon stopped instead",
        ),
        (
            "ha",
            "Maxwell's built-in leader election is not supported; run one instance under \
             systemd or an orchestrator",
        ),
    ] {
        if o.take_bool(key)? == Some(true) {
            return Err(refuse(key, why));
        }
    }
    Ok(())
}

/// Maxwell serves HTTP when `metrics_type` includes `http` (or the diagnostic or config
/// endpoint is on), on `http_bind_address` (all addresses by default) and `http_port`.
fn http(o: &mut Options, t: &mut Translation) -> Result<(), ConfigError> {
    let types = o.take("metrics_type").unwrap_or_default();
    let diagnostic = o.take_bool("http_diagnostic")?.unwrap_or(false);
    let config_endpoint = o.take_bool("http_config")?.unwrap_or(false);
    let address = o.take("http_bind_address");
    let port: Option<u16> = o.take_number("http_port")?;
    let serves = types.split(',').any(|k| k.trim() == "http") || diagnostic || config_endpoint;
    // Maxwell's probes (/ping, /healthcheck, /prometheus) live under its path prefix.
    if let Some(prefix) = o.take("http_path_prefix") {
        let prefix = prefix.trim();
        let prefix = if prefix.starts_with('/') {
            prefix.to_owned()
        } else {
            format!("/{prefix}")
        };
        t.set("http", "maxwell_prefix", prefix, "http_path_prefix");
    }
    if serves {
        let listen = format!(
            "{}:{}",
            address.as_deref().unwrap_or("0.0.0.0"),
            port.unwrap_or(8080)
        );
        t.set(
            "http",
            "listen",
            listen,
            "metrics_type, http_bind_address, http_port",
        );
        t.note(
            "http",
            "listen",
            "/metrics serves Prometheus text, /healthz and /readyz health; Maxwell's /ping, /healthcheck and /prometheus answer too (under http.maxwell_prefix)",
        );
    } else if address.is_some() || port.is_some() {
        t.warn(
            "http_port",
            "is not used: Maxwell serves HTTP only with metrics_type=http; binlog-relay's \
             endpoint stays at its default ([http] listen)",
        );
    }
    for kind in types.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if kind != "http" {
            t.warn(
                "metrics_type",
                format!(
                    "{kind:?} reporting is not available; binlog-relay's metrics are on \
                     /metrics for Prometheus"
                ),
            );
        }
    }
    if diagnostic {
        t.warn(
            "http_diagnostic",
            "has no equivalent; /readyz reports the connection and lag",
        );
    }
    if config_endpoint {
        t.warn(
            "http_config",
            "has no equivalent: the filter is changed in the configuration and applied at \
             the next start",
        );
    }
    Ok(())
}

/// Options nobody took: warnings where ignoring them is safe, errors otherwise.
fn judge_leftover(key: &str, producer: &str, t: &mut Translation) -> Result<(), ConfigError> {
    const OTHER_PRODUCERS: &[&str] = &[
        "kafka", "kinesis", "sqs", "sns", "nats", "pubsub", "bigquery", "redis",
    ];
    let family = key.split(['_', '.']).next().unwrap_or(key);
    if key.starts_with("custom_producer") {
        return Err(refuse(
            key,
            "custom producers are not supported: binlog-relay publishes to RabbitMQ",
        ));
    }
    if key.starts_with("rabbitmq_") && producer != "rabbitmq" {
        t.warn(
            key,
            format!("is not used with producer={producer}, in Maxwell too"),
        );
        return Ok(());
    }
    if OTHER_PRODUCERS.contains(&family)
        || matches!(
            key,
            "ddl_kafka_topic"
                | "ddl_pubsub_topic"
                | "dead_letter_topic"
                | "output_file"
                | "producer_partition_by"
                | "producer_partition_columns"
                | "producer_partition_by_fallback"
                | "producer_ack_timeout"
                | "ignore_producer_error"
        )
    {
        t.warn(
            key,
            format!("belongs to Maxwell's other producers; producer={producer} does not use it, in Maxwell too"),
        );
        return Ok(());
    }
    let why = match key {
        "log_level" => "is not read from the configuration: set RUST_LOG (e.g. RUST_LOG=debug)",
        "bootstrapper" => {
            "is not used: binlog-relay runs this client id's bootstrap requests beside the \
             stream, in chunks between watermarks, whatever this says (with none, Maxwell \
             would not run them; docs/bootstrap.md)"
        }
        "replication_reconnection_retries" => {
            "is not used: binlog-relay reconnects without limit, with the pauses in [reconnect]"
        }
        "ignore_missing_schema" => {
            "is not used: binlog-relay reads a missing table definition from the server, and \
             stops with an error naming the table if it cannot"
        }
        "binlog_event_queue_size"
        | "buffer_memory_usage"
        | "max_schemas"
        | "daemon"
        | "metrics_jvm" => "is a Maxwell tuning or JVM option with no equivalent",
        "metrics_prefix"
        | "metrics_slf4j_interval"
        | "metrics_age_slo"
        | "http_diagnostic_timeout"
        | "custom_health.factory" => {
            "has no equivalent: binlog-relay serves /metrics, /healthz and /readyz at the root"
        }
        "jgroups_config" | "raft_member_id" => "is only used with ha=true",
        "env_config" => "is read by Maxwell only from its command line",
        "binlog_connector" => "is a removed Maxwell option",
        _ if key.starts_with("metrics_datadog") => {
            "is not used: Datadog reporting is not available; scrape /metrics instead"
        }
        _ => {
            return Err(refuse(
                key,
                "is not a Maxwell option binlog-relay knows; check its spelling against \
                 Maxwell's config.md, or remove it",
            ));
        }
    };
    t.warn(key, why);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn toml_of(pairs: &[(&str, &str)]) -> String {
        translate(props(pairs)).unwrap().to_toml(Secrets::Shown)
    }

    fn value(toml: &str, section: &str, key: &str) -> Option<toml::Value> {
        let doc: toml::Table = toml.parse().unwrap();
        let mut at = &doc;
        for part in section.split('.') {
            at = at.get(part)?.as_table()?;
        }
        at.get(key).cloned()
    }

    #[test]
    fn properties_syntax_is_javas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.properties");
        std::fs::write(
            &path,
            "# comment\n! also a comment\nhost = db\nuser:maxwell\n\
             filter=exclude: *.*, \\\n  include: tis.*\npassword=p\\u00e4ss \n",
        )
        .unwrap();
        let p = read_file(&path).unwrap();
        assert_eq!(p["host"], "db");
        assert_eq!(p["user"], "maxwell");
        assert_eq!(p["filter"], "exclude: *.*, include: tis.*");
        assert_eq!(p["password"], "päss");
        let err = read_file(&dir.path().join("missing.properties")).unwrap_err();
        assert!(err.to_string().contains("missing.properties"), "{err}");
    }

    #[test]
    fn a_typical_rabbitmq_setup_translates_key_by_key() {
        let toml = toml_of(&[
            ("host", "db.internal"),
            ("port", "3307"),
            ("user", "maxwell"),
            ("password", "s3cret"),
            ("producer", "rabbitmq"),
            ("rabbitmq_host", "rabbit"),
            ("rabbitmq_user", "tis"),
            ("rabbitmq_pass", "p@ss/word"),
            ("rabbitmq_virtual_host", "/tis"),
            ("rabbitmq_exchange", "tis.cdc"),
            ("rabbitmq_exchange_type", "topic"),
            ("rabbitmq_exchange_durable", "true"),
            ("rabbitmq_message_persistent", "TRUE"),
            ("rabbitmq_routing_key_template", "cdc.%db%.%table%"),
            ("filter", "exclude: *.*, include: tis.*"),
            ("output_ddl", "true"),
            ("output_primary_keys", "true"),
            ("exclude_columns", "password, /^secret_/"),
            ("replica_server_id", "1234"),
            ("client_id", "tis_esr"),
            ("gtid_mode", "true"),
        ]);
        let v = |s: &str, k: &str| value(&toml, s, k).unwrap_or_else(|| panic!("{s}.{k}"));
        assert_eq!(v("source", "host").as_str(), Some("db.internal"));
        assert_eq!(v("source", "port").as_integer(), Some(3307));
        assert_eq!(v("source", "user").as_str(), Some("maxwell"));
        assert_eq!(v("source", "password").as_str(), Some("s3cret"));
        assert_eq!(v("source", "server_id").as_integer(), Some(1234));
        assert_eq!(v("source", "gtid_mode").as_bool(), Some(true));
        assert_eq!(v("sink", "type").as_str(), Some("rabbitmq"));
        assert_eq!(
            v("sink.rabbitmq", "uri").as_str(),
            Some("amqp://tis:p%40ss%2Fword@rabbit:5672/%2Ftis")
        );
        assert_eq!(v("sink.rabbitmq", "exchange").as_str(), Some("tis.cdc"));
        assert_eq!(v("sink.rabbitmq", "exchange_type").as_str(), Some("topic"));
        assert_eq!(v("sink.rabbitmq", "exchange_durable").as_bool(), Some(true));
        assert_eq!(v("sink.rabbitmq", "persistent").as_bool(), Some(true));
        assert_eq!(v("sink.rabbitmq", "declare_exchange").as_bool(), Some(true));
        assert_eq!(
            v("sink.rabbitmq", "routing_key_template").as_str(),
            Some("cdc.%db%.%table%")
        );
        assert_eq!(
            v("filter", "rules").as_str(),
            Some("exclude: *.*, include: tis.*")
        );
        assert_eq!(v("output", "ddl").as_bool(), Some(true));
        assert_eq!(v("output", "primary_keys").as_bool(), Some(true));
        assert_eq!(
            v("output", "exclude_columns"),
            toml::Value::Array(vec!["password".into(), "/^secret_/".into()])
        );
        assert_eq!(
            v("checkpoint", "dir").as_str(),
            Some("/var/lib/binlog-relay/tis_esr")
        );
        // Each line names its Maxwell option.
        assert!(
            toml.contains("exchange = \"tis.cdc\" # rabbitmq_exchange\n"),
            "{toml}"
        );
    }

    #[test]
    fn maxwell_defaults_are_written_where_ours_differ() {
        // No producer: Maxwell prints to stdout. No host: Maxwell uses localhost.
        let toml = toml_of(&[]);
        assert_eq!(
            value(&toml, "sink", "type").unwrap().as_str(),
            Some("stdout")
        );
        assert_eq!(
            value(&toml, "source", "host").unwrap().as_str(),
            Some("localhost")
        );
        let toml = toml_of(&[("producer", "rabbitmq")]);
        assert_eq!(
            value(&toml, "sink.rabbitmq", "uri").unwrap().as_str(),
            Some("amqp://guest:guest@localhost:5672/%2F")
        );
        assert_eq!(
            value(&toml, "sink.rabbitmq", "exchange_type")
                .unwrap()
                .as_str(),
            Some("fanout")
        );
    }

    #[test]
    fn the_broker_uri_is_built_as_maxwells_producer_builds_it() {
        let uri = |pairs: &[(&str, &str)]| {
            let mut all = vec![("producer", "rabbitmq"), ("ssl", "DISABLED")];
            all.extend_from_slice(pairs);
            let t = translate(props(&all)).unwrap();
            let toml = t.to_toml(Secrets::Shown);
            (
                value(&toml, "sink.rabbitmq", "uri")
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                t.warnings,
            )
        };
        // Host and port override the URI's; user, password and vhost always apply.
        let (u, w) = uri(&[
            ("rabbitmq_uri", "amqp://a:b@old:5000/v"),
            ("rabbitmq_host", "new"),
        ]);
        assert_eq!(u, "amqp://guest:guest@new:5000/%2F");
        assert!(w.iter().any(|w| w.key == "rabbitmq_uri"), "{w:?}");
        let (u, w) = uri(&[
            ("rabbitmq_uri", "amqps://old/v"),
            ("rabbitmq_user", "u"),
            ("rabbitmq_pass", "p"),
            ("rabbitmq_virtual_host", "v"),
        ]);
        assert_eq!(u, "amqps://u:p@old:5671/v");
        assert!(w.is_empty(), "{w:?}");
        // rabbitmq_use_ssl switches to amqps and its port.
        let (u, _) = uri(&[("rabbitmq_host", "r"), ("rabbitmq_use_ssl", "true")]);
        assert_eq!(u, "amqps://guest:guest@r:5671/%2F");
        let (u, _) = uri(&[("rabbitmq_port", "5673")]);
        assert_eq!(u, "amqp://guest:guest@localhost:5673/%2F");
        let err = translate(props(&[
            ("producer", "rabbitmq"),
            ("rabbitmq_uri", "http://x:topsecret@h/"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("rabbitmq_uri"), "{err}");
        assert!(!err.to_string().contains("topsecret"), "{err}");
    }

    #[test]
    fn secrets_are_hidden_unless_asked_for() {
        let t = translate(props(&[
            ("password", "dbsecret"),
            ("producer", "rabbitmq"),
            ("rabbitmq_pass", "mqsecret"),
        ]))
        .unwrap();
        let hidden = t.to_toml(Secrets::Hidden);
        assert!(
            !hidden.contains("dbsecret") && !hidden.contains("mqsecret"),
            "{hidden}"
        );
        assert!(hidden.contains("guest:********@localhost"), "{hidden}");
        let shown = t.to_toml(Secrets::Shown);
        assert!(shown.contains("dbsecret") && shown.contains("mqsecret"));
    }

    #[test]
    fn without_init_position_the_start_is_where_maxwell_stopped() {
        let start = |pairs: &[(&str, &str)]| {
            let toml = toml_of(pairs);
            value(&toml, "source", "start").map(|v| v.as_str().unwrap_or("").to_owned())
        };
        assert_eq!(start(&[]).as_deref(), Some("maxwell:maxwell@maxwell"));
        assert_eq!(
            start(&[("client_id", "esr"), ("schema_database", "mx_state")]).as_deref(),
            Some("maxwell:esr@mx_state")
        );
        assert_eq!(
            start(&[("init_position", "bin.000002:120")]).as_deref(),
            Some("bin.000002:120")
        );
        // Bootstrap requests are read from the same schema database and client id.
        let toml = toml_of(&[("client_id", "esr"), ("schema_database", "mx_state")]);
        let bootstrap =
            |key| value(&toml, "bootstrap", key).and_then(|v| v.as_str().map(str::to_owned));
        assert_eq!(bootstrap("database").as_deref(), Some("mx_state"));
        assert_eq!(bootstrap("client_id").as_deref(), Some("esr"));
        assert!(
            value(&toml_of(&[]), "bootstrap", "database").is_none(),
            "Maxwell's defaults are ours"
        );
        // Maxwell's state is on `host`, which binlog-relay does not read: say so.
        let t = translate(props(&[
            ("host", "store"),
            ("replication_host", "replica"),
            ("replication_user", "r"),
        ]))
        .unwrap();
        assert!(value(&t.to_toml(Secrets::Shown), "source", "start").is_none());
        assert!(t.warnings.iter().any(|w| w.key == "schema_database"));
    }

    #[test]
    fn ssl_modes_become_source_tls_modes() {
        let mode = |pairs: &[(&str, &str)]| {
            value(&toml_of(pairs), "source.tls", "mode")
                .map(|v| v.as_str().unwrap_or("").to_owned())
        };
        // Maxwell's default, written out, instead of ours (which would refuse its server).
        assert_eq!(mode(&[]).as_deref(), Some("disabled"));
        let t = translate(props(&[])).unwrap();
        assert!(t.warnings.iter().any(|w| w.key == "ssl"));
        assert_eq!(mode(&[("ssl", "REQUIRED")]).as_deref(), Some("required"));
        assert_eq!(
            mode(&[("ssl", "DISABLED"), ("replication_ssl", "verify_identity")]).as_deref(),
            Some("verify-identity")
        );
        let t = translate(props(&[("ssl", "VERIFY_CA")])).unwrap();
        assert!(t.warnings.iter().any(|w| w.message.contains("ca_file")));
    }

    #[test]
    fn separate_replication_server() {
        let t = translate(props(&[
            ("host", "store"),
            ("user", "m"),
            ("replication_host", "replica"),
            ("replication_user", "r"),
            ("replication_password", "rp"),
            ("replication_port", "3310"),
        ]))
        .unwrap();
        let toml = t.to_toml(Secrets::Shown);
        assert_eq!(
            value(&toml, "source", "host").unwrap().as_str(),
            Some("replica")
        );
        assert_eq!(value(&toml, "source", "user").unwrap().as_str(), Some("r"));
        assert_eq!(
            value(&toml, "source", "port").unwrap().as_integer(),
            Some(3310)
        );
        assert!(t.warnings.iter().any(|w| w.key == "host"));
        let err = translate(props(&[("replication_host", "replica")])).unwrap_err();
        assert!(err.to_string().contains("replication_host"), "{err}");
    }

    #[test]
    fn unsupported_options_are_errors_naming_them() {
        for (key, value) in [
            ("producer", "kafka"),
            ("encrypt", "rows"),
            ("javascript", "/etc/filter.js"),
            ("ssl", "VERIFY_EVERYTHING"),
            ("schema_host", "s"),
            ("ha", "true"),
            ("master_recovery", "true"),
            ("include_dbs", "tis"),
            ("custom_producer.factory", "com.example.F"),
            ("rabbitmq_exchange_typo", "topic"),
            ("output_ddl", "yes"),
            ("port", "abc"),
            ("client_id", "../etc"),
            ("init_position", "mysql-bin.000001"),
        ] {
            let err = translate(props(&[("producer", "rabbitmq"), (key, value)])).unwrap_err();
            let key_name = if key == "producer" { "producer" } else { key };
            assert!(err.to_string().contains(key_name), "{key}: {err}");
        }
    }

    #[test]
    fn encryption_prefix_and_schema_database_translate_without_refusal() {
        let t = translate(props(&[
            ("producer", "rabbitmq"),
            ("encrypt", "all"),
            ("secret_key", "0123456789abcdef"),
            ("http_path_prefix", "/mx"),
            ("schema_database", "mx_state"),
        ]))
        .unwrap();
        let shown = t.to_toml(Secrets::Shown);
        assert_eq!(
            value(&shown, "output", "encrypt").unwrap().as_str(),
            Some("all")
        );
        assert_eq!(
            value(&shown, "output", "secret_key").unwrap().as_str(),
            Some("0123456789abcdef")
        );
        assert_eq!(
            value(&shown, "http", "maxwell_prefix").unwrap().as_str(),
            Some("/mx")
        );
        assert_eq!(
            value(&shown, "bootstrap", "database").unwrap().as_str(),
            Some("mx_state")
        );
        // The key is a secret: hidden unless asked for, and named where to set it.
        let hidden = t.to_toml(Secrets::Hidden);
        assert!(!hidden.contains("0123456789abcdef"), "{hidden}");
        assert!(
            hidden.contains("BINLOG_RELAY__OUTPUT__SECRET_KEY"),
            "{hidden}"
        );
        // The translation loads, and the key is checked as Maxwell's cipher would need it.
        let mut output: crate::format::OutputConfig = toml::from_str::<toml::Table>(&shown)
            .unwrap()["output"]
            .clone()
            .try_into()
            .unwrap();
        assert!(output.compile().unwrap().sealer.is_some());
        output.secret_key = crate::section::Secret::new("short");
        let err = output.compile().unwrap_err().to_string();
        assert!(
            err.contains("output.secret_key") && err.contains("16, 24 or 32"),
            "{err}"
        );
        assert!(!err.contains("short"), "the key is never shown: {err}");
    }

    #[test]
    fn harmless_options_are_warnings_naming_them() {
        let t = translate(props(&[
            ("producer", "rabbitmq"),
            ("log_level", "debug"),
            ("schema_database", "maxwell"),
            ("kafka.bootstrap.servers", "k:9092"),
            ("kafka_topic", "t"),
            ("producer_partition_by", "table"),
            ("metrics_type", "slf4j,http"),
            ("http_port", "9000"),
            ("http_path_prefix", "maxwell"),
            ("bootstrapper", "async"),
            ("binlog_heartbeat", "false"),
            ("ssl", "DISABLED"),
            ("init_position", "mysql-bin.000003:4:0"),
        ]))
        .unwrap();
        let keys: Vec<&str> = t.warnings.iter().map(|w| w.key.as_str()).collect();
        for key in [
            "log_level",
            "kafka.bootstrap.servers",
            "kafka_topic",
            "producer_partition_by",
            "metrics_type",
            "bootstrapper",
            "binlog_heartbeat",
            "init_position",
        ] {
            assert!(keys.contains(&key), "{key} not warned: {keys:?}");
        }
        let toml = t.to_toml(Secrets::Shown);
        assert_eq!(
            value(&toml, "http", "listen").unwrap().as_str(),
            Some("0.0.0.0:9000")
        );
        // Maxwell's probe paths move with its prefix (given one, if it lacks it, a leading
        // slash).
        assert_eq!(
            value(&toml, "http", "maxwell_prefix").unwrap().as_str(),
            Some("/maxwell")
        );
        assert!(!keys.contains(&"http_path_prefix"), "{keys:?}");
        assert_eq!(
            value(&toml, "source", "start").unwrap().as_str(),
            Some("mysql-bin.000003:4")
        );
        // Warnings are listed in the TOML for the reviewer.
        assert!(
            toml.contains("# ignored: Maxwell option `log_level`"),
            "{toml}"
        );
        // rabbitmq_* keys with another producer are unused in Maxwell too.
        let t = translate(props(&[("rabbitmq_exchange", "x"), ("ssl", "DISABLED")])).unwrap();
        assert_eq!(t.warnings[0].key, "rabbitmq_exchange");
    }

    #[test]
    fn environment_follows_maxwells_prefix_rule() {
        let mut p = props(&[("env_config_prefix", "MAXWELL_"), ("host", "file")]);
        let env = vec![
            ("MAXWELL_HOST".to_string(), "env".to_string()),
            ("maxwell_rabbitmq_exchange".to_string(), "x".to_string()),
            ("OTHER_HOST".to_string(), "no".to_string()),
        ];
        let used = apply_environment(&mut p, &env);
        assert_eq!(p["host"], "env");
        assert_eq!(p["rabbitmq_exchange"], "x");
        assert_eq!(used.len(), 2);
        // Without the prefix option, MAXWELL_* variables mean nothing, as in Maxwell.
        let mut p = props(&[("host", "file")]);
        apply_environment(&mut p, &env);
        assert_eq!(p["host"], "file");
        // GTID_MODE turns gtid_mode on unless the file says otherwise.
        let gtid = vec![("GTID_MODE".to_string(), "1".to_string())];
        let mut p = props(&[]);
        apply_environment(&mut p, &gtid);
        assert_eq!(p["gtid_mode"], "true");
        let mut p = props(&[("gtid_mode", "false")]);
        apply_environment(&mut p, &gtid);
        assert_eq!(p["gtid_mode"], "false");
    }

    #[test]
    fn origins_name_the_maxwell_option() {
        let t = translate(props(&[
            ("producer", "rabbitmq"),
            ("rabbitmq_exchange_type", "fan"),
        ]))
        .unwrap();
        assert_eq!(
            t.origin("sink.rabbitmq.exchange_type"),
            Some("rabbitmq_exchange_type")
        );
        assert_eq!(t.origin("source.nothing"), None);
    }

    #[test]
    fn heartbeat_and_handshake_timeout_map_to_the_liveness_settings() {
        let toml = toml_of(&[
            ("producer", "rabbitmq"),
            ("binlog_heartbeat", "true"),
            ("rabbitmq_handshake_timeout", "5000"),
        ]);
        assert_eq!(
            value(&toml, "source", "read_timeout_ms")
                .unwrap()
                .as_integer(),
            Some(10_000)
        );
        assert_eq!(
            value(&toml, "sink.rabbitmq", "connect_timeout_ms")
                .unwrap()
                .as_integer(),
            Some(5_000)
        );
        assert!(
            toml.contains("read_timeout_ms = 10000 # binlog_heartbeat"),
            "{toml}"
        );
        // The Java client's 0 ("no limit") keeps our bound and says so.
        let t = translate(props(&[
            ("producer", "rabbitmq"),
            ("rabbitmq_handshake_timeout", "0"),
        ]))
        .unwrap();
        assert!(
            t.warnings
                .iter()
                .any(|w| w.key == "rabbitmq_handshake_timeout")
        );
        assert_eq!(t.origin("sink.rabbitmq.connect_timeout_ms"), None);
    }
}
