//! The whole path: rows changed in MariaDB arrive on a RabbitMQ queue as Maxwell's exact
//! messages, in commit order, with Maxwell's routing keys and properties.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lapin::BasicProperties;

use super::support::*;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_from_two_tables_arrive_as_maxwell_messages_in_commit_order() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "e2e",
        &[
            "CREATE TABLE {db}.Customer (id INT PRIMARY KEY, name VARCHAR(50), \
             balance DECIMAL(10,2), joined DATETIME(3), note TEXT, photo BLOB) ENGINE=InnoDB",
            "CREATE TABLE {db}.orders (id BIGINT UNSIGNED PRIMARY KEY, customer_id INT, \
             total DOUBLE, placed TIMESTAMP NULL, code CHAR(3) CHARACTER SET latin1, \
             qty SMALLINT) ENGINE=InnoDB",
        ],
    )
    .await;
    let name = db.name.clone();
    let queue = Queue::bind(&format!("{name}.#")).await;
    let start = db.position().await;
    let t0 = now_secs();
    db.exec(&[
        "SET time_zone = '+00:00'",
        "BEGIN",
        "INSERT INTO {db}.Customer VALUES \
         (1, 'Zoë \"Z\" Ång', 12.50, '2024-01-02 03:04:05.678', 'line1\\nline2', x'00010203'), \
         (2, NULL, -0.05, NULL, '', NULL)",
        "INSERT INTO {db}.orders VALUES \
         (18446744073709551615, 1, 5, '2021-03-04 05:06:07', 'é€', -32768)",
        "COMMIT",
        "BEGIN",
        "UPDATE {db}.Customer SET name = 'Zoe', balance = 13.00 WHERE id = 1",
        "UPDATE {db}.orders SET total = 1.0E7 WHERE customer_id = 1",
        "COMMIT",
        // The stream must follow the server into the next binlog file.
        "FLUSH BINARY LOGS",
        "DELETE FROM {db}.Customer WHERE id = 2",
    ])
    .await;
    let t1 = now_secs();

    // Persistent messages: Maxwell sends delivery_mode=2 and no other property.
    let mut config = DaemonConfig::new(&queue.exchange);
    config.rabbitmq_extra = "persistent = true".into();
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;

    let got = queue.take_at_least(6, Duration::from_secs(10)).await;
    let keys: Vec<&str> = got.iter().map(|m| m.routing_key.as_str()).collect();
    let customer = format!("{name}.Customer");
    let orders = format!("{name}.orders");
    assert_eq!(
        keys,
        vec![&customer, &customer, &orders, &customer, &orders, &customer],
        "routing keys and order"
    );
    for m in &got {
        assert_eq!(
            m.properties,
            BasicProperties::default().with_delivery_mode(2),
            "only delivery_mode=2, as Maxwell with rabbitmq_message_persistent"
        );
        let ts = int_field(&m.body, "ts").expect("ts");
        assert!(
            (t0.saturating_sub(2)..=t1 + 2).contains(&ts),
            "ts {ts} is seconds of the change"
        );
    }
    let xids: Vec<u64> = got
        .iter()
        .map(|m| int_field(&m.body, "xid").expect("xid"))
        .collect();
    assert_eq!(xids[0], xids[1]);
    assert_eq!(xids[1], xids[2]);
    assert_eq!(xids[3], xids[4]);
    assert!(
        xids[0] < xids[3] && xids[3] < xids[5],
        "xids grow: {xids:?}"
    );

    let expected = [
        format!(
            r#"{{"database":"{name}","table":"Customer","type":"insert","ts":TS,"xid":{x},"xoffset":0,"data":{{"id":1,"name":"Zoë \"Z\" Ång","balance":12.50,"joined":"2024-01-02 03:04:05.678","note":"line1\nline2","photo":"AAECAw=="}}}}"#,
            x = xids[0]
        ),
        format!(
            r#"{{"database":"{name}","table":"Customer","type":"insert","ts":TS,"xid":{x},"xoffset":1,"data":{{"id":2,"name":null,"balance":-0.05,"joined":null,"note":"","photo":null}}}}"#,
            x = xids[0]
        ),
        format!(
            r#"{{"database":"{name}","table":"orders","type":"insert","ts":TS,"xid":{x},"commit":true,"data":{{"id":18446744073709551615,"customer_id":1,"total":5.0,"placed":"2021-03-04 05:06:07","code":"é€","qty":-32768}}}}"#,
            x = xids[0]
        ),
        format!(
            r#"{{"database":"{name}","table":"Customer","type":"update","ts":TS,"xid":{x},"xoffset":0,"data":{{"id":1,"name":"Zoe","balance":13.00,"joined":"2024-01-02 03:04:05.678","note":"line1\nline2","photo":"AAECAw=="}},"old":{{"name":"Zoë \"Z\" Ång","balance":12.50}}}}"#,
            x = xids[3]
        ),
        format!(
            r#"{{"database":"{name}","table":"orders","type":"update","ts":TS,"xid":{x},"commit":true,"data":{{"id":18446744073709551615,"customer_id":1,"total":1.0E7,"placed":"2021-03-04 05:06:07","code":"é€","qty":-32768}},"old":{{"total":5.0}}}}"#,
            x = xids[3]
        ),
        format!(
            r#"{{"database":"{name}","table":"Customer","type":"delete","ts":TS,"xid":{x},"commit":true,"data":{{"id":2,"name":null,"balance":-0.05,"joined":null,"note":"","photo":null}}}}"#,
            x = xids[5]
        ),
    ];
    for (m, want) in got.iter().zip(&expected) {
        let ts = int_field(&m.body, "ts").unwrap();
        let body = m.body.replacen(&format!("\"ts\":{ts},"), "\"ts\":TS,", 1);
        assert_eq!(&body, want);
    }
    assert_eq!(got.len(), expected.len(), "no extra messages");

    // The checkpoint is in the binlog file the server rotated to, past the last transaction.
    let cp = config.checkpoint();
    let start_file = start.rsplit_once(':').unwrap().0;
    let cp_file = cp["position"]["file"].as_str().unwrap();
    assert!(
        cp_file > start_file,
        "checkpoint {cp_file} follows the rotation from {start_file}"
    );
    assert!(cp["position"]["offset"].as_u64().unwrap() > 4);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_carry_no_properties_when_not_persistent() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create("props", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    db.exec(&["INSERT INTO {db}.t VALUES (1)"]).await;
    let config = DaemonConfig::new(&queue.exchange);
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;
    let got = queue.take_at_least(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].properties, BasicProperties::default());
    assert!(
        got[0].body.ends_with(r#""commit":true,"data":{"id":1}}"#),
        "{}",
        got[0].body
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_message_ids_are_the_same_for_the_same_row_after_a_restart() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create("msgid", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    db.exec(&[
        "BEGIN",
        "INSERT INTO {db}.t VALUES (1)",
        "INSERT INTO {db}.t VALUES (2)",
        "COMMIT",
    ])
    .await;
    let env = [
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__SINK__RABBITMQ__MESSAGE_ID", "true"),
    ];
    let ids = |got: &[Received]| -> Vec<String> {
        got.iter()
            .map(|m| {
                m.properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.to_string())
                    .unwrap_or_default()
            })
            .collect()
    };
    // Two daemons with their own checkpoints read the same rows: a restart from scratch.
    let first_config = DaemonConfig::new(&queue.exchange);
    run_to_now(&first_config.write(), &env).await;
    let first = queue.take_at_least(2, Duration::from_secs(10)).await;
    let second_config = DaemonConfig::new(&queue.exchange);
    run_to_now(&second_config.write(), &env).await;
    let second = queue.take_at_least(2, Duration::from_secs(10)).await;
    let first_ids = ids(&first);
    assert_eq!(first_ids.len(), 2);
    assert_ne!(first_ids[0], first_ids[1]);
    assert!(
        first_ids[0].starts_with("101:") && first_ids[0].ends_with(":0"),
        "{first_ids:?}"
    );
    assert_eq!(first_ids, ids(&second));
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdout_sink_prints_one_message_per_line() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "stdout",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(5))"],
    )
    .await;
    let start = db.position().await;
    db.exec(&["INSERT INTO {db}.t VALUES (1, 'a'), (2, 'b')"])
        .await;
    let config = DaemonConfig::new("unused");
    let out = run_to_now_on_stdout(&config, &start).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ours: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(&format!(r#""database":"{}""#, db.name)))
        .collect();
    assert_eq!(ours.len(), 2, "{stdout}");
    assert!(
        ours[0].ends_with(r#""xoffset":0,"data":{"id":1,"v":"a"}}"#),
        "{}",
        ours[0]
    );
    assert!(
        ours[1].ends_with(r#""commit":true,"data":{"id":2,"v":"b"}}"#),
        "{}",
        ours[1]
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xa_transaction_stops_the_daemon_instead_of_losing_or_guessing_rows() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create("xa", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let start = db.position().await;
    db.exec(&[
        "XA START 'binlog_relay_test'",
        "INSERT INTO {db}.t VALUES (1)",
        "XA END 'binlog_relay_test'",
        "XA PREPARE 'binlog_relay_test'",
        "XA COMMIT 'binlog_relay_test'",
    ])
    .await;
    let config = DaemonConfig::new("unused");
    let out = run_to_now_on_stdout(&config, &start).await;
    let done = Finished {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("XA transactions are not supported"),
        "{}",
        done.stderr
    );
    // The checkpoint did not move past the XA transaction (other tests' transactions before
    // it may have been checkpointed: the server is shared).
    let (file, from) = start.rsplit_once(':').unwrap();
    let events: Vec<mysql_async::Row> = {
        use mysql_async::prelude::Queryable;
        let mut conn = db.pool.get_conn().await.unwrap();
        conn.query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {from}"))
            .await
            .unwrap()
    };
    let xa_start: u64 = events
        .iter()
        .find(|r| {
            // MariaDB logs XA START in the GTID event, with the XID in hex.
            r.get::<String, _>(5).is_some_and(|info| {
                info.contains("XA START")
                    && (info.contains("binlog_relay_test")
                        || info.contains("62696e6c6f675f72656c61795f74657374"))
            })
        })
        .and_then(|r| r.get(1))
        .expect("XA START in the binlog");
    let cp = config.checkpoint();
    assert_eq!(cp["position"]["file"].as_str().unwrap(), file);
    let offset = cp["position"]["offset"].as_u64().unwrap();
    assert!(
        offset <= xa_start,
        "checkpoint {offset} passed the XA transaction at {xa_start}"
    );
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwells_own_schema_and_managed_heartbeats_are_never_published() {
    let _guard = SERVER_SETTINGS.read().await;
    // Created once; other test runs may have it already.
    exec(
        &mysql(),
        &[
            "CREATE DATABASE IF NOT EXISTS maxwell",
            "CREATE TABLE IF NOT EXISTS maxwell.heartbeats (id INT PRIMARY KEY AUTO_INCREMENT, hb BIGINT)",
            "CREATE TABLE IF NOT EXISTS maxwell.bootstrap (id INT PRIMARY KEY AUTO_INCREMENT, database_name VARCHAR(255), table_name VARCHAR(255))",
        ],
    )
    .await;
    let db = TestDb::create("sys", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let queue = Queue::bind("#").await;
    let start = db.position().await;
    db.exec(&[
        "BEGIN",
        "INSERT INTO maxwell.heartbeats (hb) VALUES (1)",
        "INSERT INTO {db}.t VALUES (1)",
        "INSERT INTO maxwell.bootstrap (database_name, table_name) VALUES ('d', 't')",
        "INSERT INTO maxwell.heartbeats (hb) VALUES (2)",
        "COMMIT",
    ])
    .await;
    let config = DaemonConfig::new(&queue.exchange);
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;
    let got: Vec<Received> = queue
        .take_at_least(2, Duration::from_secs(10))
        .await
        .into_iter()
        .filter(|m| m.routing_key.starts_with(&db.name) || m.routing_key.starts_with("maxwell."))
        .collect();
    let keys: Vec<&str> = got.iter().map(|m| m.routing_key.as_str()).collect();
    assert_eq!(
        keys,
        vec![format!("{}.t", db.name).as_str(), "maxwell.bootstrap"]
    );
    // xoffset and commit count only what is published.
    assert!(
        got[0].body.contains(r#""xoffset":0,"data""#),
        "{}",
        got[0].body
    );
    assert!(
        got[1].body.contains(r#""commit":true,"data""#),
        "{}",
        got[1].body
    );
    db.drop_database().await;
}
