//! Shared harness of the live tests: the services, unique names, databases and queues of
//! their own, daemon configurations for them, and a queue to read what the daemon
//! published. Running the binary itself is `crate::process`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

pub use crate::process::*;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use mysql_async::prelude::Queryable;
use tokio::process::Child;
use tokio::sync::RwLock;

/// Tests that change server-wide settings take this for writing; all others for reading.
pub static SERVER_SETTINGS: RwLock<()> = RwLock::const_new(());

/// Connection details of the services `scripts/services.sh` started.
pub struct Services {
    pub mysql_url: String,
    pub mysql_port: u16,
    pub amqp_uri: String,
    /// The broker's TLS listener.
    pub amqps_port: u16,
    /// Test certificates: ca.pem, other-ca.pem, server.pem (DNS:localhost only), client.pem
    /// and client.key.
    pub tls_dir: PathBuf,
    /// The project RabbitMQ node's name, for `rabbitmqctl -n`.
    pub rabbit_node: String,
    /// The project MariaDB's binlog directory, for reading what the server logged.
    pub binlog_dir: PathBuf,
}

/// The project's MariaDB and RabbitMQ, which `scripts/services.sh up` started (tests never
/// install or start them; fault tests stop and restart them, and `nobinlog_up` starts a
/// second MariaDB beside them). Panics, saying how to start them, when either is not answering.
pub fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let vars: HashMap<String, String> = services_sh(&["env"])
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mysql_url = vars["BINLOG_RELAY_TEST_MYSQL_URL"].clone();
        let mysql_port = mysql_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in mysql url");
        let amqp_uri = vars["BINLOG_RELAY_TEST_AMQP_URI"].clone();
        let amqp: lapin::uri::AMQPUri = amqp_uri.parse().expect("amqp uri");
        for (what, port) in [("MariaDB", mysql_port), ("RabbitMQ", amqp.authority.port)] {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
                "the project's {what} is not answering on 127.0.0.1:{port}: start the services with scripts/services.sh up"
            );
        }
        Services {
            mysql_url,
            mysql_port,
            amqp_uri,
            amqps_port: vars["BINLOG_RELAY_TEST_AMQPS_PORT"]
                .parse()
                .expect("amqps port"),
            tls_dir: PathBuf::from(&vars["BINLOG_RELAY_TEST_TLS_DIR"]),
            rabbit_node: vars["BINLOG_RELAY_TEST_RABBIT_NODE"].clone(),
            binlog_dir: PathBuf::from(&vars["BINLOG_RELAY_TEST_BINLOG_DIR"]),
        }
    })
}

impl Services {
    /// The path of one of the test certificates (see `tls_dir`), as a string for settings.
    pub fn tls_file(&self, name: &str) -> String {
        self.tls_dir.join(name).to_string_lossy().into_owned()
    }

    /// Host and port of the broker's plain-text listener.
    pub fn amqp_authority(&self) -> (String, u16) {
        let uri: lapin::uri::AMQPUri = self.amqp_uri.parse().expect("amqp uri");
        (uri.authority.host, uri.authority.port)
    }
}

/// Runs `scripts/services.sh ARGS`, its messages passed through; what it printed on
/// standard output.
fn services_sh(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/services.sh");
    assert!(out.status.success(), "scripts/services.sh {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts (if needed) the second MariaDB, without binlog or TLS, and returns its port.
pub fn nobinlog_up() -> u16 {
    services_sh(&["nobinlog-up"])
        .trim()
        .rsplit('=')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("BINLOG_RELAY_TEST_NOBINLOG_PORT=PORT from nobinlog-up")
}

/// `env` with `changes` set over it; an empty value removes the variable.
pub fn with(mut env: Vec<(String, String)>, changes: &[(&str, String)]) -> Vec<(String, String)> {
    for (key, value) in changes {
        env.retain(|(k, _)| k != key);
        if !value.is_empty() {
            env.push((key.to_string(), value.clone()));
        }
    }
    env
}

/// Borrowed pairs of an owned environment, as the spawn helpers take them.
pub fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 100_000
    )
}

pub fn mysql() -> mysql_async::Pool {
    mysql_async::Pool::new(services().mysql_url.as_str())
}

