//! Bootstrap against the live MariaDB: rows read with SELECT render exactly as the binlog
//! inserts of the same rows.

use std::sync::Arc;

use binlog_relay::decode::Cell;
use binlog_relay::format::row::RowRenderer;
use binlog_relay::format::{BootstrapMeta, OutputOptions, TableLayout};
use binlog_relay::source::snapshot::{self, TablePlan};

use super::support::*;
use super::types::{EXPECTED, ROWS, TABLE};

/// Every column type of the output tests, read in chunks of two rows (so the key walk
/// runs), renders in a `bootstrap-insert` exactly as `tests/live/types.rs` has the binlog
/// path render it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_reads_the_same_in_a_bootstrap_insert_as_in_an_insert() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create("boot_types", &[TABLE]).await;
    let mut session = vec!["SET SESSION sql_mode = ''", "SET time_zone = '+01:00'"];
    session.extend_from_slice(ROWS);
    db.exec(&session).await;

    let mut conn = db.pool.get_conn().await.expect("connection");
    // The reading session's own settings must not matter: the chunk query sets its own.
    conn.query_drop("SET time_zone = '-07:00', NAMES latin1")
        .await
        .expect("session");
    snapshot::prepare_session(&mut conn).await.expect("session");
    let plan = TablePlan::load(&mut conn, &db.name, "t", None)
        .await
        .expect("plan");
    let options = Arc::new(OutputOptions::default());
    let mut renderer = RowRenderer::new(options.clone());
    let mut messages = Vec::new();
    let mut after: Option<Vec<mysql_common::Value>> = None;
    let mut chunks = 0;
    loop {
        let chunk = snapshot::read_chunk(&mut conn, &plan, after.as_deref(), 2)
            .await
            .expect("chunk");
        if chunk.rows.is_empty() {
            break;
        }
        chunks += 1;
        let layout = TableLayout::new(Arc::new(chunk.table(&plan)), &options);
        for i in 0..chunk.rows.len() {
            let cells: Vec<Cell<'_>> = chunk
                .rows
                .row(i)
                .map(|c| c.map_or(Cell::Null, Cell::Value))
                .collect();
            let mut out = Vec::new();
            let meta = BootstrapMeta {
                ts: 1_700_000_000,
                schema_id: None,
                comment: Some("resync"),
            };
            renderer
                .render_bootstrap_insert(&mut out, &layout, &meta, &cells)
                .expect("render");
            messages.push(String::from_utf8(out).expect("utf-8"));
        }
        after = chunk.last_key;
    }
    // Back to the pool before the pool is closed (which waits for it).
    drop(conn);
    assert_eq!(chunks, 2, "four rows in chunks of two");
    // Rows 1 to 3 as inserted, and row 4 as updated (without `old`).
    let row4 = EXPECTED[4]
        .split(r#","old":"#)
        .next()
        .expect("data")
        .to_owned()
        + "}";
    let want = [EXPECTED[0], EXPECTED[1], EXPECTED[2], &row4];
    assert_eq!(messages.len(), want.len(), "{messages:#?}");
    for (got, want) in messages.iter().zip(want) {
        let head = format!(
            r#"{{"database":"{}","table":"t","type":"bootstrap-insert","ts":1700000000,"comment":"resync","#,
            db.name
        );
        assert!(got.starts_with(&head), "{got}");
        assert_eq!(&got[head.len()..], want);
    }
    db.drop_database().await;
}

