//! `binlog-relay check`: is everything set up for replication, before the first start?
//!
//! It connects to the source, the broker and the checkpoint directory the configuration
//! names, and reports one line per item, with what to change for each that fails. Gathering
//! (network) and judging (the pure [`evaluate`]) are kept apart so the judging is tested
//! against every kind of bad server without needing one of each.

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

use mysql_async::prelude::Queryable;

use crate::checkpoint::{CheckpointStore, FileStore};
use crate::config::Config;
use crate::sink::SinkKind;
use crate::source::{BinlogSource, SourceError};

/// `binlog-relay check`: prints the report, one line per item; exit code 1 if any failed.
pub fn command(file: &super::ConfigFile) -> ExitCode {
    let config = match super::load_config(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let items = match super::small_runtime() {
        Ok(rt) => rt.block_on(run(&config)),
        Err(code) => return code,
    };
    for item in &items {
        println!("{item}");
    }
    let failed = items.iter().filter(|i| i.status == Status::Fail).count();
    if failed == 0 {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        println!("{failed} check(s) failed");
        ExitCode::FAILURE
    }
}

/// How an item came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, with a cost the operator should know.
    Warn,
    /// Replication will not work (or will lose data) until it is fixed.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub status: Status,
    pub name: &'static str,
    pub detail: String,
    /// What to change, for Warn and Fail.
    pub fix: Option<String>,
}

impl Item {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            name,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            status: Status::Warn,
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            name,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        write!(f, "{tag} {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, " -> {fix}")?;
        }
        Ok(())
    }
}

/// What the source server said about itself.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    pub version: String,
    pub log_bin: bool,
    pub binlog_format: String,
    pub binlog_row_image: String,
    /// `None` where the server has no such variable (MariaDB < 10.5, MySQL < 8.0.1).
    pub binlog_row_metadata: Option<String>,
    pub server_id: u32,
    /// MySQL `@@gtid_mode`; `None` on MariaDB, which always writes GTIDs.
    pub mysql_gtid_mode: Option<String>,
    /// Seconds binlogs are kept (0: until purged by hand).
    pub retention_seconds: Option<u64>,
    /// `SHOW GRANTS` lines.
    pub grants: Vec<String>,
    /// Binlog files the server has, oldest first; `None` when the account may not list
    /// them (the grants item says why).
    pub binlog_files: Option<Vec<String>>,
    /// The TLS version of the check's own connection (`Ssl_version`); empty in plain text.
    pub tls_version: String,
}

impl ServerFacts {
    fn is_mariadb(&self) -> bool {
        self.version.to_ascii_lowercase().contains("mariadb")
    }
}

/// The TLS of the check's own connection, judged against what the mode promises: a warning
/// for every connection a machine in the middle could read, except plain text on loopback.
fn tls_item(facts: &ServerFacts, config: &Config) -> Item {
    let tls = &config.source.tls;
    let mode = tls.mode.as_str();
    let fix = "set source.tls.mode = \"verify-identity\" with source.tls.ca_file (docs/deployment.md, \"TLS\")";
    if facts.tls_version.is_empty() {
        if tls.mode == crate::source::tls::TlsMode::Disabled {
            return match tls.exposure(&config.source.host) {
                None => Item::ok("tls", "off, on loopback (source.tls.mode = \"disabled\")"),
                Some(_) => Item::warn(
                    "tls",
                    format!(
                        "plain text to {} (source.tls.mode = \"disabled\")",
                        config.source.host
                    ),
                    fix,
                ),
            };
        }
        return Item::warn(
            "tls",
            format!("plain text: the server offers no TLS (source.tls.mode = \"{mode}\")"),
            "give the server a certificate (ssl_ca, ssl_cert, ssl_key), then set source.tls.mode = \"verify-identity\" with source.tls.ca_file",
        );
    }
    if tls.mode.verifies() {
        Item::ok(
            "tls",
            format!(
                "{}, server verified (source.tls.mode = \"{mode}\")",
                facts.tls_version
            ),
        )
    } else {
        Item::warn(
            "tls",
            format!(
                "{}, but the server's certificate is not checked (source.tls.mode = \"{mode}\"): a machine in the middle could read the stream",
                facts.tls_version
            ),
            fix,
        )
    }
}

