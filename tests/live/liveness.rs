//! Never hang: connections that stay open but carry nothing, addresses that never answer,
//! a broker node that goes away, and two daemons on one state directory. Silence is made
//! with a loopback proxy in front of MariaDB or RabbitMQ that stops relaying the
//! connections open at that moment, as a dead NAT entry or a failed-over address does,
//! while new connections get through. Every row written meanwhile must arrive.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::proxy::Proxy;
use super::support::*;

/// How long the documentation promises a silent connection takes to be noticed and
/// recovered from with the default settings.
const RECOVERY_BOUND: Duration = Duration::from_secs(30);

/// A writer inserting a row every 50 ms until stopped; each row's id is its number, and
/// the time it was written is kept.
struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Vec<(u64, Instant)>>,
}

impl Writer {
    fn start(db: &TestDb) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let (pool, name) = (mysql(), db.name.clone());
        let (stop_flag, count) = (stop.clone(), written.clone());
        let task = tokio::spawn(async move {
            use mysql_async::prelude::Queryable;
            let mut conn = pool.get_conn().await.expect("writer connection");
            let mut times = Vec::new();
            let mut id = 0;
            while !stop_flag.load(Ordering::Relaxed) {
                id += 1;
                conn.query_drop(format!("INSERT INTO {name}.t VALUES ({id}, {id})"))
                    .await
                    .expect("insert");
                times.push((id, Instant::now()));
                count.store(id, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            times
        });
        Self {
            stop,
            written,
            task,
        }
    }

    async fn finish(self) -> Vec<(u64, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("writer")
    }
}

/// Ids of the rows in `messages`.
fn ids(messages: &[Received]) -> BTreeSet<u64> {
    messages
        .iter()
        .filter_map(|m| int_field_in_data(&m.body))
        .collect()
}

fn int_field_in_data(body: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["data"]["id"].as_u64()
}

/// Which connection goes silent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Silent {
    Source,
    Broker,
    Both,
}