/// `bootstrap DB.TABLE` writes the row Maxwell's utility writes (creating the schema
/// database and table on first use), `--status` lists this client id's requests only, and
/// a table that cannot be bootstrapped is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_a_row_in_maxwells_bootstrap_table_and_status_lists_it() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "boot_req",
        &[
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)",
            "INSERT INTO {db}.t VALUES (1, 10), (2, 20), (3, 30)",
            "CREATE TABLE {db}.nokey (v INT)",
        ],
    )
    .await;
    let schema_db = unique("mx");
    let daemon = DaemonConfig::new("unused");
    let config = daemon.write();
    let env = [("BINLOG_RELAY__BOOTSTRAP__DATABASE", schema_db.as_str())];

    let (code, out) = relay_command(&config, &["bootstrap", "--status"], &env).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no bootstrap requests for client_id maxwell"),
        "{out}"
    );

    let target = format!("{}.t", db.name);
    let (code, out) = relay_command(
        &config,
        &[
            "bootstrap",
            &target,
            "--where",
            "v >= 20",
            "--comment",
            "resync ESR",
        ],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(2 rows to read)"), "{out}");

    // The row, as Maxwell's utility writes it.
    let mut conn = db.pool.get_conn().await.expect("connection");
    type Request = (
        String,
        String,
        Option<String>,
        u64,
        u64,
        u8,
        String,
        Option<String>,
    );
    let row: Option<Request> = conn
        .query_first(format!(
            "SELECT database_name, table_name, where_clause, total_rows, inserted_rows, is_complete, client_id, comment FROM `{schema_db}`.bootstrap"
        ))
        .await
        .expect("bootstrap row");
    assert_eq!(
        row,
        Some((
            db.name.clone(),
            "t".into(),
            Some("v >= 20".into()),
            2,
            0,
            0,
            "maxwell".into(),
            Some("resync ESR".into())
        ))
    );
    // Another pipeline's request (as `maxwell-bootstrap --client_id other` writes it).
    conn.query_drop(format!(
        "INSERT INTO `{schema_db}`.bootstrap (database_name, table_name, client_id) VALUES ('{}', 't', 'other')",
        db.name
    ))
    .await
    .expect("other client's request");
    drop(conn);

    let (code, out) = relay_command(&config, &["bootstrap", "--status"], &env).await;
    assert_eq!(code, 0, "{out}");
    let listed: Vec<&str> = out.lines().filter(|l| l.contains(&target)).collect();
    assert_eq!(listed.len(), 1, "only this client id's request: {out}");
    assert!(
        listed[0].contains("waiting")
            && listed[0].contains("0/2")
            && listed[0].contains("resync ESR"),
        "{out}"
    );

    // Refused, with nothing written: no such table; no primary key; bad SQL; bad name.
    for (args, says) in [
        (
            vec!["bootstrap".to_owned(), format!("{}.missing", db.name)],
            "does not exist",
        ),
        (
            vec!["bootstrap".to_owned(), format!("{}.nokey", db.name)],
            "no primary key",
        ),
        (
            vec![
                "bootstrap".to_owned(),
                target.clone(),
                "--where".into(),
                "v >=".into(),
            ],
            "--where",
        ),
        (
            vec!["bootstrap".to_owned(), "no_dot".into()],
            "DATABASE.TABLE",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = relay_command(&config, &args, &env).await;
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
    }
    let mut conn = db.pool.get_conn().await.expect("connection");
    let count: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM `{schema_db}`.bootstrap"))
        .await
        .expect("count");
    assert_eq!(count, Some(2), "the refused requests wrote nothing");
    conn.query_drop(format!("DROP DATABASE `{schema_db}`"))
        .await
        .expect("drop");
    drop(conn);
    db.drop_database().await;
}

/// Reads `db`.`table` one row per chunk; the `v` column of each row, in walk order.
async fn walk(conn: &mut mysql_async::Conn, db: &str, table: &str) -> Vec<i32> {
    let plan = TablePlan::load(conn, db, table, None).await.expect("plan");
    let v = plan.columns.iter().position(|c| c.name == "v").expect("v");
    let mut got = Vec::new();
    let mut after: Option<Vec<mysql_common::Value>> = None;
    for _ in 0..50 {
        let chunk = snapshot::read_chunk(conn, &plan, after.as_deref(), 1)
            .await
            .expect("chunk");
        if chunk.rows.is_empty() {
            break;
        }
        let cell = chunk.rows.row(0).nth(v).flatten().expect("v");
        got.push(i32::from_le_bytes(cell.try_into().expect("4 bytes")));
        after = chunk.last_key;
    }
    got
}

/// The key walk resumes after each chunk's last key as the server orders the table: for a
/// latin1 text key (sent back in its own charset and collation, where 'e' equals 'é'), a
/// DECIMAL key whose values differ past a double's precision, and a binary key with bytes
/// no client charset holds. Every row exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_walk_reads_every_row_once_for_text_decimal_and_binary_keys() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "boot_keys",
        &[
            "CREATE TABLE {db}.t (name VARCHAR(10) CHARACTER SET latin1, amount DECIMAL(30,20), \
             v INT, PRIMARY KEY (name, amount))",
            "INSERT INTO {db}.t VALUES \
             ('é', 1.00000000000000000001, 1), ('é', 1.00000000000000000002, 2), \
             ('e', 7, 3), ('É', 5, 4), ('f', -1, 5), ('Z', 0, 6), \
             ('ä', 2.5, 7), ('a', 2.5, 8), ('é', 1.00000000000000000003, 9)",
            "CREATE TABLE {db}.b (k VARBINARY(4) PRIMARY KEY, v INT)",
            "INSERT INTO {db}.b VALUES (x'FF', 1), (x'00', 2), (x'7F', 3), (x'FFFE', 4), (x'C3', 5)",
        ],
    )
    .await;
    let mut conn = db.pool.get_conn().await.expect("connection");
    for table in ["t", "b"] {
        let key = if table == "t" { "name, amount" } else { "k" };
        let want: Vec<i32> = conn
            .query(format!("SELECT v FROM {}.{table} ORDER BY {key}", db.name))
            .await
            .expect("order");
        snapshot::prepare_session(&mut conn).await.expect("session");
        let got = walk(&mut conn, &db.name, table).await;
        assert_eq!(
            got, want,
            "{table}: one row per chunk, in the server's key order"
        );
        conn.query_drop("SET character_set_results = utf8mb4")
            .await
            .expect("reset");
    }
    drop(conn);
    db.drop_database().await;
}

