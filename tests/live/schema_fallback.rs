//! Without `binlog_row_metadata=FULL` the binlog carries no column names; they come from
//! information_schema instead.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_are_named_from_information_schema_without_full_metadata() {
    // Changes a server-wide setting: no other test may write meanwhile.
    let _guard = SERVER_SETTINGS.write().await;
    let db = TestDb::create(
        "nometa",
        &["CREATE TABLE {db}.t (id INT UNSIGNED PRIMARY KEY, \
           label VARCHAR(10) CHARACTER SET latin1, raw VARBINARY(4))"],
    )
    .await;
    db.exec(&["SET GLOBAL binlog_row_metadata = 'NO_LOG'"])
        .await;
    let restore = ExecOnDrop::new(FULL_METADATA);
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    // A new connection, so the session sees the changed setting.
    db.exec(&["INSERT INTO {db}.t VALUES (4294967295, 'caf\u{e9}', x'FF00')"])
        .await;
    restore.run().await;

    let config = DaemonConfig::new(&queue.exchange);
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;
    let got = queue.take_at_least(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .body
            .ends_with(r#""commit":true,"data":{"id":4294967295,"label":"café","raw":"/wA="}}"#),
        "{}",
        got[0].body
    );
    db.drop_database().await;
}
