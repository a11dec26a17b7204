//! A Maxwell `config.properties` runs unchanged: the same exchange, routing keys and messages
//! as the TOML `config from-maxwell` prints for it, and as a TOML written by hand.

use std::time::Duration;

use super::support::*;

/// The broker's address as Maxwell's separate rabbitmq_* options.
fn broker() -> (String, u16, String, String) {
    let uri: lapin::uri::AMQPUri = services().amqp_uri.parse().expect("test amqp uri");
    (
        uri.authority.host,
        uri.authority.port,
        uri.authority.userinfo.username,
        uri.authority.userinfo.password,
    )
}

fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Runs `binlog-relay ARGS... --stop-at now` and returns what reached `queue`, as
/// (routing key, body, delivery mode).
async fn publish_with(
    args: &[&str],
    env: &[(&str, &str)],
    queue: &Queue,
    expected: usize,
) -> Vec<(String, String, Option<u8>)> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--stop-at", "now"]);
    let done = wait(spawn_command(&all, env), Duration::from_secs(120)).await;
    assert_eq!(done.code, Some(0), "binlog-relay failed:\n{}", done.stderr);
    let got = queue.take_at_least(expected, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        queue.drain().await.is_empty(),
        "more messages than expected"
    );
    got.into_iter()
        .map(|m| {
            (
                m.routing_key,
                m.body,
                m.properties.delivery_mode().as_ref().copied(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwell_properties_publish_exactly_what_the_equivalent_toml_does() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "mxconf",
        &[
            "CREATE TABLE {db}.person (id INT PRIMARY KEY, name VARCHAR(20), secret VARCHAR(20))",
            "CREATE TABLE {db}.skipped (id INT PRIMARY KEY)",
        ],
    )
    .await;
    let name = db.name.clone();
    let queue = Queue::bind(&format!("{name}.#")).await;
    let start = db.position().await;
    db.exec(&[
        "INSERT INTO {db}.person VALUES (1, 'Ann', 's1'), (2, 'Bob', 's2')",
        "INSERT INTO {db}.skipped VALUES (1)",
        "UPDATE {db}.person SET name = 'Anne' WHERE id = 1",
        "DELETE FROM {db}.person WHERE id = 2",
    ])
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let (amqp_host, amqp_port, amqp_user, amqp_pass) = broker();
    let server_id = unique_server_id();
    // A Maxwell file as an operator has it; the exchange type and two options come from
    // MAXWELL_* variables, which Maxwell reads because of env_config_prefix.
    let properties = format!(
        "# Maxwell\n\
         host=127.0.0.1\n\
         port={mysql_port}\n\
         user=root\n\
         producer=rabbitmq\n\
         rabbitmq_host={amqp_host}\n\
         rabbitmq_port={amqp_port}\n\
         rabbitmq_user={amqp_user}\n\
         rabbitmq_pass={amqp_pass}\n\
         rabbitmq_exchange={exchange}\n\
         rabbitmq_routing_key_template=%db%.%table%\n\
         rabbitmq_message_persistent=true\n\
         filter=exclude: {name}.skipped\n\
         output_binlog_position=true\n\
         output_primary_keys=true\n\
         exclude_columns=secret\n\
         replica_server_id={server_id}\n\
         client_id=mxconf\n\
         init_position={start}:0\n\
         log_level=info\n\
         env_config_prefix=MAXWELL_\n",
        mysql_port = services().mysql_port,
        exchange = queue.exchange,
    );
    let props_path = dir.path().join("config.properties");
    std::fs::write(&props_path, properties).expect("write config.properties");
    let props = props_path.to_string_lossy().into_owned();

    // The checkpoint goes to a directory of this test's, not /var/lib.
    let state = |run: &str| dir.path().join(run).to_string_lossy().into_owned();
    let (state_a, state_b, state_c) = (state("a"), state("b"), state("c"));
    let env = |state: &str| -> Vec<(String, String)> {
        vec![
            ("MAXWELL_RABBITMQ_EXCHANGE_TYPE".into(), "topic".into()),
            ("MAXWELL_OUTPUT_SERVER_ID".into(), "true".into()),
            ("BINLOG_RELAY__CHECKPOINT__DIR".into(), state.into()),
            ("BINLOG_RELAY__HTTP__LISTEN".into(), "127.0.0.1:0".into()),
        ]
    };

    // 1. The Maxwell file itself.
    let env_a = env(&state_a);
    let from_properties = publish_with(
        &["run", "--maxwell-config", &props],
        &refs(&env_a),
        &queue,
        4,
    )
    .await;

    // 2. The TOML that `config from-maxwell` prints for it (with the same environment).
    let printed = tokio::process::Command::new(env!("CARGO_BIN_EXE_binlog-relay"))
        .args(["config", "from-maxwell", &props, "--show-secrets"])
        .envs(env(&state_b))
        .output()
        .await
        .expect("config from-maxwell");
    assert!(printed.status.success(), "{printed:?}");
    let toml = String::from_utf8(printed.stdout).expect("utf-8 toml");
    let warnings = String::from_utf8_lossy(&printed.stderr);
    assert!(warnings.contains("log_level"), "{warnings}");
    assert!(toml.contains("exchange_type = \"topic\""), "{toml}");
    let toml_path = dir.path().join("translated.toml");
    std::fs::write(&toml_path, &toml).expect("write toml");
    let env_b = env(&state_b);
    let from_translation = publish_with(
        &["run", "--config", &toml_path.to_string_lossy()],
        &refs(&env_b),
        &queue,
        4,
    )
    .await;

    // 3. The same settings written by hand in our own keys.
    let mut config = DaemonConfig::new(&queue.exchange);
    config.rabbitmq_extra = format!(
        "persistent = true\n\
         [filter]\nrules = \"exclude: {name}.skipped\"\n\
         [output]\nbinlog_position = true\nprimary_keys = true\nserver_id = true\n\
         exclude_columns = [\"secret\"]\n"
    );
    let toml_c = config.write();
    let by_hand = publish_with(
        &["run", "--config", &toml_c.to_string_lossy()],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__CHECKPOINT__DIR", state_c.as_str()),
        ],
        &queue,
        4,
    )
    .await;

    // What a consumer checks: where the messages went, their keys, and their bodies.
    let keys: Vec<String> = from_properties
        .iter()
        .map(|(k, _, _)| k.replace(&name, "db"))
        .collect();
    assert_eq!(
        keys,
        ["db.person", "db.person", "db.person", "db.person"],
        "skipped table filtered out, one key per row"
    );
    for (_, body, mode) in &from_properties {
        assert_eq!(*mode, Some(2), "persistent: {body}");
        assert!(!body.contains("\"secret\""), "excluded column: {body}");
        assert!(body.contains("\"position\":\""), "{body}");
        assert!(body.contains("\"primary_key\":"), "{body}");
        assert!(body.contains("\"server_id\":"), "MAXWELL_ variable: {body}");
    }
    assert_eq!(from_properties, from_translation);
    assert_eq!(from_properties, by_hand);
    // Each run checkpointed in the directory it was given.
    for state in [&state_a, &state_b, &state_c] {
        assert!(
            std::path::Path::new(state).join("position.json").is_file(),
            "no checkpoint in {state}"
        );
    }
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_maxwell_option_stops_the_start_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.properties");
    let start = |text: &str| {
        std::fs::write(&path, text).expect("write");
        wait(
            spawn_command(&["run", "--maxwell-config", &path.to_string_lossy()], &[]),
            Duration::from_secs(30),
        )
    };
    let done = start(
        "host=127.0.0.1\nproducer=rabbitmq\nrabbitmq_pass=hunter2\njavascript=/etc/filter.js\n",
    )
    .await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains("Maxwell option `javascript`"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("hunter2"), "{}", done.stderr);
    // Encryption translates; a key AES cannot take stops the start, without showing it.
    let done =
        start("host=127.0.0.1\nproducer=rabbitmq\nencrypt=all\nsecret_key=not-an-aes-key-length\n")
            .await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains("output.secret_key") && done.stderr.contains("16, 24 or 32"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("not-an-aes-key-length"),
        "{}",
        done.stderr
    );
}

/// Maxwell's `positions` table in `state_db`, with the columns of its maxwell_schema.sql.
fn positions_table(state_db: &str) -> String {
    format!(
        "CREATE TABLE {state_db}.positions (server_id INT UNSIGNED NOT NULL, \
         binlog_file VARCHAR(255), binlog_position INT UNSIGNED, gtid_set VARCHAR(4096), \
         client_id VARCHAR(255) CHARSET latin1 NOT NULL DEFAULT 'maxwell', \
         heartbeat_at BIGINT NULL DEFAULT NULL, last_heartbeat_read BIGINT NULL DEFAULT NULL, \
         PRIMARY KEY (server_id, client_id))"
    )
}

/// A Maxwell file naming the test services, the exchange and Maxwell's state database.
fn maxwell_file(dir: &std::path::Path, exchange: &str, extra: &str) -> String {
    let (amqp_host, amqp_port, amqp_user, amqp_pass) = broker();
    let path = dir.join("config.properties");
    std::fs::write(
        &path,
        format!(
            "host=127.0.0.1\nport={}\nuser=root\nproducer=rabbitmq\n\
             rabbitmq_host={amqp_host}\nrabbitmq_port={amqp_port}\n\
             rabbitmq_user={amqp_user}\nrabbitmq_pass={amqp_pass}\n\
             rabbitmq_exchange={exchange}\nrabbitmq_exchange_type=topic\n\
             replica_server_id={}\n{extra}",
            services().mysql_port,
            unique_server_id(),
        ),
    )
    .expect("write config.properties");
    path.to_string_lossy().into_owned()
}

/// Runs a Maxwell file to the server's current position with its checkpoint in `state`.
async fn run_to_now_in(props: &str, state: &std::path::Path) -> Finished {
    let state = state.to_string_lossy();
    wait(
        spawn_command(
            &["run", "--maxwell-config", props, "--stop-at", "now"],
            &[
                ("BINLOG_RELAY__CHECKPOINT__DIR", state.as_ref()),
                ("BINLOG_RELAY__HTTP__LISTEN", "127.0.0.1:0"),
            ],
        ),
        Duration::from_secs(60),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_continues_where_maxwell_stopped() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create("mxpos", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    // Maxwell's state database, with its positions table as Maxwell creates it.
    let state_db = format!("{}_state", db.name);
    exec(
        &db.pool,
        &[
            &format!("CREATE DATABASE {state_db}"),
            &positions_table(&state_db),
        ],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    // Maxwell published this row, then stopped with its position after it.
    db.exec(&["INSERT INTO {db}.t VALUES (1)"]).await;
    let stopped = db.position().await;
    let (file, offset) = stopped.rsplit_once(':').expect("FILE:POS");
    exec(
        &db.pool,
        &[&format!(
            "INSERT INTO {state_db}.positions (server_id, binlog_file, binlog_position, client_id) \
             SELECT @@server_id, '{file}', {offset}, 'esr'"
        )],
    )
    .await;
    // Written while neither ran: these must not be lost.
    db.exec(&[
        "INSERT INTO {db}.t VALUES (2)",
        "INSERT INTO {db}.t VALUES (3)",
    ])
    .await;

    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state").to_string_lossy().into_owned();
    let env = [
        ("BINLOG_RELAY__CHECKPOINT__DIR", state.as_str()),
        ("BINLOG_RELAY__HTTP__LISTEN", "127.0.0.1:0"),
    ];
    let props = maxwell_file(
        dir.path(),
        &queue.exchange,
        &format!("client_id=esr\nschema_database={state_db}\n"),
    );
    let got = publish_with(&["run", "--maxwell-config", &props], &env, &queue, 2).await;
    let ids: Vec<u64> = got
        .iter()
        .filter_map(|(_, body, _)| {
            let v: serde_json::Value = serde_json::from_str(body).ok()?;
            v["data"]["id"].as_u64()
        })
        .collect();
    assert_eq!(ids, [2, 3], "rows after Maxwell's position, and only those");

    // A client_id Maxwell never used here is an error, not a silent start from now.
    let props = maxwell_file(
        dir.path(),
        &queue.exchange,
        &format!("client_id=nobody\nschema_database={state_db}\n"),
    );
    let done = run_to_now_in(&props, &dir.path().join("other")).await;
    assert_ne!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("no row for client_id \"nobody\""),
        "{}",
        done.stderr
    );

    // No Maxwell state on the server at all: start from the current position.
    let props = maxwell_file(
        dir.path(),
        &queue.exchange,
        &format!("schema_database={state_db}_absent\n"),
    );
    let done = run_to_now_in(&props, &dir.path().join("fresh")).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("no Maxwell state"), "{}", done.stderr);
    assert!(queue.drain().await.is_empty());

    exec(&db.pool, &[&format!("DROP DATABASE {state_db}")]).await;
    db.drop_database().await;
}

/// The roll-back. Maxwell stopped at a position, binlog-relay took over from it (rows and a
/// schema change), then `positions export-maxwell` writes the row Maxwell's position store
/// would have written at binlog-relay's checkpoint (its `set`: server_id, client_id, file,
/// offset, gtid_set, last_heartbeat_read; heartbeat_at untouched), says Maxwell's stored
/// schema is behind, and a start from that row continues exactly after the checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_maxwell_writes_the_row_maxwell_would_write_at_the_checkpoint() {
    use mysql_async::prelude::Queryable;
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "mxback",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)"],
    )
    .await;
    // Maxwell's state tables, with the columns of its maxwell_schema.sql.
    let state_db = format!("{}_state", db.name);
    exec(
        &db.pool,
        &[
            &format!("CREATE DATABASE {state_db}"),
            &positions_table(&state_db),
            &format!(
                "CREATE TABLE {state_db}.heartbeats (server_id INT UNSIGNED NOT NULL, \
                 client_id VARCHAR(255) CHARSET latin1 NOT NULL DEFAULT 'maxwell', \
                 heartbeat BIGINT NOT NULL, PRIMARY KEY (server_id, client_id))"
            ),
            &format!(
                "CREATE TABLE {state_db}.schemas (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, \
                 binlog_file VARCHAR(255), binlog_position INT UNSIGNED, \
                 last_heartbeat_read BIGINT NULL DEFAULT 0, gtid_set VARCHAR(4096), \
                 base_schema_id INT UNSIGNED NULL DEFAULT NULL, deltas MEDIUMTEXT, \
                 server_id INT UNSIGNED, position_sha CHAR(40) DEFAULT NULL, \
                 charset VARCHAR(255), version SMALLINT UNSIGNED NOT NULL DEFAULT 0, \
                 deleted TINYINT(1) NOT NULL DEFAULT 0)"
            ),
        ],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    // Maxwell stopped here: its position, its schema stored at it, its last heartbeat.
    let stopped = db.position().await;
    let (file, offset) = stopped.rsplit_once(':').expect("FILE:POS");
    exec(
        &db.pool,
        &[
            &format!(
                "INSERT INTO {state_db}.positions (server_id, binlog_file, binlog_position, \
                 client_id, heartbeat_at, last_heartbeat_read) \
                 SELECT @@server_id, '{file}', {offset}, 'esr', NULL, 1700000000000"
            ),
            &format!("INSERT INTO {state_db}.heartbeats SELECT @@server_id, 'esr', 1700000001000"),
            &format!(
                "INSERT INTO {state_db}.schemas (binlog_file, binlog_position, server_id, charset) \
                 SELECT '{file}', {offset}, @@server_id, 'utf8mb4'"
            ),
        ],
    )
    .await;
    // binlog-relay's turn: rows, and a schema change Maxwell's stored schema lacks.
    db.exec(&[
        "INSERT INTO {db}.t VALUES (1, 1), (2, 2)",
        "ALTER TABLE {db}.t ADD COLUMN w INT",
        "UPDATE {db}.t SET w = 3 WHERE id = 1",
    ])
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let props = maxwell_file(
        dir.path(),
        &queue.exchange,
        &format!("client_id=esr\nschema_database={state_db}\n"),
    );
    let state = dir.path().join("state");
    let done = run_to_now_in(&props, &state).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let got = queue.take(3).await;
    let kinds: Vec<String> = got
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
            format!("{} {}", v["type"].as_str().unwrap(), v["data"]["id"])
        })
        .collect();
    assert_eq!(kinds, ["insert 1", "insert 2", "update 1"]);
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("position.json")).unwrap()).unwrap();
    let cp_file = checkpoint["position"]["file"].as_str().unwrap().to_owned();
    let cp_offset = checkpoint["position"]["offset"].as_u64().unwrap();

    // The roll-back.
    let export = |extra: &'static [(&'static str, &'static str)]| {
        let state = state.to_string_lossy().into_owned();
        let props = props.clone();
        async move {
            let mut env = vec![("BINLOG_RELAY__CHECKPOINT__DIR", state.as_str())];
            env.extend_from_slice(extra);
            let out = output_within(
                spawn_command(
                    &["positions", "export-maxwell", "--maxwell-config", &props],
                    &env,
                ),
                Duration::from_secs(60),
            )
            .await;
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (code, stdout, stderr) = export(&[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // Maxwell's schema lacks the ALTER (and whatever other tests changed meanwhile; which
    // changes count is unit-tested with schema_changes_since).
    assert!(stdout.contains("recapture_schema=true"), "{stdout}");
    type PositionRow = (
        u32,
        String,
        u64,
        Option<String>,
        String,
        Option<i64>,
        Option<i64>,
    );
    let read_rows = || async {
        let mut conn = db.pool.get_conn().await.unwrap();
        let rows: Vec<PositionRow> = conn
            .query(format!(
                "SELECT server_id, binlog_file, binlog_position, gtid_set, client_id, \
                 heartbeat_at, last_heartbeat_read FROM {state_db}.positions \
                 ORDER BY server_id"
            ))
            .await
            .unwrap();
        let server_id: u32 = conn
            .query_first("SELECT @@server_id")
            .await
            .unwrap()
            .unwrap();
        (rows, server_id)
    };
    let (rows, server_id) = read_rows().await;
    assert_eq!(
        rows,
        vec![(
            server_id,
            cp_file.clone(),
            cp_offset,
            None,
            "esr".to_owned(),
            None,
            // The last heartbeat Maxwell wrote, which is the last it would have read.
            Some(1_700_000_001_000),
        )]
    );

    // Maxwell, started again, reads that row: a start from it continues after the
    // checkpoint, with nothing repeated and nothing skipped.
    db.exec(&["INSERT INTO {db}.t VALUES (3, 3, 3)"]).await;
    let done = run_to_now_in(&props, &dir.path().join("again")).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let got = queue.take(1).await;
    assert!(
        got[0].body.contains(r#""data":{"id":3,"v":3,"w":3}"#),
        "{}",
        got[0].body
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        queue.drain().await.is_empty(),
        "only the row after the checkpoint"
    );

    // gtid_mode on this side but not on Maxwell's: its row is under the server's id, where
    // a GTID-mode hand-back would not look. Refused, not written beside it.
    let (code, stdout, stderr) = export(&[("BINLOG_RELAY__SOURCE__GTID_MODE", "true")]).await;
    assert_ne!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("gtid_mode"), "{stderr}");
    assert_eq!(read_rows().await.0.len(), 1);

    // A Maxwell with gtid_mode keeps its position under server_id 0, with the GTID position.
    exec(
        &db.pool,
        &[&format!(
            "UPDATE {state_db}.positions SET server_id = 0, binlog_file = '{file}', \
             binlog_position = {offset}, last_heartbeat_read = NULL"
        )],
    )
    .await;
    let (code, stdout, stderr) = export(&[("BINLOG_RELAY__SOURCE__GTID_MODE", "true")]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    // Its schemas are stored under the server's id all the same: the advice stands.
    assert!(stdout.contains("recapture_schema=true"), "{stdout}");
    let (rows, _) = read_rows().await;
    let gtid = checkpoint["gtid_position"]
        .as_str()
        .expect("MariaDB GTID position");
    assert_eq!(
        rows,
        vec![(
            0,
            cp_file,
            cp_offset,
            Some(gtid.to_owned()),
            "esr".to_owned(),
            None,
            // No heartbeat of Maxwell's under server_id 0, and none left in the row.
            Some(0),
        )]
    );

    exec(&db.pool, &[&format!("DROP DATABASE {state_db}")]).await;
    db.drop_database().await;
}

/// Maxwell's probe paths on a running daemon started from a Maxwell file with
/// `http_path_prefix`: `/ping`, `/healthcheck` (Maxwell's rule: 200, or 500 for 15 minutes
/// after a message failed to be sent) and `/prometheus`, so probes and scrapers set up for
/// Maxwell keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwells_probe_paths_answer_under_its_prefix() {
    let _guard = SERVER_SETTINGS.read().await;
    let queue = Queue::bind("#").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state").to_string_lossy().into_owned();
    let port = free_port();
    let props = maxwell_file(
        dir.path(),
        &queue.exchange,
        &format!(
            "metrics_type=http\nhttp_bind_address=127.0.0.1\nhttp_port={port}\n\
             http_path_prefix=/mx\nschema_database={}\n",
            unique("mxprobe")
        ),
    );
    let env = [("BINLOG_RELAY__CHECKPOINT__DIR", state.as_str())];
    let child = spawn_command(&["run", "--maxwell-config", &props], &env);
    wait_ready(port, Duration::from_secs(30)).await;
    assert_eq!(
        http_get(port, "/mx/ping").await,
        Some((200, "pong\n".to_owned()))
    );
    let (status, body) = http_get(port, "/mx/healthcheck").await.expect("answer");
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["MaxwellHealth"]["healthy"], true, "{body}");
    let (status, body) = http_get(port, "/mx/prometheus").await.expect("answer");
    assert_eq!(status, 200);
    assert!(body.contains("binlog_relay_streaming 1"), "{body}");
    // Not at the root: the prefix moved them, as it moves Maxwell's.
    assert_eq!(http_get(port, "/ping").await.map(|(s, _)| s), Some(404));
    signal(&child, "TERM");
    let done = wait(child, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    // Maxwell's rule: unhealthy only while messages failed in the last 15 minutes. A queue
    // that holds one message and refuses the rest makes the broker nack.
    let db = TestDb::create("mxhealth", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    // Bound to this test's rows only: other tests' rows, unrouted, cause no refusal.
    let full = Queue::bounded(&format!("{}.#", db.name), 1).await;
    let start = db.position().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let state = dir.path().join("state2").to_string_lossy().into_owned();
    let env = [
        ("BINLOG_RELAY__CHECKPOINT__DIR", state.as_str()),
        ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        (
            "BINLOG_RELAY__SINK__RABBITMQ__EXCHANGE",
            full.exchange.as_str(),
        ),
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
    ];
    let child = spawn_command(&["run", "--maxwell-config", &props], &env);
    wait_ready(port, Duration::from_secs(30)).await;
    let (status, _) = http_get(port, "/mx/healthcheck").await.expect("answer");
    assert_eq!(status, 200, "healthy before any message failed");
    db.exec(&[
        "INSERT INTO {db}.t VALUES (1)",
        "INSERT INTO {db}.t VALUES (2)",
        "INSERT INTO {db}.t VALUES (3)",
    ])
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let answer = http_get(port, "/mx/healthcheck").await.expect("answer");
        if answer.0 != 200 || tokio::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 500, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["MaxwellHealth"]["healthy"], false, "{body}");
    assert!(
        health["MaxwellHealth"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("15 minutes")),
        "{body}"
    );
    drop(child);
    db.drop_database().await;
}
