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
