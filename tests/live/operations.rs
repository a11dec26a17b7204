//! What an operator sees: `/metrics` counts what was written, lag rises with old events and
//! falls back once the daemon is caught up, and `/readyz` follows the broker.

use std::time::{Duration, Instant};

use super::support::*;

/// Polls `path` until `done` accepts the answer, or the timeout passes.
async fn poll(
    port: u16,
    path: &str,
    timeout: Duration,
    mut done: impl FnMut(u16, &str) -> bool,
) -> Option<(u16, String)> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some((status, body)) = http_get(port, path).await
            && done(status, &body)
        {
            return Some((status, body));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_rows_written_and_lag_returns_to_zero() {
    // Alone on the server: the counters must match this test's rows exactly.
    let _exclusive = SERVER_SETTINGS.write().await;
    let db = TestDb::create(
        "ops",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let start = db.position().await;
    let child = spawn_daemon(
        &path,
        &[],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ],
    );
    assert!(
        poll(port, "/readyz", Duration::from_secs(30), |s, _| s == 200)
            .await
            .is_some(),
        "never ready"
    );

    // 40 transactions of 25 inserts whose events claim to be 10 minutes old, then updates
    // and deletes, while /metrics and /readyz are watched.
    let writer = {
        let pool = db.pool.clone();
        let name = db.name.clone();
        tokio::spawn(async move {
            use mysql_async::prelude::Queryable;
            let mut conn = pool.get_conn().await.expect("connection");
            conn.query_drop("SET TIMESTAMP = UNIX_TIMESTAMP() - 600")
                .await
                .expect("set timestamp");
            for t in 0..40 {
                let values: Vec<String> =
                    (0..25).map(|r| format!("({}, 'v')", t * 25 + r)).collect();
                conn.query_drop(format!("INSERT INTO {name}.t VALUES {}", values.join(",")))
                    .await
                    .expect("insert");
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            conn.query_drop(format!("UPDATE {name}.t SET v = 'w' WHERE id < 100"))
                .await
                .expect("update");
            conn.query_drop(format!("DELETE FROM {name}.t WHERE id >= 990"))
                .await
                .expect("delete");
        })
    };
    let mut max_lag = 0.0f64;
    let mut unready_seen = false;
    while !writer.is_finished() {
        if let Some((_, scrape)) = http_get(port, "/metrics").await {
            max_lag = max_lag.max(metric(&scrape, "binlog_relay_lag_seconds").unwrap_or(0.0));
        }
        if let Some((status, _)) = http_get(port, "/readyz").await {
            unready_seen |= status == 503;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.await.expect("writer");

    let want = 1000.0 + 100.0 + 10.0;
    let scrape = poll(port, "/metrics", Duration::from_secs(30), |_, body| {
        metric(body, "binlog_relay_messages_confirmed_total") == Some(want)
    })
    .await
    .map(|(_, body)| body)
    .unwrap_or_default();
    let value = |series: &str| metric(&scrape, series);
    assert_eq!(
        value("binlog_relay_messages_confirmed_total"),
        Some(want),
        "{scrape}"
    );
    assert_eq!(
        value("binlog_relay_rows_read_total{type=\"insert\"}"),
        Some(1000.0)
    );
    assert_eq!(
        value("binlog_relay_rows_read_total{type=\"update\"}"),
        Some(100.0)
    );
    assert_eq!(
        value("binlog_relay_rows_read_total{type=\"delete\"}"),
        Some(10.0)
    );
    assert_eq!(
        value("binlog_relay_messages_published_total{type=\"insert\"}"),
        Some(1000.0)
    );
    assert_eq!(value("binlog_relay_in_flight_messages"), Some(0.0));
    assert!(value("binlog_relay_transactions_total").unwrap_or(0.0) >= 42.0);
    assert!(value("binlog_relay_binlog_bytes_total").unwrap_or(0.0) > 1000.0 * 10.0);
    assert_eq!(value("binlog_relay_confirm_seconds_count"), Some(want));
    assert_eq!(value("binlog_relay_streaming"), Some(1.0));
    assert!(value("process_resident_memory_bytes").unwrap_or(0.0) > 0.0);
    // Events 10 minutes old were read as 10 minutes behind, and made the daemon unready.
    assert!(max_lag >= 500.0, "highest lag seen: {max_lag}");
    assert!(unready_seen, "/readyz never reported the lag");

    // Caught up: the server's heartbeats bring the lag back to zero, and the checkpoint
    // is written within its interval.
    let caught_up = poll(port, "/metrics", Duration::from_secs(15), |_, body| {
        metric(body, "binlog_relay_lag_seconds").is_some_and(|lag| lag < 2.0)
    })
    .await;
    assert!(caught_up.is_some(), "lag did not fall back");
    let (_, scrape) = http_get(port, "/metrics").await.expect("scrape");
    let position = config.checkpoint();
    assert_eq!(
        metric(&scrape, "binlog_relay_checkpoint_offset"),
        position["position"]["offset"].as_f64()
    );
    assert!(metric(&scrape, "binlog_relay_checkpoint_age_seconds").unwrap_or(99.0) < 5.0);
    assert_eq!(
        poll(port, "/readyz", Duration::from_secs(5), |s, _| s == 200)
            .await
            .map(|(s, _)| s),
        Some(200)
    );

    signal(&child, "TERM");
    let done = wait(child, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_broker_and_healthz_stays_up() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let queue = Queue::durable("ops_ready.#").await;
    let mut config = DaemonConfig::new(&queue.exchange);
    config.rabbitmq_extra =
        "exchange_durable = true\n[reconnect]\ninitial_delay_ms = 100\nmax_delay_ms = 1000\n"
            .into();
    let path = config.write();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = spawn_daemon(
        &path,
        &[],
        &[("BINLOG_RELAY__HTTP__LISTEN", listen.as_str())],
    );

    let ready = poll(port, "/readyz", Duration::from_secs(30), |s, _| s == 200).await;
    assert!(ready.is_some(), "never ready");
    service("rabbit-stop");
    let unready = poll(port, "/readyz", Duration::from_secs(20), |s, _| s == 503).await;
    let health_while_down = http_get(port, "/healthz").await;
    service("rabbit-start");
    let ready_again = poll(port, "/readyz", Duration::from_secs(30), |s, _| s == 200).await;

    let (_, body) = unready.expect("/readyz stayed ready with the broker stopped");
    assert!(body.contains("FAIL sink connected"), "{body}");
    assert_eq!(health_while_down.map(|(s, _)| s), Some(200));
    assert!(
        ready_again.is_some(),
        "not ready again after the broker returned"
    );
    let (_, scrape) = http_get(port, "/metrics").await.expect("scrape");
    assert!(
        metric(&scrape, "binlog_relay_reconnects_total{side=\"sink\"}").unwrap_or(0.0) >= 1.0,
        "{scrape}"
    );
    signal(&child, "TERM");
    let done = wait(child, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let queue = queue.reopen().await;
    queue.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let _guard = SERVER_SETTINGS.read().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).expect("notify socket");
    let config = DaemonConfig::new(&unique("x"));
    let path = config.write();
    let socket_env = socket_path.display().to_string();
    let child = spawn_daemon(
        &path,
        &[],
        &[
            ("NOTIFY_SOCKET", socket_env.as_str()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut heard = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 4096];
    while Instant::now() < deadline
        && !(heard.iter().any(|m: &String| m.contains("READY=1"))
            && heard.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2)
    {
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await
        {
            heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    signal(&child, "TERM");
    // STOPPING=1 as the stop begins.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !heard.iter().any(|m| m.contains("STOPPING=1")) {
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await
        {
            heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let done = wait(child, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(heard.iter().any(|m| m.contains("STOPPING=1")), "{heard:?}");
    assert!(
        heard.iter().any(|m| m.contains("STATUS=streaming")),
        "{heard:?}"
    );
    assert!(heard.iter().any(|m| m.contains("READY=1")), "{heard:?}");
    assert!(
        heard.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2,
        "{heard:?}"
    );
}

/// The metric names a PromQL expression uses (`binlog_relay_*` and `process_*`), with a
/// histogram's `_bucket`/`_sum`/`_count` series named by their family.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (expr[i..].starts_with("binlog_relay_") || expr[i..].starts_with("process_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if !starts {
            i += 1;
            continue;
        }
        let end = expr[i..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(expr.len(), |n| i + n);
        names.push(expr[i..end].to_owned());
        i = end;
    }
    names
}

/// The dashboard's queries and the alert rules name only metrics a running daemon exports,
/// so neither can drift from the code unnoticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_and_alerts_name_only_exported_metrics() {
    let _guard = SERVER_SETTINGS.read().await;
    let queue = Queue::bind("#").await;
    let config = DaemonConfig::new(&queue.exchange);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = spawn_daemon(
        &config.write(),
        &[],
        &[("BINLOG_RELAY__HTTP__LISTEN", listen.as_str())],
    );
    let (_, scrape) = poll(port, "/metrics", Duration::from_secs(30), |s, body| {
        s == 200 && body.contains("binlog_relay_streaming 1")
    })
    .await
    .expect("a streaming daemon's /metrics");
    drop(child);
    // Family names and their types, from the `# TYPE` lines.
    let families: std::collections::BTreeMap<&str, &str> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let exported = |name: &str| {
        families.contains_key(name)
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|family| families.get(family) == Some(&"histogram"))
            })
    };

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("monitoring");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/binlog-relay.json")).expect("dashboard"),
    )
    .expect("dashboard JSON");
    let mut exprs: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("expr").to_owned());
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        if let Some(q) = variable["definition"].as_str() {
            exprs.push(q.to_owned());
        }
    }
    let rules =
        std::fs::read_to_string(root.join("prometheus/binlog-relay.rules.yml")).expect("rules");
    let alert_exprs: Vec<String> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .map(|e| e.trim().to_owned())
        .collect();
    assert!(alert_exprs.len() >= 10, "{alert_exprs:?}");
    exprs.extend(alert_exprs);

    let named: std::collections::BTreeSet<String> =
        exprs.iter().flat_map(|e| metric_names(e)).collect();
    let unknown: Vec<&String> = named.iter().filter(|n| !exported(n)).collect();
    assert!(
        unknown.is_empty(),
        "named but not exported: {unknown:?}\nexported: {:?}",
        families.keys()
    );
    // Enough of the daemon's series are watched for the check to mean something.
    assert!(named.len() >= 30, "{named:?}");

    // The labels they group and select by are labels the daemon's series carry (job and
    // instance come from Prometheus, le from histograms).
    let exported_labels: std::collections::BTreeSet<&str> = scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('{').and_then(|(_, rest)| rest.split_once('}')))
        .flat_map(|(labels, _)| labels.split(','))
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for expr in &exprs {
        // `by (a, b)` groupings.
        for part in expr.split("by (").skip(1) {
            let inside = part.split(')').next().unwrap_or("");
            used.extend(inside.split(',').map(|l| l.trim().to_owned()));
        }
        // `{a="x", b=~"y"}` matchers.
        for part in expr.split('{').skip(1) {
            let inside = part.split('}').next().unwrap_or("");
            for matcher in inside.split(',') {
                let name: String = matcher
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                used.insert(name);
            }
        }
    }
    let unknown: Vec<&String> = used
        .iter()
        .filter(|l| !l.is_empty() && !["job", "instance", "le"].contains(&l.as_str()))
        .filter(|l| !exported_labels.contains(l.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "labels used but on no exported series: {unknown:?}\nexported: {exported_labels:?}"
    );
    assert!(used.contains("side") && used.contains("type"), "{used:?}");
}

/// `binlog-relay status` against a running daemon: one screen of plain text when its
/// output is not a terminal, and, under a real terminal (tmux), a screen redrawn in place
/// with `--watch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_one_screen_as_text_and_redraws_it_in_a_terminal() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create("status", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let config = DaemonConfig::new(&queue.exchange);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let start = db.position().await;
    let child = spawn_daemon(
        &config.write(),
        &[],
        &[
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            (
                "BINLOG_RELAY__FILTER__RULES",
                &format!("exclude: *.*, include: {}.*", db.name),
            ),
        ],
    );
    assert!(
        poll(port, "/readyz", Duration::from_secs(30), |s, _| s == 200)
            .await
            .is_some(),
        "never ready"
    );
    db.exec(&["INSERT INTO {db}.t VALUES (1), (2), (3)"]).await;
    assert_eq!(
        queue.take_at_least(3, Duration::from_secs(10)).await.len(),
        3
    );
    // The checkpoint is saved within checkpoint.interval_ms of the confirms.
    let (_, status) = poll(port, "/status", Duration::from_secs(10), |s, body| {
        s == 200 && body.contains("\"position\":\"")
    })
    .await
    .expect("a saved position in /status");
    let doc: serde_json::Value = serde_json::from_str(&status).expect("JSON");
    assert_eq!(doc["published"]["insert"], 3, "{status}");

    // Text mode: stdout is a pipe here.
    let out = output_within(
        spawn_command(&["status", "--address", &listen, "--interval", "1"], &[]),
        Duration::from_secs(20),
    )
    .await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The checkpoint moves with other tests' transactions too, into the next binlog file
    // if the server rotates meanwhile: the line shows a position at or after this one's file.
    let position = doc["position"].as_str().expect("position");
    let file = position.rsplit_once(':').expect("FILE:OFFSET").0.to_owned();
    let shows_position = |screen: &str| {
        screen.lines().any(|line| {
            let Some((shown, offset)) = line
                .trim_start()
                .strip_prefix("position     ")
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|shown| shown.rsplit_once(':'))
            else {
                return false;
            };
            // Binlog files share a base name and a zero-padded number, so they sort.
            shown.rsplit_once('.').map(|s| s.0) == file.rsplit_once('.').map(|s| s.0)
                && shown.len() == file.len()
                && shown >= file.as_str()
                && offset.parse::<u64>().is_ok()
        })
    };
    assert!(shows_position(&text), "no position line in:\n{text}");
    for line in [
        "leader, streaming",
        "rates        bootstrap-insert 0.0/s  ddl 0.0/s  delete 0.0/s  insert 0.0/s",
        "connections  source up, sink up, broker not blocking",
        "reconnects   sink 0, source 0",
        "last error   none",
        "bootstrap    none running",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    assert!(
        !text.contains('\x1b'),
        "escape codes off a terminal:\n{text}"
    );

    // Under a real terminal: --watch redraws one screen in place.
    let session = unique("status");
    let bin = env!("CARGO_BIN_EXE_binlog-relay");
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(args)
            .output()
            .expect("tmux (scripts/services.sh installs it)")
    };
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "120",
        "-y",
        "30",
        &format!("{bin} status --watch --interval 1 --address {listen}"),
    ]);
    assert!(started.status.success(), "{started:?}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let screen = tmux(&["capture-pane", "-p", "-t", &session]);
    let _ = tmux(&["kill-session", "-t", &session]);
    let screen = String::from_utf8_lossy(&screen.stdout).into_owned();
    assert_eq!(
        screen
            .matches(&format!("binlog-relay {} at", env!("CARGO_PKG_VERSION")))
            .count(),
        1,
        "one screen, redrawn in place:\n{screen}"
    );
    assert!(screen.contains("leader, streaming"), "{screen}");
    assert!(shows_position(&screen), "no position line in:\n{screen}");
    drop(child);
    db.drop_database().await;
}