/// Judges the source server's facts against the configuration. `checkpoint_file` is the
/// binlog file the saved checkpoint points into, if there is one.
pub fn evaluate(facts: &ServerFacts, config: &Config, checkpoint_file: Option<&str>) -> Vec<Item> {
    let mut items = Vec::new();
    let flavour = if facts.is_mariadb() {
        "MariaDB"
    } else {
        "MySQL"
    };
    items.push(Item::ok("server", format!("{flavour} {}", facts.version)));
    items.push(tls_item(facts, config));
    items.push(if facts.log_bin {
        Item::ok("log_bin", "ON")
    } else {
        Item::fail(
            "log_bin",
            "OFF: the server writes no binlog",
            "start the server with log_bin (e.g. log_bin=mysql-bin in its config file) and a server_id, then restart it",
        )
    });
    items.push(if facts.binlog_format.eq_ignore_ascii_case("ROW") {
        Item::ok("binlog_format", "ROW")
    } else {
        Item::fail(
            "binlog_format",
            format!("{}: row changes are not in the binlog", facts.binlog_format),
            "SET GLOBAL binlog_format='ROW' and set binlog_format=ROW in the server's config file",
        )
    });
    items.push(if facts.binlog_row_image.eq_ignore_ascii_case("FULL") {
        Item::ok("binlog_row_image", "FULL")
    } else {
        Item::warn(
            "binlog_row_image",
            format!(
                "{}: updates and deletes carry only some columns, so data and old miss the rest",
                facts.binlog_row_image
            ),
            "SET GLOBAL binlog_row_image='FULL' and set it in the server's config file",
        )
    });
    items.push(match &facts.binlog_row_metadata {
        Some(m) if m.eq_ignore_ascii_case("FULL") => Item::ok(
            "binlog_row_metadata",
            "FULL: column names come from the binlog itself",
        ),
        other => Item::warn(
            "binlog_row_metadata",
            format!(
                "{}: column names come from the schema history (information_schema plus followed DDL)",
                other.as_deref().unwrap_or("not supported by this server")
            ),
            "where the server supports it, SET GLOBAL binlog_row_metadata='FULL' (MySQL 8.0.1+, MariaDB 10.5+)",
        ),
    });
    items.push(if facts.server_id == 0 {
        Item::fail(
            "server_id",
            "0: the server cannot serve replicas",
            "set server_id to a unique non-zero number in the server's config and restart it",
        )
    } else if facts.server_id == config.source.server_id {
        Item::fail(
            "server_id",
            format!(
                "{} is also source.server_id: the server would refuse us as a replica",
                facts.server_id
            ),
            "set source.server_id to a number no server or replica uses",
        )
    } else {
        Item::ok(
            "server_id",
            format!(
                "{} (we register as {})",
                facts.server_id, config.source.server_id
            ),
        )
    });
    items.push(match (&facts.mysql_gtid_mode, facts.is_mariadb()) {
        (_, true) => Item::ok(
            "gtid",
            "MariaDB GTIDs: checkpoints record the GTID position",
        ),
        (Some(mode), false) if mode.eq_ignore_ascii_case("ON") => Item::ok(
            "gtid",
            "gtid_mode=ON: checkpoints record the executed GTID set",
        ),
        (mode, false) if config.source.gtid_mode => Item::fail(
            "gtid",
            format!(
                "source.gtid_mode is set but the server has gtid_mode={}",
                mode.as_deref().unwrap_or("unknown")
            ),
            "source.gtid_mode follows failovers on MariaDB only; set it to false",
        ),
        (mode, false) => Item::ok(
            "gtid",
            format!(
                "gtid_mode={}: checkpoints use file and offset only",
                mode.as_deref().unwrap_or("unknown")
            ),
        ),
    });
    items.push(retention(facts, checkpoint_file));
    items.push(grants(&facts.grants));
    if config.checkpoint.store == crate::checkpoint::StoreKind::Database {
        items.push(state_grants(&facts.grants, &config.checkpoint.database));
    }
    items.push(maxwell_grants(&facts.grants, &config.bootstrap.database));
    items
}

