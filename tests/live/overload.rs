//! An overloaded or misrouted broker slows the stream instead of stalling it: a queue that
//! refuses what does not fit (`x-overflow = reject-publish`) and a message no queue is bound
//! for (`mandatory`) make the daemon pause and send again, in order, never skip. Each test
//! checks that the refusals really happened, every row arrived, and each row's last copy is
//! its latest change.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::support::*;

/// Takes messages at a steady `per_second` until `done` holds for what was taken (or the
/// timeout passes), then keeps taking until the queue stays empty for a second.
async fn consume_at(
    queue: &Queue,
    per_second: usize,
    timeout: Duration,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let per_tick = (per_second / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let deadline = Instant::now() + timeout;
    let mut all = Vec::new();
    while !done(&all) && Instant::now() < deadline {
        tick.tick().await;
        all.extend(queue.take(per_tick).await);
    }
    let mut quiet_since = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(10);
    while quiet_since.elapsed() < Duration::from_secs(1) && Instant::now() < give_up {
        let got = queue.drain().await;
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            all.extend(got);
            quiet_since = Instant::now();
        }
    }
    all
}

/// `(type, id, n)` of a message.
fn row(m: &Received) -> (String, u64, i64) {
    let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
    (
        v["type"].as_str().expect("type").to_owned(),
        v["data"]["id"].as_u64().expect("id"),
        v["data"]["n"].as_i64().expect("n"),
    )
}

/// A scraped counter's value (0 when the daemon is not answering).
async fn counter(port: u16, series: &str) -> f64 {
    match http_get(port, "/metrics").await {
        Some((200, body)) => metric(&body, series).unwrap_or(0.0),
        _ => 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_larger_than_a_reject_publish_queue_arrives_whole_as_it_drains() {
    let _shared = SERVER_SETTINGS.read().await;
    const ROWS: u64 = 3000;
    let db = TestDb::create(
        "overload",
        &["CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, n BIGINT)"],
    )
    .await;
    // Room for a third of one transaction.
    let queue = Queue::bounded(&format!("{}.#", db.name), 1000).await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let start = db.position().await;
    let daemon = spawn_daemon(
        &path,
        &[],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ],
    );
    // One insert transaction of 3,000 rows, then one that updates every row: each row's
    // last copy must be the update, whatever the broker accepted out of turn.
    db.exec(&[
        &format!("INSERT INTO {{db}}.t SELECT seq, seq FROM {{db}}.seq_1_to_{ROWS}"),
        "UPDATE {db}.t SET n = n + 1000000",
    ])
    .await;
    let started = Instant::now();
    let received = consume_at(&queue, 2000, Duration::from_secs(120), |got| {
        got.iter()
            .filter(|m| m.body.contains(r#""type":"update""#))
            .map(|m| row(m).1)
            .collect::<BTreeSet<_>>()
            .len()
            == ROWS as usize
    })
    .await;
    let took = started.elapsed();
    let nacks = counter(port, "binlog_relay_messages_failed_total{reason=\"nack\"}").await;
    let retries = counter(port, "binlog_relay_publish_retries_total{reason=\"nack\"}").await;
    let resent = counter(port, "binlog_relay_messages_resent_total").await;
    let sink_reconnects = counter(port, "binlog_relay_reconnects_total{side=\"sink\"}").await;
    let mut daemon = daemon;
    assert!(
        daemon.try_wait().expect("status").is_none(),
        "the daemon exited instead of riding out the refusals"
    );
    signal(&daemon, "TERM");
    let done = wait(daemon, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    // The fault landed: the queue refused messages and they were sent again.
    assert!(
        nacks > 0.0 && retries > 0.0 && resent > 0.0,
        "nacks {nacks}, retries {retries}, resent {resent}"
    );
    assert!(
        done.stderr.contains("the broker refused a message"),
        "{}",
        done.stderr
    );
    assert_eq!(sink_reconnects, 0.0, "a refusal is not a lost connection");
    // Every change arrived, nothing else did, and each row's last copy is its update.
    let changes: BTreeSet<(String, u64, i64)> = received.iter().map(row).collect();
    let want: BTreeSet<(String, u64, i64)> = (1..=ROWS)
        .map(|id| ("insert".into(), id, id as i64))
        .chain((1..=ROWS).map(|id| ("update".into(), id, id as i64 + 1_000_000)))
        .collect();
    assert_eq!(changes, want);
    let mut last: BTreeMap<u64, (String, i64)> = BTreeMap::new();
    for m in &received {
        let (kind, id, n) = row(m);
        last.insert(id, (kind, n));
    }
    for (id, (kind, n)) in &last {
        assert_eq!(
            (kind.as_str(), *n),
            ("update", *id as i64 + 1_000_000),
            "row {id}'s last copy is not its latest change"
        );
    }
    eprintln!(
        "reject-publish queue of 1000, consumer at 2000/s: {} messages for {} changes in {took:?}; {nacks} nacks, {retries} retries, {resent} resent",
        received.len(),
        want.len()
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_message_is_sent_again_until_a_queue_is_bound() {
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "unroutable",
        &["CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, n BIGINT)"],
    )
    .await;
    let (queue, exchange) = Queue::unbound_exchange().await;
    let mut config = DaemonConfig::new(&exchange);
    config.rabbitmq_extra = "mandatory = true\nretry_max_delay_ms = 200\n".into();
    let path = config.write();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let start = db.position().await;
    let daemon = spawn_daemon(
        &path,
        &[],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ],
    );
    db.exec(&[
        "INSERT INTO {db}.t VALUES (1, 1), (2, 2), (3, 3)",
        "UPDATE {db}.t SET n = n + 10 WHERE id = 2",
    ])
    .await;
    // The broker returns the messages while nothing is bound: wait for the returns.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut returned = 0.0;
    while returned < 3.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        returned = counter(
            port,
            "binlog_relay_messages_failed_total{reason=\"returned\"}",
        )
        .await;
    }
    assert!(returned >= 3.0, "only {returned} returns seen");
    // A queue appears: everything arrives, in order, once the next pause ends.
    queue.bind_now(&format!("{}.#", db.name)).await;
    // The binding may land between a copy and its resends: compare each row's last
    // copy, and that every change arrived.
    let received = consume_at(&queue, 10_000, Duration::from_secs(30), |got| {
        got.iter().map(row).collect::<BTreeSet<_>>().len() == 4
    })
    .await;
    eprintln!("after the binding: {} messages", received.len());
    let changes: BTreeSet<(String, u64, i64)> = received.iter().map(row).collect();
    assert_eq!(
        changes,
        BTreeSet::from([
            ("insert".into(), 1, 1),
            ("insert".into(), 2, 2),
            ("insert".into(), 3, 3),
            ("update".into(), 2, 12),
        ])
    );
    let mut last: BTreeMap<u64, i64> = BTreeMap::new();
    for m in &received {
        let (_, id, n) = row(m);
        last.insert(id, n);
    }
    assert_eq!(last, BTreeMap::from([(1, 1), (2, 12), (3, 3)]));
    let mut daemon = daemon;
    assert!(daemon.try_wait().expect("status").is_none());
    signal(&daemon, "TERM");
    let done = wait(daemon, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("returned"), "{}", done.stderr);
    // The returns are logged without their rows (lapin's own log of each one would carry
    // the body, and once filled the stderr pipe of a daemon nobody reads).
    assert!(
        !done.stderr.contains("BasicReturnMessage") && !done.stderr.contains("\"data\""),
        "{}",
        done.stderr
    );
    db.drop_database().await;
}
