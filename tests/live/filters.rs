//! Maxwell's filters on a live stream: excluded tables send nothing, included ones send
//! their rows with `xoffset` and `commit` counted over what remains, column-value rules pick
//! rows, blacklisted tables are skipped, and DDL messages follow the same rules.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_rows_never_reach_the_sink_and_transactions_stay_whole() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "filters",
        &[
            "CREATE TABLE {db}.keep (id INT PRIMARY KEY, v VARCHAR(10))",
            "CREATE TABLE {db}.drop_me (id INT PRIMARY KEY)",
            "CREATE TABLE {db}.orders (id INT PRIMARY KEY, status VARCHAR(10))",
            "CREATE TABLE {db}.secret (id INT PRIMARY KEY, ssn VARCHAR(11))",
        ],
    )
    .await;
    let name = db.name.clone();
    let queue = Queue::bind(&format!("{name}.#")).await;
    let start = db.position().await;
    db.exec(&[
        "BEGIN",
        "INSERT INTO {db}.keep VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO {db}.drop_me VALUES (1), (2)",
        "INSERT INTO {db}.secret VALUES (1, '123-45-6789')",
        "INSERT INTO {db}.keep VALUES (3, 'c')",
        "INSERT INTO {db}.drop_me VALUES (3)",
        "COMMIT",
        "BEGIN",
        "INSERT INTO {db}.orders VALUES (1, 'new'), (2, 'shipped'), (3, 'shipped')",
        "UPDATE {db}.orders SET status = 'shipped' WHERE id = 1",
        "DELETE FROM {db}.orders WHERE id = 2",
        "COMMIT",
        "INSERT INTO {db}.drop_me VALUES (4)",
        "ALTER TABLE {db}.keep ADD COLUMN w INT",
        "ALTER TABLE {db}.drop_me ADD COLUMN w INT",
        "ALTER TABLE {db}.secret ADD COLUMN w INT",
        "UPDATE {db}.secret SET w = 1",
    ])
    .await;

    let rules = format!(
        "exclude: {name}.*, include: {name}.keep, include: {name}.orders.status=shipped, blacklist: {name}.secret"
    );
    let mut config = DaemonConfig::new(&queue.exchange);
    config.rabbitmq_extra = "[output]\nddl = true\n".into();
    run_to_now(
        &config.write(),
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__FILTER__RULES", rules.as_str()),
        ],
    )
    .await;
    let got = queue.take_at_least(8, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let late = queue.drain().await;
    assert!(late.is_empty(), "more than expected: {late:?}");

    let summary: Vec<String> = got
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("json");
            let commit = if v["commit"] == serde_json::json!(true) {
                " commit".to_owned()
            } else if let Some(x) = v["xoffset"].as_u64() {
                format!(" xoffset={x}")
            } else {
                String::new()
            };
            match v["type"].as_str() {
                Some(t @ ("insert" | "update" | "delete")) => format!(
                    "{} {t} {}{commit}",
                    v["table"].as_str().unwrap_or_default(),
                    v["data"]["id"]
                ),
                Some(t) => format!("{} {t}", v["table"].as_str().unwrap_or_default()),
                None => format!("? {}", m.body),
            }
        })
        .collect();
    assert_eq!(
        summary,
        [
            // Transaction 1: drop_me and the blacklisted table's rows are gone; the three
            // kept rows are numbered 0, 1 and commit.
            "keep insert 1 xoffset=0",
            "keep insert 2 xoffset=1",
            "keep insert 3 commit",
            // Transaction 2: only rows whose status is shipped, judged on `data` (the
            // new image of an update, the old one of a delete): not the insert of 1.
            "orders insert 2 xoffset=0",
            "orders insert 3 xoffset=1",
            "orders update 1 xoffset=2",
            "orders delete 2 commit",
            // The lone drop_me insert sends nothing; of the three ALTERs only keep's.
            "keep table-alter",
        ],
        "{got:#?}"
    );
    // The blacklisted table's ALTER is not in the schema history; the others are.
    let history = std::fs::read_to_string(config.checkpoint_dir().join("schema-history.jsonl"))
        .expect("schema history");
    let altered = |table: &str| {
        history
            .lines()
            .any(|l| l.contains(&format!("ALTER TABLE {name}.{table} ")))
    };
    assert!(altered("keep") && altered("drop_me"), "{history}");
    assert!(!altered("secret"), "{history}");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_filter_rule_is_a_configuration_error_naming_it() {
    let config = DaemonConfig::new("unused");
    let child = spawn_daemon(
        &config.write(),
        &[],
        &[("BINLOG_RELAY__FILTER__RULES", "include: a.b, allow: c.d")],
    );
    let done = wait(child, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains("filter.rules") && done.stderr.contains("rule 2 (`allow: c.d`)"),
        "{}",
        done.stderr
    );
}

/// Maxwell's schema database under a name of its own (`schema_database`, here
/// `bootstrap.database`): its tables' rows and DDL are dropped, except inserts into its
/// `bootstrap` table, while other databases publish as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxwells_schema_database_is_dropped_under_its_configured_name() {
    let _guard = SERVER_SETTINGS.read().await;
    let schema = TestDb::create(
        "mx_schema",
        &[
            "CREATE TABLE {db}.positions (client_id VARCHAR(20) PRIMARY KEY, binlog_position INT)",
            "CREATE TABLE {db}.bootstrap (id INT PRIMARY KEY AUTO_INCREMENT, database_name VARCHAR(20), table_name VARCHAR(20), client_id VARCHAR(20))",
        ],
    )
    .await;
    let app = TestDb::create("mx_app", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    let queue = Queue::bind("#").await;
    let start = app.position().await;
    schema
        .exec(&[
            "INSERT INTO {db}.positions VALUES ('other', 4)",
            "UPDATE {db}.positions SET binlog_position = 5",
            "ALTER TABLE {db}.positions ADD COLUMN x INT",
            "INSERT INTO {db}.bootstrap (database_name, table_name, client_id) VALUES ('x', 'y', 'someone')",
        ])
        .await;
    app.exec(&["INSERT INTO {db}.t VALUES (1)"]).await;
    let stop = app.position().await;
    let daemon = DaemonConfig::new(&queue.exchange);
    let path = daemon.write();
    let rules = format!(
        "exclude: *.*, include: {}.*, include: {}.*",
        schema.name, app.name
    );
    let (code, out) = relay_command(
        &path,
        &["run", "--stop-at", &stop],
        &[
            ("BINLOG_RELAY__SOURCE__START", start.as_str()),
            ("BINLOG_RELAY__BOOTSTRAP__DATABASE", schema.name.as_str()),
            ("BINLOG_RELAY__OUTPUT__DDL", "true"),
            // Only this test's databases (others write to the server meanwhile); the
            // schema database is included by the rules and still dropped.
            ("BINLOG_RELAY__FILTER__RULES", rules.as_str()),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    // The run has ended: everything it published is in the queue.
    let mut received = queue.take_at_least(2, Duration::from_secs(10)).await;
    received.extend(queue.drain().await);
    let mut seen: Vec<String> = received
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
            format!(
                "{}.{} {}",
                v["database"].as_str().unwrap_or(""),
                v["table"].as_str().unwrap_or(""),
                v["type"]
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        format!("{}.bootstrap \"insert\"", schema.name),
        format!("{}.t \"insert\"", app.name),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    schema.drop_database().await;
    app.drop_database().await;
}
