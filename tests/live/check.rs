//! `binlog-relay check` against real servers: a good setup, a server without a binlog, a
//! statement-format binlog, and an account without replication grants. Each failure names
//! what to change.

use std::time::Duration;

use super::support::*;

async fn check(config: &DaemonConfig, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let path = config.write();
    let child = spawn_command(&["check", "--config", &path.to_string_lossy()], env);
    let out = output_within(child, Duration::from_secs(60)).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_setup_passes_every_check() {
    let _guard = SERVER_SETTINGS.read().await;
    let config = DaemonConfig::new(&unique("x"));
    let (code, out) = check(&config, &[]).await;
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "ok   log_bin: ON",
        "ok   binlog_format: ROW",
        "ok   grants:",
        "ok   broker: connected",
        "ok   checkpoint.dir:",
        "all checks passed",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_binlog_fails_with_the_fix() {
    let port = nobinlog_up().to_string();
    let config = DaemonConfig::new(&unique("x"));
    let (code, out) = check(&config, &[("BINLOG_RELAY__SOURCE__PORT", &port)]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL log_bin: OFF") && out.contains("start the server with log_bin"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_format_binlog_fails_with_the_fix() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let pool = mysql();
    exec(&pool, &["SET GLOBAL binlog_format = 'STATEMENT'"]).await;
    let restore = ExecOnDrop::new("SET GLOBAL binlog_format = 'ROW'");
    let config = DaemonConfig::new(&unique("x"));
    let (code, out) = check(&config, &[]).await;
    restore.run().await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL binlog_format: STATEMENT")
            && out.contains("SET GLOBAL binlog_format='ROW'"),
        "{out}"
    );
    let _ = pool.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_replication_grants_fails_with_the_grant_to_run() {
    let _guard = SERVER_SETTINGS.read().await;
    let user = unique("nogrant");
    // Long enough that no random path in the report (the checkpoint's temporary directory)
    // can contain it by chance.
    let password = "never-printed-2718";
    let pool = mysql();
    exec(
        &pool,
        &[
            &format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'"),
            &format!("GRANT SELECT ON *.* TO '{user}'@'127.0.0.1'"),
        ],
    )
    .await;
    let config = DaemonConfig::new(&unique("x"));
    let (code, out) = check(
        &config,
        &[
            ("BINLOG_RELAY__SOURCE__USER", &user),
            ("BINLOG_RELAY__SOURCE__PASSWORD", password),
        ],
    )
    .await;
    exec(&pool, &[&format!("DROP USER '{user}'@'127.0.0.1'")]).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL grants: missing on *.*: REPLICATION SLAVE, REPLICATION CLIENT")
            && out.contains("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.*"),
        "{out}"
    );
    assert!(!out.contains(password), "the password was printed:\n{out}");
    // Maxwell's state database: a warning with the grant, as the roll-back needs it.
    assert!(
        out.contains("WARN maxwell grants: missing on `maxwell`.*: INSERT, UPDATE, CREATE")
            && out.contains("GRANT SELECT, INSERT, UPDATE, CREATE ON `maxwell`.*"),
        "{out}"
    );
    let _ = pool.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_exchange_with_other_settings_fails_with_the_fix() {
    let _guard = SERVER_SETTINGS.read().await;
    // An existing topic exchange, routed to by a config that declares fanout exchanges.
    let existing = Queue::bind("#").await;
    let mut config = DaemonConfig::new(&unique("x"));
    config.rabbitmq_extra = format!(
        "[[sink.rabbitmq.routes]]\ntables = \"tis.*\"\nexchange = \"{}\"\n",
        existing.exchange
    );
    let (code, out) = check(
        &config,
        &[("BINLOG_RELAY__SINK__RABBITMQ__EXCHANGE_TYPE", "fanout")],
    )
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "FAIL exchange: `{}` exists with other settings",
            existing.exchange
        )),
        "{out}"
    );
    assert!(
        out.contains("does not exist yet; it is declared at start-up"),
        "{out}"
    );
}