/// Takes messages from `queue` into `received` until one satisfies `done` or `secs` pass.
async fn drain_until(
    queue: &Queue,
    received: &mut Vec<Received>,
    secs: u64,
    done: impl Fn(&Received) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline && !received.iter().any(&done) {
        let got = queue.drain().await;
        if got.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        received.extend(got);
    }
}

/// Stops a daemon with SIGTERM and returns its log.
async fn stop_daemon(child: tokio::process::Child) -> String {
    signal(&child, "TERM");
    String::from_utf8_lossy(
        &output_within(child, std::time::Duration::from_secs(60))
            .await
            .stderr,
    )
    .into_owned()
}

/// The rows of `t` a consumer ends with when it applies `messages` in order: `insert`,
/// `update` and `bootstrap-insert` as upserts by `id`, `delete` as delete.
fn apply(
    messages: &[Received],
    db: &str,
    model: &mut std::collections::BTreeMap<i64, serde_json::Value>,
) {
    for m in messages {
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
        if v["database"] != db || v["table"] != "t" {
            continue;
        }
        let data = &v["data"];
        let Some(id) = data["id"].as_i64() else {
            continue;
        };
        match v["type"].as_str() {
            Some("insert" | "update" | "bootstrap-insert") => {
                model.insert(id, data.clone());
            }
            Some("delete") => {
                model.remove(&id);
            }
            _ => {}
        }
    }
}

