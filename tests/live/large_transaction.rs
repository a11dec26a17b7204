//! A transaction far larger than `transactions.memory_limit_mb` goes through the disk and
//! arrives whole: every row, in order, each with the transaction's xid and its xoffset, the
//! last with `commit`, and message ids that keep counting across the chunks it is sent in.

use std::time::Duration;

use super::support::*;

const ROWS: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_larger_than_memory_arrives_whole_and_in_order() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "bigtx",
        &["CREATE TABLE {db}.big (id INT PRIMARY KEY, note VARCHAR(100))"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    // About 130 bytes of JSON a row: 3.9 MB for the transaction, against a 1 MiB limit.
    db.exec(&[&format!(
        "INSERT INTO {{db}}.big SELECT seq, REPEAT('n', 40) FROM {{db}}.seq_1_to_{ROWS}"
    )])
    .await;
    let mut config = DaemonConfig::new(&queue.exchange);
    config.rabbitmq_extra = "message_id = true\n[transactions]\nmemory_limit_mb = 1\n".into();
    let path = config.write();
    let spill_dir = config.dir.path().display().to_string();
    let done = run_to_now(
        &path,
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__TRANSACTIONS__SPILL_DIR", spill_dir.as_str()),
        ],
    )
    .await;
    assert!(
        done.stderr.contains("buffering its rows on disk")
            && done.stderr.contains("streaming it from disk"),
        "the transaction did not go through the disk:\n{}",
        done.stderr
    );

    let got = queue
        .take_at_least(ROWS as usize, Duration::from_secs(60))
        .await;
    assert_eq!(got.len(), ROWS as usize);
    let mut xid = None;
    let mut transaction_id = None;
    for (i, m) in got.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("json");
        assert_eq!(
            v["data"]["id"].as_u64(),
            Some(i as u64 + 1),
            "row {i} out of order"
        );
        let this_xid = v["xid"].as_u64().expect("xid on every row");
        assert_eq!(*xid.get_or_insert(this_xid), this_xid, "row {i}");
        if i + 1 < got.len() {
            assert_eq!(v["xoffset"].as_u64(), Some(i as u64), "row {i}");
            assert!(v.get("commit").is_none(), "row {i}");
        } else {
            assert_eq!(v["commit"], serde_json::json!(true));
            assert!(v.get("xoffset").is_none());
        }
        // server_id:file:offset:index, the same transaction end and a counting index.
        let id = m
            .properties
            .message_id()
            .as_ref()
            .expect("message_id")
            .to_string();
        let (end, index) = id.rsplit_once(':').expect("index");
        assert_eq!(*transaction_id.get_or_insert(end.to_owned()), end);
        assert_eq!(index, i.to_string(), "message id {id}");
    }
    // Nothing is left in the spill directory: the file was anonymous.
    let leftovers: Vec<_> = std::fs::read_dir(config.dir.path())
        .expect("read dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file() && !e.path().ends_with("binlog-relay.toml"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    db.drop_database().await;
}
