//! Bad configuration is refused at start-up with a message naming the key, and a non-zero
//! exit, before anything connects.

use std::time::Duration;

use crate::process::*;

async fn run_with(config: &str, env: &[(&str, &str)]) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, config).unwrap();
    wait(spawn_daemon(&path, &[], env), Duration::from_secs(30)).await
}

#[tokio::test]
async fn a_missing_host_is_named() {
    let done = run_with("[source]\nport = 3306\n", &[]).await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("host"), "{}", done.stderr);
}

#[tokio::test]
async fn a_malformed_start_is_named() {
    let done = run_with(
        "[source]\nhost = \"127.0.0.1\"\n",
        &[("BINLOG_RELAY__SOURCE__START", "mariadb-bin.000001")],
    )
    .await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("source.start"), "{}", done.stderr);
    assert!(done.stderr.contains("FILE:POS"), "{}", done.stderr);
}

#[tokio::test]
async fn an_unknown_key_is_named() {
    let done = run_with(
        "[source]\nhost = \"127.0.0.1\"\n[sink.rabbitmq]\nexchnage = \"maxwell\"\n",
        &[],
    )
    .await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("exchnage"), "{}", done.stderr);
}

#[tokio::test]
async fn a_missing_config_file_is_reported() {
    let done = wait(
        spawn_daemon(
            std::path::Path::new("/nonexistent/binlog-relay.toml"),
            &[],
            &[],
        ),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains("/nonexistent/binlog-relay.toml"),
        "{}",
        done.stderr
    );
}
