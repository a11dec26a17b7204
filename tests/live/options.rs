//! The `[output]` options against a live MariaDB: every optional field Maxwell has, in its
//! order, with its names.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_options_add_maxwells_optional_fields() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "opts",
        &[
            "CREATE TABLE {db}.people (id INT, first_name VARCHAR(20), pass_word VARCHAR(20), \
           born DATE, PRIMARY KEY (id))",
        ],
    )
    .await;
    let name = db.name.clone();
    let queue = Queue::bind(&format!("{name}.#")).await;
    let start = db.position().await;
    let insert = format!("INSERT INTO {name}.people VALUES (1, 'Ada', 'secret', '0000-00-00')");
    db.exec(&["SET SESSION sql_mode = ''", &insert]).await;

    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let output = r#"
[output]
binlog_position = true
gtid_position = true
server_id = true
thread_id = true
row_query = true
row_query_max_length = 30
primary_keys = true
primary_key_columns = true
push_timestamp = true
null_zerodates = true
nulls = false
naming_strategy = "underscore_to_camelcase"
exclude_columns = ["pass_word"]
"#;
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(output);
    std::fs::write(&path, text).unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    run_to_now(&path, &[("BINLOG_RELAY__SOURCE__START", &start)]).await;

    let got = queue.take_at_least(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let body = &got[0].body;
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    // MariaDB starts transactions with GTID events, not BEGIN: no thread id.
    assert!(v.get("threadId").is_none(), "{body}");
    // Values that differ per run, checked for what they must be.
    let position = v["position"].as_str().unwrap();
    let start_file = start.rsplit_once(':').unwrap().0;
    assert!(
        position.starts_with(&format!("{start_file}:")),
        "{position}"
    );
    let gtid = v["gtid"].as_str().unwrap();
    assert!(
        gtid.starts_with("0-101-"),
        "MariaDB domain-server-seq: {gtid}"
    );
    let push_ts = v["pushTs"].as_f64().unwrap();
    assert!(
        push_ts >= before.floor() && push_ts < before + 120.0,
        "{push_ts}"
    );
    let push_ts_text = body
        .split("\"pushTs\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    // Everything else is exact.
    let expected = format!(
        concat!(
            r#"{{"database":"{name}","table":"people","query":"{query}","type":"insert","ts":{ts},"#,
            r#""xid":{xid},"commit":true,"position":"{position}","gtid":"{gtid}","serverId":101,"#,
            r#""pushTs":{push_ts},"primaryKey":[1],"primaryKeyColumns":["id"],"#,
            r#""data":{{"id":1,"firstName":"Ada"}}}}"#
        ),
        name = name,
        // The statement, cut at row_query_max_length characters.
        query = insert.chars().take(30).collect::<String>(),
        ts = v["ts"],
        xid = v["xid"],
        position = position,
        gtid = gtid,
        push_ts = push_ts_text,
    );
    assert_eq!(body, &expected);
    db.drop_database().await;
}

/// `output.row_query` on a live MariaDB: the server streams the statement behind each row
/// change (its ANNOTATE_ROWS event) only to a replica that asks (dump flag 2), and every
/// row of the statement carries it exactly as the client sent it, comments and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_query_carries_each_statement_on_a_live_mariadb_stream() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "rowq",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10))"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    let statements = [
        "INSERT INTO {db}.t VALUES (1, 'a'), (2, 'b')",
        "/* request-id: 7, user: ada */ UPDATE {db}.t SET v = 'c' WHERE id = 1",
        "DELETE FROM {db}.t WHERE id = 2 -- cleanup\n",
        "INSERT INTO {db}.t /* inline */ VALUES (3, 'ü \"q\"')",
    ];
    db.exec(&statements).await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[output]\nrow_query = true\n");
    std::fs::write(&path, text).unwrap();
    run_to_now(&path, &[("BINLOG_RELAY__SOURCE__START", &start)]).await;

    let got = queue.take_at_least(5, Duration::from_secs(10)).await;
    let queries: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
            let query = v["query"]
                .as_str()
                .unwrap_or_else(|| panic!("no query: {}", m.body));
            (v["type"].as_str().unwrap().to_owned(), query.to_owned())
        })
        .collect();
    let sql = |i: usize| statements[i].replace("{db}", &db.name);
    assert_eq!(
        queries,
        vec![
            ("insert".to_owned(), sql(0)),
            ("insert".to_owned(), sql(0)),
            ("update".to_owned(), sql(1)),
            // The server keeps the statement without its trailing whitespace.
            ("delete".to_owned(), sql(2).trim_end().to_owned()),
            ("insert".to_owned(), sql(3)),
        ]
    );
    db.drop_database().await;
}