async fn scrape(port: u16, series: &str) -> f64 {
    match http_get(port, "/metrics").await {
        Some((200, body)) => metric(&body, series).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Streams a steady write load through proxies, makes `which` connection(s) silent, and
/// checks the daemon noticed, recovered within the bound, said so, and lost nothing.
async fn rides_out_silence(which: Silent) {
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "silence",
        &["CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, n BIGINT)"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let db_proxy = Proxy::start(("127.0.0.1".into(), services().mysql_port)).await;
    let mq_proxy = Proxy::start(services().amqp_authority()).await;
    let (_, amqp_port) = services().amqp_authority();
    let uri = services()
        .amqp_uri
        .replace(&format!(":{amqp_port}/"), &format!(":{}/", mq_proxy.port));
    let port = free_port();
    let (listen, db_port) = (format!("127.0.0.1:{port}"), db_proxy.port.to_string());
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let start = db.position().await;
    let daemon = spawn_daemon(
        &path,
        &[],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__SOURCE__PORT", db_port.as_str()),
            ("BINLOG_RELAY__SINK__RABBITMQ__URI", uri.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ],
    );
    wait_ready(port, Duration::from_secs(60)).await;
    let writer = Writer::start(&db);
    let mut received = queue.take_at_least(20, Duration::from_secs(30)).await;

    // Silence: the connections open now carry nothing more, either way.
    let silent_at = Instant::now();
    let last_before = writer.written.load(Ordering::Relaxed);
    if matches!(which, Silent::Source | Silent::Both) {
        db_proxy.silence_existing();
    }
    if matches!(which, Silent::Broker | Silent::Both) {
        mq_proxy.silence_existing();
    }
    // Recovered: a row written after the silence began has arrived.
    let mut saw_unready = false;
    let mut recovered_after = None;
    while silent_at.elapsed() < RECOVERY_BOUND + Duration::from_secs(10) {
        if let Some((503, _)) = http_get(port, "/readyz").await {
            saw_unready = true;
        }
        let got = queue.drain().await;
        if recovered_after.is_none() && ids(&got).iter().any(|id| *id > last_before + 1) {
            recovered_after = Some(silent_at.elapsed());
        }
        received.extend(got);
        if recovered_after.is_some() && saw_unready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered_after = recovered_after.unwrap_or_else(|| {
        panic!("{which:?}: nothing written after the silence arrived within {RECOVERY_BOUND:?}")
    });
    wait_ready(port, Duration::from_secs(30)).await;
    let written = writer.finish().await;
    let want: BTreeSet<u64> = written.iter().map(|(id, _)| *id).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !want.is_subset(&ids(&received)) && Instant::now() < deadline {
        received.extend(queue.drain().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reconnects_source = scrape(port, "binlog_relay_reconnects_total{side=\"source\"}").await;
    let reconnects_sink = scrape(port, "binlog_relay_reconnects_total{side=\"sink\"}").await;
    signal(&daemon, "TERM");
    let done = wait(daemon, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    let got = ids(&received);
    let missing: Vec<&u64> = want.difference(&got).collect();
    assert!(missing.is_empty(), "{which:?}: rows lost: {missing:?}");
    assert!(
        recovered_after <= RECOVERY_BOUND,
        "{which:?}: recovered after {recovered_after:?}"
    );
    assert!(
        saw_unready,
        "{which:?}: /readyz never said 503 while silent"
    );
    assert!(
        done.stderr.contains("connection lost; resuming"),
        "{which:?}: no reconnect logged:\n{}",
        done.stderr
    );
    match which {
        Silent::Source => assert!(reconnects_source >= 1.0, "{which:?}"),
        Silent::Broker => assert!(reconnects_sink >= 1.0, "{which:?}"),
        Silent::Both => assert!(reconnects_source + reconnects_sink >= 1.0, "{which:?}"),
    }
    eprintln!(
        "{which:?} silent: recovered after {:.1} s; {} rows, {} messages; reconnects source {reconnects_source}, sink {reconnects_sink}",
        recovered_after.as_secs_f64(),
        want.len(),
        received.len()
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_source_connection_is_noticed_and_reopened_with_nothing_lost() {
    rides_out_silence(Silent::Source).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_connection_is_noticed_and_reopened_with_nothing_lost() {
    rides_out_silence(Silent::Broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_connections_silent_at_once_are_noticed_and_reopened_with_nothing_lost() {
    rides_out_silence(Silent::Both).await;
}

/// A listener that accepts connections and never says a word.
/// A listener that accepts connections and never says a word; it counts the connections
/// the other side has not closed yet.
async fn mute_listener() -> (u16, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let open = Arc::new(AtomicU64::new(0));
    let counter = open.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let counter = counter.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 256];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (port, open, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_to_an_address_that_never_answers_times_out_and_is_retried() {
    let _shared = SERVER_SETTINGS.read().await;
    let (mute, open, _listener) = mute_listener().await;
    let queue = Queue::bind("mute.#").await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let mute_port = mute.to_string();
    let mute_uri = format!("amqp://guest:guest@127.0.0.1:{mute}/%2f");
    for (side, env, said) in [
        (
            "database",
            vec![
                ("BINLOG_RELAY__SOURCE__PORT", mute_port.as_str()),
                ("BINLOG_RELAY__SOURCE__CONNECT_TIMEOUT_MS", "1000"),
            ],
            "no answer from MySQL/MariaDB at 127.0.0.1",
        ),
        (
            "broker",
            vec![
                ("BINLOG_RELAY__SINK__RABBITMQ__URI", mute_uri.as_str()),
                ("BINLOG_RELAY__SINK__RABBITMQ__CONNECT_TIMEOUT_MS", "1000"),
            ],
            "no answer from RabbitMQ at 127.0.0.1",
        ),
    ] {
        let mut env = env;
        env.push(("BINLOG_RELAY__RECONNECT__MAX_DELAY_MS", "1000"));
        let daemon = spawn_daemon(&path, &[], &env);
        tokio::time::sleep(Duration::from_secs(6)).await;
        let mut daemon = daemon;
        assert!(
            daemon.try_wait().expect("status").is_none(),
            "{side}: the daemon gave up"
        );
        // Abandoned attempts leave nothing behind: at most the attempt under way is open.
        let still_open = open.load(Ordering::SeqCst);
        assert!(
            still_open <= 1,
            "{side}: {still_open} abandoned connections still open"
        );
        signal(&daemon, "TERM");
        let done = wait(daemon, Duration::from_secs(30)).await;
        assert_eq!(done.code, Some(0), "{side}: {}", done.stderr);
        // Each attempt is one `connection lost` line that names the timed-out address
        // (the broker side also logs the node it gave up on: not counted).
        let attempts = done
            .stderr
            .lines()
            .filter(|l| l.contains("connection lost; resuming") && l.contains(said))
            .count();
        assert!(
            attempts >= 2,
            "{side}: {attempts} timed-out attempts in 6 s:\n{}",
            done.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_state_directory_stops_at_once() {
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "twice",
        &["CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, n BIGINT)"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let start = db.position().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let first = spawn_daemon(
        &path,
        &[],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ],
    );
    wait_ready(port, Duration::from_secs(60)).await;
    let first_pid = first.id().expect("pid");

    let second = wait(
        spawn_daemon(
            &path,
            &[],
            &[("BINLOG_RELAY__SOURCE__START", start.as_str())],
        ),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(second.code, Some(2), "{}", second.stderr);
    let dir = config.checkpoint_dir().display().to_string();
    assert!(
        second.stderr.contains(&dir) && second.stderr.contains(&format!("pid {first_pid}")),
        "{}",
        second.stderr
    );
    // So do the commands that change the state.
    let set = wait(
        spawn_command(
            &[
                "positions",
                "set",
                "--config",
                &path.to_string_lossy(),
                &start,
            ],
            &[],
        ),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(set.code, Some(2), "{}", set.stderr);
    assert!(
        set.stderr.contains("in use by another binlog-relay"),
        "{}",
        set.stderr
    );

    // The first one carries on.
    db.exec(&["INSERT INTO {db}.t VALUES (1, 1)"]).await;
    let got = queue.take_at_least(1, Duration::from_secs(30)).await;
    assert_eq!(ids(&got), BTreeSet::from([1]));
    let mut first = first;
    assert!(first.try_wait().expect("status").is_none());
    signal(&first, "TERM");
    let done = wait(first, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_broker_nodes_publishing_moves_to_the_other_when_one_stops() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let second_uri = service_output("rabbit2-up", "BINLOG_RELAY_TEST_AMQP2_URI");
    let db = TestDb::create(
        "twonodes",
        &["CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, n BIGINT)"],
    )
    .await;
    let exchange = unique("x2");
    let binding = format!("{}.#", db.name);
    let first_queue = Queue::durable_on(&services().amqp_uri, &exchange, &binding).await;
    let second_queue = Queue::durable_on(&second_uri, &exchange, &binding).await;
    let (_, first_port) = services().amqp_authority();
    let second_port: u16 = second_uri
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("second node port");
    let mut config = DaemonConfig::new(&exchange);
    config.rabbitmq_extra = format!(
        "exchange_durable = true\npersistent = true\naddresses = [\"127.0.0.1:{first_port}\", \"127.0.0.1:{second_port}\"]\n"
    );
    let path = config.write();
    let start = db.position().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = spawn_daemon(
        &path,
        &[],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
            ("BINLOG_RELAY__RECONNECT__INITIAL_DELAY_MS", "100"),
        ],
    );
    wait_ready(port, Duration::from_secs(60)).await;
    let node = |p: u16| format!("binlog_relay_broker_connected{{address=\"127.0.0.1:{p}\"}}");
    assert_eq!(scrape(port, &node(first_port)).await, 1.0);
    let writer = Writer::start(&db);
    let mut received = first_queue.take_at_least(10, Duration::from_secs(30)).await;

    // The node in use stops: publishing moves to the other.
    service("rabbit-stop");
    let restart = RunOnDrop::new("rabbit-start");
    let moved = Instant::now();
    while scrape(port, &node(second_port)).await != 1.0 {
        assert!(
            moved.elapsed() < RECOVERY_BOUND,
            "publishing did not move to the second node"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let moved_after = moved.elapsed();
    received.extend(
        second_queue
            .take_at_least(10, Duration::from_secs(30))
            .await,
    );
    let written = writer.finish().await;
    let want: BTreeSet<u64> = written.iter().map(|(id, _)| *id).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !want.is_subset(&ids(&received)) && Instant::now() < deadline {
        received.extend(second_queue.drain().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&daemon, "TERM");
    let done = wait(daemon, Duration::from_secs(30)).await;
    // The first node's queue keeps what it confirmed before it stopped.
    restart.run();
    let first_queue = first_queue.reopen().await;
    received.extend(first_queue.drain().await);
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let got = ids(&received);
    let missing: Vec<&u64> = want.difference(&got).collect();
    assert!(missing.is_empty(), "rows lost: {missing:?}");
    assert!(
        done.stderr.contains(&format!("127.0.0.1:{second_port}")),
        "the move was not logged:\n{}",
        done.stderr
    );
    eprintln!(
        "two broker nodes: publishing moved after {:.1} s; {} rows, {} messages",
        moved_after.as_secs_f64(),
        want.len(),
        received.len()
    );
    first_queue.delete().await;
    second_queue.delete().await;
    db.drop_database().await;
}
