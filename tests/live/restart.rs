//! Stopping the daemon mid-stream, by a signal or a crash, loses nothing: after a restart
//! every row is delivered at least once and nothing after the checkpoint is skipped.

use std::collections::BTreeMap;
use std::time::Duration;

use super::support::*;

const TRANSACTIONS: usize = 40;
const ROWS_PER_TRANSACTION: usize = 25;

/// Writes transactions `range`, each inserting ROWS_PER_TRANSACTION rows.
async fn write(db: &TestDb, range: std::ops::Range<usize>) {
    for t in range {
        let values: Vec<String> = (0..ROWS_PER_TRANSACTION)
            .map(|r| {
                let id = t * ROWS_PER_TRANSACTION + r + 1;
                format!("({id}, 'row {id}')")
            })
            .collect();
        let insert = format!("INSERT INTO {{db}}.items VALUES {}", values.join(","));
        db.exec(&[&insert]).await;
    }
}

/// How often each id arrived.
fn counts(messages: &[Received]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for m in messages {
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("json");
        let id = v["data"]["id"].as_u64().expect("id");
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

async fn stop_mid_stream_and_restart(signal_name: &str) -> (BTreeMap<u64, usize>, Finished) {
    let db = TestDb::create(
        "restart",
        &["CREATE TABLE {db}.items (id INT PRIMARY KEY, v VARCHAR(20))"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let env = [("BINLOG_RELAY__SOURCE__START", start.as_str())];

    let daemon = spawn_daemon(&path, &[], &env);
    write(&db, 0..TRANSACTIONS / 2).await;
    // Stop it once it has published something, while the rest is still being written.
    let mut messages = queue.take_at_least(1, Duration::from_secs(30)).await;
    assert!(!messages.is_empty(), "the daemon published nothing");
    signal(&daemon, signal_name);
    let first = wait(daemon, Duration::from_secs(60)).await;
    write(&db, TRANSACTIONS / 2..TRANSACTIONS).await;

    // The checkpoint exists and is one the server knows; restart from it to "now".
    let cp = config.checkpoint();
    assert!(cp["position"]["file"].as_str().is_some());
    run_to_now(&path, &env).await;
    messages.extend(
        queue
            .take_at_least(TRANSACTIONS * ROWS_PER_TRANSACTION, Duration::from_secs(30))
            .await,
    );
    messages.extend(queue.drain().await);
    let seen = counts(&messages);
    db.drop_database().await;
    (seen, first)
}

fn assert_every_row_delivered(seen: &BTreeMap<u64, usize>) {
    let total = (TRANSACTIONS * ROWS_PER_TRANSACTION) as u64;
    let missing: Vec<u64> = (1..=total).filter(|id| !seen.contains_key(id)).collect();
    assert!(missing.is_empty(), "rows never delivered: {missing:?}");
    assert_eq!(seen.len() as u64, total, "only the written rows arrive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_then_restart_delivers_every_row_exactly_once() {
    let _guard = SERVER_SETTINGS.read().await;
    let (seen, first) = stop_mid_stream_and_restart("TERM").await;
    assert_eq!(
        first.code,
        Some(0),
        "SIGTERM is a clean stop:\n{}",
        first.stderr
    );
    assert_every_row_delivered(&seen);
    // A clean stop checkpoints exactly what was confirmed, so nothing is sent twice.
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "duplicates after a clean stop: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_stream_then_restart_delivers_every_row_at_least_once() {
    let _guard = SERVER_SETTINGS.read().await;
    let (seen, first) = stop_mid_stream_and_restart("KILL").await;
    assert_eq!(first.code, None, "killed by a signal");
    assert_every_row_delivered(&seen);
}