fn retention(facts: &ServerFacts, checkpoint_file: Option<&str>) -> Item {
    let kept = match facts.retention_seconds {
        Some(0) | None => "binlogs are kept until purged by hand".to_owned(),
        Some(s) => format!("binlogs are kept {:.1} days", s as f64 / 86_400.0),
    };
    let files = facts.binlog_files.as_deref().unwrap_or_default();
    match checkpoint_file {
        Some(_) if facts.binlog_files.is_none() => Item::warn(
            "binlog retention",
            format!("cannot list the server's binlog files; {kept}"),
            "grant REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+) to source.user",
        ),
        Some(file) if !files.iter().any(|f| f == file) => Item::fail(
            "binlog retention",
            format!(
                "the checkpoint's file {file} is no longer on the server (it has {}..{}); {kept}",
                files.first().map_or("none", String::as_str),
                files.last().map_or("none", String::as_str)
            ),
            "re-sync the consumers and move the checkpoint with `binlog-relay positions set` (docs/delivery.md), and keep binlogs longer than your longest outage",
        ),
        Some(file) => Item::ok(
            "binlog retention",
            format!("the checkpoint's file {file} is on the server; {kept}"),
        ),
        None => match facts.retention_seconds {
            Some(s) if s > 0 && s < 86_400 => Item::warn(
                "binlog retention",
                kept,
                "keep binlogs longer than the longest outage you want to ride out (binlog_expire_logs_seconds / expire_logs_days)",
            ),
            _ => Item::ok("binlog retention", format!("no checkpoint yet; {kept}")),
        },
    }
}

/// The privileges replication needs, and the names MariaDB 10.5+ shows for them.
fn grants(lines: &[String]) -> Item {
    let global: Vec<String> = lines
        .iter()
        .filter(|l| l.contains(" ON *.* "))
        .map(|l| l.to_ascii_uppercase())
        .collect();
    let has = |names: &[&str]| {
        global
            .iter()
            .any(|l| l.contains("ALL PRIVILEGES") || names.iter().any(|n| l.contains(n)))
    };
    let mut missing = Vec::new();
    if !has(&["REPLICATION SLAVE", "REPLICATION REPLICA"]) {
        missing.push("REPLICATION SLAVE");
    }
    if !has(&["REPLICATION CLIENT", "BINLOG MONITOR"]) {
        missing.push("REPLICATION CLIENT");
    }
    if !has(&["SELECT"]) {
        missing.push("SELECT");
    }
    if missing.is_empty() {
        Item::ok(
            "grants",
            "REPLICATION SLAVE, REPLICATION CLIENT and SELECT on *.*",
        )
    } else {
        Item::fail(
            "grants",
            format!("missing on *.*: {}", missing.join(", ")),
            format!(
                "GRANT {} ON *.* TO the account in source.user",
                missing.join(", ")
            ),
        )
    }
}

/// The privileges of `needed` that no line of `SHOW GRANTS` gives on `database`.
fn missing_on<'a>(lines: &[String], database: &str, needed: &[&'a str]) -> Vec<&'a str> {
    let on_db = format!(" ON `{}`.* ", database.to_ascii_uppercase());
    let relevant: Vec<String> = lines
        .iter()
        // `binlog\_relay`: an escaped wildcard names the same database.
        .map(|l| l.to_ascii_uppercase().replace('\\', ""))
        .filter(|l| l.contains(" ON *.* ") || l.contains(&on_db))
        .collect();
    needed
        .iter()
        .copied()
        .filter(|p| {
            !relevant.iter().any(|l| {
                let privileges = l.split(" ON ").next().unwrap_or("");
                privileges.contains("ALL PRIVILEGES")
                    || privileges
                        .trim_start_matches("GRANT ")
                        .split(',')
                        .any(|x| x.trim() == *p)
            })
        })
        .collect()
}

