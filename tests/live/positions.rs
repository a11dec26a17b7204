//! When the binlog a checkpoint points into has been purged, the daemon stops with exit
//! code 3 and says what to do; `positions show` shows it and `positions set` moves on.

use std::time::Duration;

use super::support::*;

async fn cli(args: &[&str], config: &std::path::Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_binlog-relay"))
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .await
        .expect("run binlog-relay")
}

/// Purges the binlog up to `current_file` until `gone` is no longer listed. The server
/// keeps a file that a replica connection is still reading; the finished daemon's dump
/// thread can linger a moment, so leftover dump threads are ended first (no other test
/// streams while the write lock is held).
async fn purge_to(db: &TestDb, current_file: &str, gone: &str) {
    use mysql_async::prelude::Queryable;
    let mut conn = db.pool.get_conn().await.expect("mysql connection");
    for _ in 0..100 {
        let dumps: Vec<u64> = conn
            .query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
            .await
            .expect("processlist");
        for id in dumps {
            let _ = conn.query_drop(format!("KILL {id}")).await;
        }
        conn.query_drop(format!("PURGE BINARY LOGS TO '{current_file}'"))
            .await
            .expect("purge");
        let files: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("logs");
        if !files.iter().any(|(f, _)| f == gone) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{gone} could not be purged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_checkpoint_stops_with_exit_code_3_until_the_position_is_set() {
    // Purging binlog files under other tests would break them.
    let _guard = SERVER_SETTINGS.write().await;
    let db = TestDb::create("purged", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    db.exec(&["INSERT INTO {db}.t VALUES (1)"]).await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    run_to_now(&path, &[("BINLOG_RELAY__SOURCE__START", start.as_str())]).await;
    assert_eq!(
        queue.take_at_least(1, Duration::from_secs(10)).await.len(),
        1
    );
    let checkpoint_file = config.checkpoint()["position"]["file"]
        .as_str()
        .expect("checkpoint file")
        .to_owned();

    // The checkpoint's file goes away while the daemon is stopped.
    db.exec(&["FLUSH BINARY LOGS", "FLUSH BINARY LOGS"]).await;
    let now = db.position().await;
    let (current_file, _) = now.rsplit_once(':').expect("FILE:POS");
    purge_to(&db, current_file, &checkpoint_file).await;
    db.exec(&["INSERT INTO {db}.t VALUES (2)"]).await;

    let child = spawn_daemon(&path, &["--stop-at", "now"], &[]);
    let done = wait(child, Duration::from_secs(60)).await;
    assert_eq!(done.code, Some(3), "{}", done.stderr);
    assert!(
        done.stderr.contains(&checkpoint_file)
            && done.stderr.contains("no longer on the server")
            && done.stderr.contains("binlog-relay positions set"),
        "{}",
        done.stderr
    );

    let shown = cli(&["positions", "show"], &path).await;
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(stdout.contains("NOT on the server"), "{stdout}");
    assert!(
        stdout.contains(&format!("binlog file: {current_file}")),
        "{stdout}"
    );

    // A position that is not there is refused; the current one is taken.
    let bad = cli(
        &["positions", "set", &format!("{checkpoint_file}:4")],
        &path,
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    let set = cli(&["positions", "set", &now], &path).await;
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    run_to_now(&path, &[]).await;
    // The moved checkpoint carried the GTID position at its new place forward.
    let server_gtids: String = {
        use mysql_async::prelude::Queryable;
        let mut conn = db.pool.get_conn().await.expect("connection");
        conn.query_first("SELECT @@gtid_binlog_pos")
            .await
            .expect("gtid_binlog_pos")
            .expect("a value")
    };
    assert_eq!(
        config.checkpoint()["gtid_position"].as_str(),
        Some(server_gtids.as_str())
    );
    let got = queue.take_at_least(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(
        got[0].body.ends_with(r#""data":{"id":2}}"#),
        "{}",
        got[0].body
    );
    db.drop_database().await;
}