/// Runs statements on one connection, in order.
pub async fn exec(pool: &mysql_async::Pool, statements: &[&str]) {
    let mut conn = pool.get_conn().await.expect("mysql connection");
    for s in statements {
        conn.query_drop(*s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// A database of its own for one test, dropped when the test is done with it.
pub struct TestDb {
    pub pool: mysql_async::Pool,
    pub name: String,
}

impl TestDb {
    /// Creates database `<prefix>_<unique>` and runs `ddl` in it; `{db}` in a statement is
    /// replaced by the database name.
    pub async fn create(prefix: &str, ddl: &[&str]) -> Self {
        let name = unique(prefix);
        let pool = mysql();
        exec(
            &pool,
            &[&format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")],
        )
        .await;
        for statement in ddl {
            exec(&pool, &[&statement.replace("{db}", &name)]).await;
        }
        Self { pool, name }
    }

    /// Runs statements (with `{db}` replaced) on one connection.
    pub async fn exec(&self, statements: &[&str]) {
        let statements: Vec<String> = statements
            .iter()
            .map(|s| s.replace("{db}", &self.name))
            .collect();
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        exec(&self.pool, &refs).await;
    }

    /// The server's current binlog position.
    pub async fn position(&self) -> String {
        master_position(&self.pool).await
    }

    pub async fn drop_database(self) {
        exec(&self.pool, &[&format!("DROP DATABASE {}", self.name)]).await;
        let _ = self.pool.disconnect().await;
    }
}

/// The server's current binlog position as FILE:POS.
pub async fn master_position(pool: &mysql_async::Pool) -> String {
    let mut conn = pool.get_conn().await.expect("mysql connection");
    let row: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .expect("show master status")
        .expect("binlog enabled");
    let file: String = row.get(0).expect("file");
    let pos: u64 = row.get(1).expect("pos");
    format!("{file}:{pos}")
}

/// A topic exchange with one queue bound to `binding`, read with basic.get.
pub struct Queue {
    _connection: Connection,
    channel: Channel,
    pub exchange: String,
    name: String,
    /// The broker it lives on.
    uri: String,
}

/// Runs a fault command of `scripts/services.sh` (rabbit-stop, mariadb-restart, ...).
pub fn service(command: &str) {
    service_with(command, &[]);
}

/// What the tests expect of the server between them; a test that changes it restores it.
pub const FULL_METADATA: &str = "SET GLOBAL binlog_row_metadata = 'FULL'";

/// Runs an SQL statement on the test server when dropped, unless run before: a test that
/// changes a server-wide setting and then fails an assertion still puts it back, so the
/// tests after it see the setting they expect.
pub struct ExecOnDrop(Option<&'static str>);

impl ExecOnDrop {
    pub fn new(statement: &'static str) -> Self {
        Self(Some(statement))
    }

    /// Runs it now, once.
    pub async fn run(mut self) {
        if let Some(statement) = self.0.take() {
            exec(&mysql(), &[statement]).await;
        }
    }
}

impl Drop for ExecOnDrop {
    fn drop(&mut self) {
        if let Some(statement) = self.0.take() {
            // Possibly during a panic, inside a runtime: on a thread of its own, and a
            // failure is reported, never a second panic here.
            let restore = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(exec(&mysql(), &[statement]));
            });
            if restore.join().is_err() {
                eprintln!("{statement:?} failed while cleaning up");
            }
        }
    }
}

/// Runs a `scripts/services.sh` command when dropped, unless defused: a fault test that
/// stops a service and then fails an assertion still starts it again for the next test.
pub struct RunOnDrop(Option<&'static str>);

impl RunOnDrop {
    pub fn new(command: &'static str) -> Self {
        Self(Some(command))
    }

    /// Runs it now, once.
    pub fn run(mut self) {
        if let Some(command) = self.0.take() {
            service(command);
        }
    }
}

impl Drop for RunOnDrop {
    fn drop(&mut self) {
        if let Some(command) = self.0.take() {
            // Possibly during a panic: report, never panic again.
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh");
            let status = std::process::Command::new("bash")
                .arg(&script)
                .arg(command)
                .status();
            if !status.as_ref().is_ok_and(|s| s.success()) {
                eprintln!("scripts/services.sh {command} failed while cleaning up: {status:?}");
            }
        }
    }
}

/// Runs a command of `scripts/services.sh` and returns the value of `KEY=value` it printed.
pub fn service_output(command: &str, key: &str) -> String {
    services_sh(&[command])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("scripts/services.sh {command} printed no {key}"))
}

/// Runs a command of `scripts/services.sh` and returns the one line it printed.
pub fn service_output_line(command: &str) -> String {
    services_sh(&[command]).trim().to_owned()
}

/// Runs a command of `scripts/services.sh` with arguments.
pub fn service_with(command: &str, args: &[&str]) {
    let mut all = vec![command];
    all.extend_from_slice(args);
    services_sh(&all);
}

/// One message as a consumer sees it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The exchange it was published to.
    pub exchange: String,
    pub routing_key: String,
    pub body: String,
    pub properties: BasicProperties,
}

impl Queue {
    pub async fn bind(binding: &str) -> Self {
        Self::declare(binding, false, FieldTable::default()).await
    }

    /// A durable exchange and queue, which outlive a broker restart (with persistent
    /// messages) and the consumer's connection. [`Queue::delete`] removes the queue.
    pub async fn durable(binding: &str) -> Self {
        Self::declare(binding, true, FieldTable::default()).await
    }

    /// A durable queue bound to durable topic exchange `exchange` on the broker at `uri`.
    pub async fn durable_on(uri: &str, exchange: &str, binding: &str) -> Self {
        Self::declare_on(uri, exchange, binding, true, FieldTable::default()).await
    }

    /// A queue that holds at most `max_length` messages and refuses (nacks) what does not
    /// fit: RabbitMQ's `x-overflow = reject-publish`.
    pub async fn bounded(binding: &str, max_length: i64) -> Self {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-max-length".into(),
            lapin::types::AMQPValue::LongLongInt(max_length),
        );
        arguments.insert(
            "x-overflow".into(),
            lapin::types::AMQPValue::LongString("reject-publish".into()),
        );
        Self::declare(binding, false, arguments).await
    }

    /// An exchange with no queue bound to it yet; [`Queue::bind_now`] binds one.
    pub async fn unbound_exchange() -> (Self, String) {
        let queue = Self::declare("#", false, FieldTable::default()).await;
        queue
            .channel
            .queue_unbind(
                queue.name.as_str().into(),
                queue.exchange.as_str().into(),
                "#".into(),
                FieldTable::default(),
            )
            .await
            .expect("unbind");
        let exchange = queue.exchange.clone();
        (queue, exchange)
    }

    /// Binds the queue to its exchange with `binding`.
    pub async fn bind_now(&self, binding: &str) {
        self.channel
            .queue_bind(
                self.name.as_str().into(),
                self.exchange.as_str().into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind queue");
    }

    /// Declares topic exchange `exchange` (durable) and binds the queue to it with
    /// `binding` too: one queue, two publishers told apart by exchange.
    pub async fn bind_exchange(&self, exchange: &str, binding: &str) {
        self.channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare exchange");
        self.channel
            .queue_bind(
                self.name.as_str().into(),
                exchange.into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind queue");
    }

    /// The same queue over a new connection (after the broker restarted).
    pub async fn reopen(self) -> Self {
        let (connection, channel) = Self::connect(&self.uri).await;
        Self {
            _connection: connection,
            channel,
            exchange: self.exchange,
            name: self.name,
            uri: self.uri,
        }
    }

    pub async fn delete(self) {
        let _ = self
            .channel
            .queue_delete(self.name.as_str().into(), Default::default())
            .await;
    }

    async fn connect(uri: &str) -> (Connection, Channel) {
        let connection = Connection::connect(uri, ConnectionProperties::default())
            .await
            .expect("amqp connection");
        let channel = connection.create_channel().await.expect("channel");
        (connection, channel)
    }

    async fn declare(binding: &str, durable: bool, arguments: FieldTable) -> Self {
        let uri = services().amqp_uri.clone();
        Self::declare_on(&uri, &unique("x"), binding, durable, arguments).await
    }

    async fn declare_on(
        uri: &str,
        exchange: &str,
        binding: &str,
        durable: bool,
        arguments: FieldTable,
    ) -> Self {
        let (connection, channel) = Self::connect(uri).await;
        let exchange = exchange.to_owned();
        let name = unique("q");
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("declare exchange");
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions {
                    exclusive: !durable,
                    auto_delete: !durable,
                    durable,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .expect("declare queue");
        channel
            .queue_bind(
                name.as_str().into(),
                exchange.as_str().into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind queue");
        Self {
            _connection: connection,
            channel,
            exchange,
            name,
            uri: uri.to_owned(),
        }
    }

    /// Takes every message now in the queue.
    pub async fn drain(&self) -> Vec<Received> {
        self.take(usize::MAX).await
    }

    /// Takes up to `n` of the messages now in the queue.
    pub async fn take(&self, n: usize) -> Vec<Received> {
        let mut out = Vec::new();
        while out.len() < n
            && let Some(m) = self
                .channel
                .basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get")
        {
            let body = String::from_utf8(m.delivery.data).expect("utf-8 body");
            // Every message a live test receives keeps to the published contract.
            crate::contract::check_message(&body);
            out.push(Received {
                exchange: m.delivery.exchange.to_string(),
                routing_key: m.delivery.routing_key.to_string(),
                body,
                properties: m.delivery.properties,
            });
        }
        out
    }

    /// Waits until at least `n` messages were taken (or the deadline passes).
    pub async fn take_at_least(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut all = Vec::new();
        while all.len() < n && Instant::now() < deadline {
            let got = self.drain().await;
            if got.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            all.extend(got);
        }
        all
    }
}

/// A daemon configuration for the test services.
pub struct DaemonConfig {
    pub dir: tempfile::TempDir,
    pub exchange: String,
    /// Extra lines for the `[sink.rabbitmq]` section.
    pub rabbitmq_extra: String,
    /// The `[source.tls]` section's lines: plain text, as the services are on loopback;
    /// empty for the default.
    pub source_tls: String,
    /// Extra lines for the `[checkpoint]` section.
    pub checkpoint_extra: String,
}

impl DaemonConfig {
    pub fn new(exchange: &str) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            exchange: exchange.to_owned(),
            rabbitmq_extra: String::new(),
            source_tls: "mode = \"disabled\"".to_owned(),
            checkpoint_extra: String::new(),
        }
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn write(&self) -> PathBuf {
        let s = services();
        let text = format!(
            r#"
[source]
host = "127.0.0.1"
port = {port}
user = "root"
server_id = {server_id}

[source.tls]
{source_tls}

[sink]
type = "rabbitmq"

[sink.rabbitmq]
uri = "{uri}"
exchange = "{exchange}"
exchange_type = "topic"
{rabbitmq_extra}

[checkpoint]
dir = "{dir}"
interval_ms = 100
{checkpoint_extra}

[http]
# Any free port: many daemons run at once. Tests that scrape pick their own.
listen = "127.0.0.1:0"
"#,
            port = s.mysql_port,
            server_id = unique_server_id(),
            uri = s.amqp_uri,
            exchange = self.exchange,
            dir = self.checkpoint_dir().display(),
            rabbitmq_extra = self.rabbitmq_extra,
            source_tls = self.source_tls,
            checkpoint_extra = self.checkpoint_extra,
        );
        let path = self.dir.path().join("binlog-relay.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    pub fn checkpoint(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.checkpoint_dir().join("position.json"))
            .expect("checkpoint file");
        serde_json::from_str(&text).expect("checkpoint json")
    }
}

/// A TCP port nothing listens on right now, for a daemon's `http.listen`.
///
/// Taken from 21000-24999, below the kernel's ephemeral range (32768 and up here), where
/// neither outgoing connections nor `bind(0)` land: a port from that range could be taken
/// by another test's connection between this pick and the daemon's bind. A counter shared
/// by the test threads hands each port out once per run.
pub fn free_port() -> u16 {
    const FIRST: u32 = 21_000;
    const COUNT: u32 = 4_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id() % COUNT;
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (offset + n) % COUNT) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}-{}", FIRST + COUNT - 1)
}

/// GETs `path` from a daemon's HTTP endpoint: the status code and the body.
pub async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// Waits until a daemon's `/readyz` on `port` answers 200; panics after `timeout`.
pub async fn wait_ready(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some((200, _)) = http_get(port, "/readyz").await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon on port {port} was not ready within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of an unlabelled series (or one written with its labels) in a scrape.
pub fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}

/// A replica server_id no other daemon of this run registers with: the server keeps one
/// replica per id and drops the older stream when a second registers, so two daemons that
/// shared one would each see their stream cut and send again what they had not checkpointed.
pub fn unique_server_id() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    20_000 + std::process::id() % 10_000 + N.fetch_add(1, Ordering::Relaxed) * 10_000
}

/// `rabbitmqctl -q ARGS` against the project node; its standard output.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["-q", "-n", &services().rabbit_node])
        .args(args)
        .output()
        .expect("run rabbitmqctl");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the daemon with `--stop-at now` to completion and asserts it exited 0.
pub async fn run_to_now(config: &Path, env: &[(&str, &str)]) -> Finished {
    let child = spawn_daemon(config, &["--stop-at", "now"], env);
    let done = wait(child, Duration::from_secs(120)).await;
    assert_eq!(done.code, Some(0), "binlog-relay failed:\n{}", done.stderr);
    done
}

/// Runs the daemon from `start` to the server's current position with the stdout sink, and
/// returns what it printed and how it exited.
pub async fn run_to_now_on_stdout(config: &DaemonConfig, start: &str) -> std::process::Output {
    let child = spawn_daemon(
        &config.write(),
        &["--stop-at", "now"],
        &[
            ("BINLOG_RELAY__SOURCE__START", start),
            ("BINLOG_RELAY__SINK__TYPE", "stdout"),
        ],
    );
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("binlog-relay did not exit in time")
        .expect("wait for binlog-relay");
    // The stdout sink prints one message per line: each keeps to the contract.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        crate::contract::check_message(line);
    }
    out
}

/// Sends a signal to a running child.
pub fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("child still running");
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

/// The value of `"key":<integer>` in a message body.
pub fn int_field(body: &str, key: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get(key)?.as_u64()
}

/// Runs `binlog-relay ARGS --config PATH` with extra environment to its end (60 s at most):
/// its exit code and everything it printed.
pub async fn relay_command(
    path: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String) {
    let path = path.to_string_lossy();
    let mut all = args.to_vec();
    all.extend(["--config", path.as_ref()]);
    let out = output_within(spawn_command(&all, env), Duration::from_secs(60)).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