/// What the database store needs on its own database: its tables are created on first use
/// and written on every checkpoint.
fn state_grants(lines: &[String], database: &str) -> Item {
    let missing = missing_on(
        lines,
        database,
        &["SELECT", "INSERT", "UPDATE", "DELETE", "CREATE"],
    );
    if missing.is_empty() {
        Item::ok(
            "state grants",
            format!(
                "SELECT, INSERT, UPDATE, DELETE, CREATE on `{database}`.* (checkpoint.store = \"database\")"
            ),
        )
    } else {
        Item::fail(
            "state grants",
            format!("missing on `{database}`.*: {}", missing.join(", ")),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `{database}`.* TO the account in source.user"
            ),
        )
    }
}

/// Maxwell's state database (`bootstrap.database`, Maxwell's `schema_database`): read for
/// bootstrap requests and `source.start = "maxwell"`, written by `binlog-relay bootstrap`
/// and by `positions export-maxwell`, the roll-back. A warning, not a failure: streaming
/// does not need it.
fn maxwell_grants(lines: &[String], database: &str) -> Item {
    let missing = missing_on(lines, database, &["SELECT", "INSERT", "UPDATE", "CREATE"]);
    if missing.is_empty() {
        Item::ok(
            "maxwell grants",
            format!(
                "SELECT, INSERT, UPDATE, CREATE on `{database}`.* (bootstrap requests, positions export-maxwell)"
            ),
        )
    } else {
        Item::warn(
            "maxwell grants",
            format!(
                "missing on `{database}`.*: {}; bootstrap requests, source.start = \"maxwell\" and the roll-back to Maxwell (positions export-maxwell) need them",
                missing.join(", ")
            ),
            format!(
                "GRANT SELECT, INSERT, UPDATE, CREATE ON `{database}`.* TO the account in source.user"
            ),
        )
    }
}