/// A table of 12,000 rows is bootstrapped (three chunks) while a writer inserts, updates
/// and deletes random rows of it and writes to another table: a consumer applying the
/// messages in order ends with exactly the table's rows, the other table's changes keep
/// arriving during the bootstrap, and the bootstrap's messages are Maxwell's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_bootstrapped_under_writes_ends_exact_at_an_in_order_consumer() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    const ROWS: i64 = 12_000;
    let db = TestDb::create(
        "boot_exact",
        &[
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(20), n INT)",
            "CREATE TABLE {db}.other (id INT PRIMARY KEY AUTO_INCREMENT, v INT)",
        ],
    )
    .await;
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        for start in (1..=ROWS).step_by(2_000) {
            let values: Vec<String> = (start..start + 2_000)
                .map(|i| format!("({i}, 'row {i}', {})", i * 7 % 1000))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO {}.t VALUES {}",
                db.name,
                values.join(",")
            ))
            .await
            .expect("load");
        }
    }
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let daemon = DaemonConfig::new(&queue.exchange);
    let path = daemon.write();
    let schema_db = unique("mx");
    let start = db.position().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env = [
        ("BINLOG_RELAY__BOOTSTRAP__DATABASE", schema_db.as_str()),
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
    ];
    let child = spawn_daemon(&path, &[], &env);
    wait_ready(port, std::time::Duration::from_secs(30)).await;

    // The writer: random changes to t, and rows into other, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, pool, name) = (stop.clone(), mysql(), db.name.clone());
        tokio::spawn(async move {
            let mut conn = pool.get_conn().await.expect("writer connection");
            let mut rng = fastrand::Rng::with_seed(21);
            let mut ops = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = rng.i64(1..=ROWS + 500);
                let sql = match rng.u8(0..4) {
                    0 => format!("UPDATE {name}.t SET a = 'upd {ops}', n = n + 1 WHERE id = {id}"),
                    1 => format!("DELETE FROM {name}.t WHERE id = {id}"),
                    2 => format!(
                        "INSERT INTO {name}.t VALUES ({id}, 'new {ops}', {ops}) \
                         ON DUPLICATE KEY UPDATE a = 'dup {ops}'"
                    ),
                    _ => format!("INSERT INTO {name}.other (v) VALUES ({ops})"),
                };
                conn.query_drop(sql).await.expect("write");
                ops += 1;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            ops
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let target = format!("{}.t", db.name);
    let (code, out) = relay_command(
        &path,
        &["bootstrap", &target, "--comment", "exact"],
        &env[..1],
    )
    .await;
    assert_eq!(code, 0, "{out}");

    // Until the bootstrap completes, then a little longer with the writer still going.
    let mut received = Vec::new();
    drain_until(&queue, &mut received, 120, |m: &Received| {
        m.body.contains(r#""type":"bootstrap-complete""#)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ops = writer.await.expect("writer");
    // A last row marks the end of what the writer wrote.
    db.exec(&["INSERT INTO {db}.other (v) VALUES (-1)"]).await;
    drain_until(&queue, &mut received, 60, |m: &Received| {
        m.body.contains(r#""table":"other""#) && m.body.contains(r#""v":-1"#)
    })
    .await;
    let log = stop_daemon(child).await;

    let kinds = |kind: &str| {
        received
            .iter()
            .filter(|m| m.body.contains(&format!(r#""type":"{kind}""#)))
            .count()
    };
    // One bootstrap, unless the run was resumed after a lost connection (on a loaded
    // machine): a resumed run starts the request over, as documented.
    let resumed = log
        .matches("resuming from the last confirmed checkpoint")
        .count();
    let starts = kinds("bootstrap-start");
    assert!(
        (1..=1 + resumed).contains(&starts),
        "{starts} bootstrap-starts for {resumed} resumed runs\n{log}"
    );
    assert_eq!(
        kinds("bootstrap-complete"),
        1,
        "one bootstrap-complete\n{log}"
    );
    let inserts = kinds("bootstrap-insert");
    let start_at = received
        .iter()
        .position(|m| m.body.contains(r#""type":"bootstrap-start""#))
        .expect("start");
    let complete_at = received
        .iter()
        .position(|m| m.body.contains(r#""type":"bootstrap-complete""#))
        .expect("complete");
    assert!(start_at < complete_at);
    let others_during = received[start_at..complete_at]
        .iter()
        .filter(|m| m.body.contains(r#""table":"other""#))
        .count();
    assert!(
        others_during > 0,
        "other tables' changes keep flowing during the bootstrap"
    );
    // Maxwell's fields: no position, xid or commit; the comment; routed like the table.
    let first = received
        .iter()
        .find(|m| m.body.contains(r#""type":"bootstrap-insert""#))
        .expect("a bootstrap-insert");
    assert!(
        first.body.starts_with(&format!(
            r#"{{"database":"{}","table":"t","type":"bootstrap-insert","ts":"#,
            db.name
        )) && first.body.contains(r#","comment":"exact","data":{"id":"#)
            && !first.body.contains(r#""xid""#)
            && !first.body.contains(r#""commit""#),
        "{}",
        first.body
    );
    assert_eq!(first.routing_key, target);

    let mut model = std::collections::BTreeMap::new();
    apply(&received, &db.name, &mut model);
    let mut conn = db.pool.get_conn().await.expect("connection");
    let rows: Vec<(i64, String, i64)> = conn
        .query(format!("SELECT id, a, n FROM {}.t ORDER BY id", db.name))
        .await
        .expect("table");
    drop(conn);
    let table: std::collections::BTreeMap<i64, serde_json::Value> = rows
        .into_iter()
        .map(|(id, a, n)| (id, serde_json::json!({"id": id, "a": a, "n": n})))
        .collect();
    let differ: Vec<_> = table
        .iter()
        .filter(|(id, row)| model.get(id) != Some(row))
        .map(|(id, row)| (id, row, model.get(id)))
        .take(5)
        .collect();
    let extra: Vec<_> = model
        .keys()
        .filter(|id| !table.contains_key(id))
        .take(5)
        .collect();
    assert!(
        differ.is_empty() && extra.is_empty(),
        "the consumer's copy differs from the table: {differ:?}; rows it has that the table does not: {extra:?}"
    );
    eprintln!(
        "bootstrap under writes: {} rows in the table, {inserts} bootstrap-inserts, {ops} writer statements, {} messages in all, {others_during} of other during the bootstrap",
        table.len(),
        received.len()
    );
    exec(&db.pool, &[&format!("DROP DATABASE `{schema_db}`")]).await;
    db.drop_database().await;
}

/// A request that can never run (its table is gone) is closed with a warning instead of
/// holding up the next one, and the marks are read even when the operator's filter
/// blacklists their database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_cannot_run_is_closed_and_the_next_runs_under_a_blacklist() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "boot_next",
        &[
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)",
            "INSERT INTO {db}.t VALUES (1, 10), (2, 20), (3, 30)",
        ],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let daemon = DaemonConfig::new(&queue.exchange);
    let path = daemon.write();
    let schema_db = unique("mx");
    let start = db.position().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let rules = format!("blacklist: {schema_db}.*");
    let env = [
        ("BINLOG_RELAY__BOOTSTRAP__DATABASE", schema_db.as_str()),
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ("BINLOG_RELAY__FILTER__RULES", rules.as_str()),
    ];
    let child = spawn_daemon(&path, &[], &env);
    wait_ready(port, std::time::Duration::from_secs(30)).await;
    // First a request for a table that does not exist, written as maxwell-bootstrap's SQL
    // would be (the command itself refuses it), then a good one.
    let (code, out) = relay_command(&path, &["bootstrap", "--status"], &env[..1]).await;
    assert_eq!(code, 0, "{out}");
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{schema_db}`"))
            .await
            .expect("schema database");
    }
    let (code, out) =
        relay_command(&path, &["bootstrap", &format!("{}.t", db.name)], &env[..1]).await;
    assert_eq!(code, 0, "{out}");
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        // Written after the good one's table is known to exist, and with a lower id than a
        // second good request: the worker takes them in order.
        conn.query_drop(format!(
            "INSERT INTO `{schema_db}`.bootstrap (database_name, table_name, client_id) VALUES ('{}', 'gone', 'maxwell')",
            db.name
        ))
        .await
        .expect("request for a missing table");
    }
    let (code, out) = relay_command(
        &path,
        &[
            "bootstrap",
            &format!("{}.t", db.name),
            "--comment",
            "second",
        ],
        &env[..1],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let mut received = Vec::new();
    drain_until(&queue, &mut received, 60, |m: &Received| {
        m.body.contains(r#""type":"bootstrap-complete""#)
            && m.body.contains(r#""comment":"second""#)
    })
    .await;
    let log = stop_daemon(child).await;
    let completes = received
        .iter()
        .filter(|m| m.body.contains(r#""type":"bootstrap-complete""#))
        .count();
    assert_eq!(completes, 2, "both good requests ran\n{log}");
    assert!(
        log.contains("bootstrap request cannot run") && log.contains("gone"),
        "{log}"
    );
    let mut conn = db.pool.get_conn().await.expect("connection");
    let open: Option<u64> = conn
        .query_first(format!(
            "SELECT COUNT(*) FROM `{schema_db}`.bootstrap WHERE is_complete = 0"
        ))
        .await
        .expect("requests");
    assert_eq!(open, Some(0), "every request closed\n{log}");
    // Nothing of the bookkeeping reached the consumer.
    assert!(!received.iter().any(|m| m.body.contains("bootstrap_marks")));
    conn.query_drop(format!("DROP DATABASE `{schema_db}`"))
        .await
        .expect("drop");
    drop(conn);
    db.drop_database().await;
}