/// Who holds the leader lock, and who the database store says leads.
async fn leader(config: &Config) -> Item {
    let source = BinlogSource::new(&config.source);
    let name = config.checkpoint.lock_name();
    let found = async {
        let mut conn = source.conn().await.map_err(|e| e.to_string())?;
        let holder: Option<Option<u64>> = conn
            .exec_first("SELECT IS_USED_LOCK(?)", (&name,))
            .await
            .map_err(|e| e.to_string())?;
        let row = crate::checkpoint::database::read(
            &mut conn,
            &config.checkpoint.database,
            &config.checkpoint.client_id,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>((holder.flatten(), row))
    }
    .await;
    source.close().await;
    match found {
        Ok((Some(connection), row)) => {
            let who = row
                .filter(|r| r.leader_connection == Some(connection))
                .map(|r| r.leader)
                .unwrap_or_else(|| "an instance that has not recorded itself yet".into());
            Item::ok(
                "leader",
                format!("lock `{name}` held by {who} (connection {connection})"),
            )
        }
        Ok((None, _)) => Item::ok(
            "leader",
            format!("lock `{name}` is free: the first instance to start leads"),
        ),
        Err(e) => Item::fail(
            "leader",
            format!("cannot read lock `{name}`: {e}"),
            "check that the source server is reachable and the grants above",
        ),
    }
}

/// Runs every check the configuration allows. Never fails: a failure is an item.
pub async fn run(config: &Config) -> Vec<Item> {
    let checkpoint_file = match FileStore::open(&config.checkpoint.dir).and_then(|s| s.load()) {
        Ok(cp) => cp.map(|cp| cp.position.file),
        Err(_) => None,
    };
    let mut items = match source_facts(config).await {
        Ok(facts) => evaluate(&facts, config, checkpoint_file.as_deref()),
        Err(e) => vec![Item::fail(
            "source",
            format!("as {}: {e}", config.source.user),
            "make sure the server is running and the account can log in from this host",
        )],
    };
    if config.checkpoint.store == crate::checkpoint::StoreKind::Database {
        items.push(leader(config).await);
    }
    items.extend(broker(config).await);
    items.push(checkpoint_dir(&config.checkpoint.dir));
    items
}

async fn source_facts(config: &Config) -> Result<ServerFacts, SourceError> {
    let source = BinlogSource::new(&config.source);
    let facts = server_facts(&source).await;
    source.close().await;
    facts
}

async fn server_facts(source: &BinlogSource) -> Result<ServerFacts, SourceError> {
    source
        .bounded("the server checks", gather_server_facts(source))
        .await
}

async fn gather_server_facts(source: &BinlogSource) -> Result<ServerFacts, SourceError> {
    const SETTINGS: &str =
        "SELECT @@version, @@log_bin, @@binlog_format, @@server_id, @@binlog_row_image";
    let query = |query: &'static str| move |source| SourceError::Query { query, source };
    let mut conn = source.conn().await?;
    let (version, log_bin, format, server_id, row_image): (String, i64, String, u32, String) = conn
        .query_first(SETTINGS)
        .await
        .map_err(query(SETTINGS))?
        .unwrap_or_default();
    let binlog_row_metadata = source
        .global_variable(&mut conn, "binlog_row_metadata")
        .await?;
    let mysql_gtid_mode = if version.to_ascii_lowercase().contains("mariadb") {
        None
    } else {
        source.global_variable(&mut conn, "gtid_mode").await?
    };
    let seconds = source
        .global_variable(&mut conn, "binlog_expire_logs_seconds")
        .await?
        .and_then(|v| v.parse::<u64>().ok());
    let days = source
        .global_variable(&mut conn, "expire_logs_days")
        .await?
        .and_then(|v| v.parse::<f64>().ok());
    let retention_seconds = match (seconds, days) {
        (Some(s), _) if s > 0 => Some(s),
        (_, Some(d)) if d > 0.0 => Some((d * 86_400.0) as u64),
        (s, _) => s,
    };
    let grants: Vec<String> = conn
        .query("SHOW GRANTS")
        .await
        .map_err(query("SHOW GRANTS"))?;
    // Needs REPLICATION CLIENT; without it the grants item already fails.
    let binlog_files: Option<Vec<String>> = if log_bin != 0 {
        conn.query_map("SHOW BINARY LOGS", |row: mysql_async::Row| {
            row.get::<String, _>(0).unwrap_or_default()
        })
        .await
        .ok()
    } else {
        Some(Vec::new())
    };
    let tls_version: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .await
        .map_err(query("SHOW SESSION STATUS LIKE 'Ssl_version'"))?;
    Ok(ServerFacts {
        tls_version: tls_version.map(|(_, v)| v).unwrap_or_default(),
        version,
        log_bin: log_bin != 0,
        binlog_format: format,
        binlog_row_image: row_image,
        binlog_row_metadata,
        server_id,
        mysql_gtid_mode,
        retention_seconds,
        grants,
        binlog_files,
    })
}

async fn broker(config: &Config) -> Vec<Item> {
    if config.sink.kind != SinkKind::Rabbitmq {
        return vec![Item::ok("broker", "sink.type is stdout: no broker")];
    }
    let rabbit = &config.sink.rabbitmq;
    let (connection, address) = match crate::sink::rabbitmq::connect_broker(rabbit).await {
        Ok(c) => (c.connection, format!("{}/{}", c.node, rabbit.vhost_name())),
        Err(e) => {
            return vec![Item::fail(
                "broker",
                e.to_string(),
                "check sink.rabbitmq.uri (user, password, vhost), sink.rabbitmq.tls and that the broker is running",
            )];
        }
    };
    let mut items = vec![Item::ok("broker", format!("connected to {address}"))];
    let plain = rabbit.plaintext_remote_nodes();
    if !plain.is_empty() {
        items.push(Item::warn(
            "broker TLS",
            format!(
                "plain-text AMQP to {}: the password and every row cross the network unencrypted",
                plain.join(", ")
            ),
            "use amqps:// (sink.rabbitmq.tls for a private CA)",
        ));
    }
    // The main exchange and every route's, declared alike.
    let mut exchanges = vec![rabbit.exchange.as_str()];
    for route in &rabbit.routes {
        if !exchanges.contains(&route.exchange.as_str()) {
            exchanges.push(route.exchange.as_str());
        }
    }
    for exchange in exchanges {
        items.push(probe_exchange(&connection, rabbit, exchange).await);
    }
    let _ = connection.close(200, "check done".into()).await;
    items
}

/// Whether `exchange` exists with the configured settings, or will be declared.
async fn probe_exchange(
    connection: &lapin::Connection,
    rabbit: &crate::sink::RabbitmqConfig,
    exchange: &str,
) -> Item {
    use lapin::options::ExchangeDeclareOptions;
    use lapin::types::FieldTable;
    // Passive first: does it exist? (A failed declaration closes the channel.)
    let exists = match connection.create_channel().await {
        Ok(ch) => ch
            .exchange_declare(
                exchange.into(),
                lapin::ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .is_ok(),
        Err(_) => false,
    };
    let declared = match connection.create_channel().await {
        Ok(ch) if exists => {
            // Declaring what exists with the same settings changes nothing; with other
            // settings the broker refuses, which is what this looks for.
            let result = ch
                .exchange_declare(
                    exchange.into(),
                    rabbit_kind(&rabbit.exchange_type),
                    ExchangeDeclareOptions {
                        durable: rabbit.exchange_durable,
                        auto_delete: rabbit.exchange_auto_delete,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await;
            Some(result)
        }
        _ => None,
    };
    match (exists, declared) {
        (true, Some(Ok(_))) => Item::ok(
            "exchange",
            format!(
                "`{exchange}` exists as {} (durable={})",
                rabbit.exchange_type, rabbit.exchange_durable
            ),
        ),
        (true, Some(Err(e))) => Item::fail(
            "exchange",
            format!("`{exchange}` exists with other settings: {e}"),
            "make sink.rabbitmq.exchange_type, exchange_durable and exchange_auto_delete match the existing exchange",
        ),
        (false, _) if rabbit.declare_exchange => Item::ok(
            "exchange",
            format!("`{exchange}` does not exist yet; it is declared at start-up"),
        ),
        _ => Item::fail(
            "exchange",
            format!("`{exchange}` does not exist and declare_exchange is false"),
            "create the exchange, or set sink.rabbitmq.declare_exchange = true",
        ),
    }
}

fn rabbit_kind(name: &str) -> lapin::ExchangeKind {
    match name {
        "direct" => lapin::ExchangeKind::Direct,
        "topic" => lapin::ExchangeKind::Topic,
        "headers" => lapin::ExchangeKind::Headers,
        _ => lapin::ExchangeKind::Fanout,
    }
}

fn checkpoint_dir(dir: &Path) -> Item {
    let probe = dir.join(".binlog-relay-check");
    let result = crate::private_file::create_dir(dir)
        .and_then(|()| crate::private_file::create(&probe).map(drop))
        .and_then(|()| std::fs::remove_file(&probe));
    match result {
        Ok(()) => match crate::checkpoint::lock_holder(dir) {
            Some(holder) => Item::ok(
                "checkpoint.dir",
                format!(
                    "{} is writable; in use by a running binlog-relay ({holder}), which a second one on it would refuse",
                    dir.display()
                ),
            ),
            None => Item::ok("checkpoint.dir", format!("{} is writable", dir.display())),
        },
        Err(e) => Item::fail(
            "checkpoint.dir",
            format!("{}: {e}", dir.display()),
            "create the directory and give the daemon's user write access, or set checkpoint.dir",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::load_with_env(
            None,
            [("BINLOG_RELAY__SOURCE__HOST".to_owned(), "db".to_owned())],
        )
        .unwrap()
    }

    fn good() -> ServerFacts {
        ServerFacts {
            version: "10.11.6-MariaDB-log".into(),
            log_bin: true,
            binlog_format: "ROW".into(),
            binlog_row_image: "FULL".into(),
            binlog_row_metadata: Some("FULL".into()),
            server_id: 1,
            mysql_gtid_mode: None,
            retention_seconds: Some(7 * 86_400),
            grants: vec![
                "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `maxwell`@`%`".into(),
                // Maxwell's documented grant on its own database.
                "GRANT ALL PRIVILEGES ON `maxwell`.* TO `maxwell`@`%`".into(),
            ],
            binlog_files: Some(vec!["bin.000001".into(), "bin.000002".into()]),
            tls_version: "TLSv1.3".into(),
        }
    }

    fn failing(items: &[Item]) -> Vec<&'static str> {
        items
            .iter()
            .filter(|i| i.status == Status::Fail)
            .map(|i| i.name)
            .collect()
    }

    #[test]
    fn a_good_server_passes() {
        let items = evaluate(&good(), &config(), Some("bin.000002"));
        assert!(failing(&items).is_empty(), "{items:#?}");
        assert!(items.iter().all(|i| i.status == Status::Ok), "{items:#?}");
    }

    #[test]
    fn tls_is_flagged_wherever_a_machine_in_the_middle_could_read_the_stream() {
        let with = |host: &str, mode: &str| {
            Config::load_with_env(
                None,
                [
                    ("BINLOG_RELAY__SOURCE__HOST".to_owned(), host.to_owned()),
                    (
                        "BINLOG_RELAY__SOURCE__TLS__MODE".to_owned(),
                        mode.to_owned(),
                    ),
                ],
            )
            .unwrap()
        };
        let plain = ServerFacts {
            tls_version: String::new(),
            ..good()
        };
        let cases = [
            (
                &good(),
                "db",
                "verify-identity",
                Status::Ok,
                "server verified",
            ),
            (&good(), "db", "required", Status::Warn, "not checked"),
            (&good(), "db", "preferred", Status::Warn, "not checked"),
            (&plain, "db", "preferred", Status::Warn, "offers no TLS"),
            (&plain, "db", "disabled", Status::Warn, "plain text to db"),
            (&plain, "127.0.0.1", "disabled", Status::Ok, "on loopback"),
        ];
        for (facts, host, mode, status, says) in cases {
            let item = tls_item(facts, &with(host, mode));
            assert_eq!(item.status, status, "{mode} to {host}: {item:?}");
            assert!(item.detail.contains(says), "{mode} to {host}: {item:?}");
            if status == Status::Warn {
                assert!(
                    item.fix
                        .as_deref()
                        .unwrap_or("")
                        .contains("verify-identity")
                );
            }
        }
    }

    #[test]
    fn each_bad_setting_fails_with_its_fix() {
        let cfg = config();
        let cases: Vec<(ServerFacts, &str, &str)> = vec![
            (
                ServerFacts {
                    log_bin: false,
                    ..good()
                },
                "log_bin",
                "log_bin",
            ),
            (
                ServerFacts {
                    binlog_format: "MIXED".into(),
                    ..good()
                },
                "binlog_format",
                "binlog_format='ROW'",
            ),
            (
                ServerFacts {
                    server_id: cfg.source.server_id,
                    ..good()
                },
                "server_id",
                "source.server_id",
            ),
            (
                ServerFacts {
                    grants: vec!["GRANT SELECT ON *.* TO `u`@`%`".into()],
                    ..good()
                },
                "grants",
                "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*",
            ),
        ];
        for (facts, name, fix) in cases {
            let items = evaluate(&facts, &cfg, None);
            assert_eq!(failing(&items), [name]);
            let item = items.iter().find(|i| i.name == name).unwrap();
            assert!(
                item.fix.as_deref().is_some_and(|f| f.contains(fix)),
                "{item}"
            );
        }
    }

    #[test]
    fn a_purged_checkpoint_file_fails_and_partial_images_warn() {
        let items = evaluate(&good(), &config(), Some("bin.000000"));
        assert_eq!(failing(&items), ["binlog retention"]);
        let minimal = ServerFacts {
            binlog_row_image: "MINIMAL".into(),
            binlog_row_metadata: None,
            ..good()
        };
        let items = evaluate(&minimal, &config(), None);
        assert!(failing(&items).is_empty());
        let warned: Vec<_> = items
            .iter()
            .filter(|i| i.status == Status::Warn)
            .map(|i| i.name)
            .collect();
        assert_eq!(warned, ["binlog_row_image", "binlog_row_metadata"]);
    }

    #[test]
    fn the_database_store_needs_write_grants_on_its_database() {
        let ok = state_grants(
            &["GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `relay`.* TO `m`@`%`".into()],
            "relay",
        );
        assert_eq!(ok.status, Status::Ok, "{ok:?}");
        assert_eq!(
            state_grants(
                &["GRANT ALL PRIVILEGES ON *.* TO `root`@`%`".into()],
                "relay"
            )
            .status,
            Status::Ok
        );
        let item = state_grants(
            &[
                "GRANT SELECT, REPLICATION SLAVE ON *.* TO `m`@`%`".into(),
                "GRANT INSERT, UPDATE ON `other`.* TO `m`@`%`".into(),
            ],
            "relay",
        );
        assert_eq!(item.status, Status::Fail);
        assert!(
            item.detail.contains("INSERT, UPDATE, DELETE, CREATE"),
            "{item:?}"
        );
        assert!(item.fix.unwrap().contains("ON `relay`.*"));
    }

    #[test]
    fn maxwells_state_database_needs_write_grants_for_the_roll_back() {
        let item = maxwell_grants(
            &["GRANT SELECT, INSERT, UPDATE, CREATE ON `mx\\_state`.* TO `m`@`%`".into()],
            "mx_state",
        );
        assert!(item.to_string().contains("ok"), "{item}");
        let item = maxwell_grants(
            &[
                "GRANT SELECT, REPLICATION SLAVE ON *.* TO `m`@`%`".into(),
                "GRANT INSERT ON `maxwell`.* TO `m`@`%`".into(),
            ],
            "mx_state",
        );
        let text = item.to_string();
        assert!(
            text.contains("INSERT, UPDATE, CREATE")
                && text.contains("export-maxwell")
                && text.contains("GRANT SELECT, INSERT, UPDATE, CREATE ON `mx_state`.*"),
            "{text}"
        );
        // A warning: streaming works without it.
        assert!(!failing(&[item]).contains(&"maxwell grants"));
    }

    #[test]
    fn grants_by_any_of_their_names() {
        assert_eq!(
            grants(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`%`".into()]).status,
            Status::Ok
        );
        assert_eq!(
            grants(&[
                "GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `m`@`%`".into()
            ])
            .status,
            Status::Ok
        );
        // Privileges on one database do not count for *.*.
        let item = grants(&["GRANT ALL PRIVILEGES ON `shop`.* TO `m`@`%`".into()]);
        assert_eq!(item.status, Status::Fail);
        assert!(
            item.detail
                .contains("REPLICATION SLAVE, REPLICATION CLIENT, SELECT")
        );
    }
}
