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
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create("boot_types", &[TABLE]).await;
    let mut session = vec!["SET SESSION sql_mode = ''", "SET time_zone = '+01:00'"];
    session.extend_from_slice(ROWS);
    db.exec(&session).await;

    let (messages, chunks) = bootstrap_messages(&db, "t", 2).await;
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

    // Refused, with nothing written: no such table; bad SQL; bad name.
    for (args, says) in [
        (
            vec!["bootstrap".to_owned(), format!("{}.missing", db.name)],
            "does not exist",
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
        let chunk = snapshot::read_chunk(conn, &plan, after.as_deref(), 1, usize::MAX)
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

/// The table of the bootstrap-under-writes tests: mixed types, each with a value a consumer
/// can compare with what SQL reads (text in two charsets, a big integer, a DECIMAL, a
/// DATETIME(3), bytes, an ENUM, NULLs).
const MIXED_TABLE: &str = "CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(40) CHARACTER SET utf8mb4, \
     l VARCHAR(20) CHARACTER SET latin1, n BIGINT, m DECIMAL(12,2), d DATETIME(3), b VARBINARY(16), \
     e ENUM('red','green','blue'))";

/// Row `i` as SQL values.
fn mixed_values(i: i64, tag: &str) -> String {
    let e = ["'red'", "'green'", "'blue'", "NULL"][usize::try_from(i % 4).unwrap_or(0)];
    format!(
        "({i}, '{tag} {i} ✓', 'caf\u{e9} {i}', {}, {}.{:02}, '2026-12-04 10:{:02}:{:02}.{:03}', UNHEX('{:08X}'), {e})",
        i * 1_000_003,
        i % 100_000,
        i % 100,
        i % 60,
        (i / 60) % 60,
        i % 1000,
        i
    )
}

/// The table as a consumer should see it: each row's `data` object.
async fn mixed_table(db: &TestDb) -> std::collections::BTreeMap<i64, serde_json::Value> {
    use mysql_async::prelude::Queryable;
    let mut conn = db.pool.get_conn().await.expect("connection");
    type Row = (
        i64,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = conn
        .query(format!(
            "SELECT id, a, CONVERT(l USING utf8mb4), n, CAST(m AS CHAR), CAST(d AS CHAR), TO_BASE64(b), CAST(e AS CHAR) FROM {}.t ORDER BY id",
            db.name
        ))
        .await
        .expect("table");
    drop(conn);
    rows.into_iter()
        .map(|(id, a, l, n, m, d, b, e)| {
            let m = m.map(|m| serde_json::Value::Number(m.parse().expect("a decimal")));
            (
                id,
                serde_json::json!({"id": id, "a": a, "l": l, "n": n, "m": m, "d": d, "b": b, "e": e}),
            )
        })
        .collect()
}

/// What the bootstrap-under-writes tests vary.
struct UnderWrites {
    name: &'static str,
    rows: i64,
    /// Times the daemon is killed with SIGKILL during the bootstrap (and started again).
    kills: usize,
    chunk_rows: usize,
    /// `bootstrap.pause_ms`: slow enough for the kills to land inside the bootstrap.
    pause_ms: u64,
}

/// What each daemon test below shares: a queue bound to the test database's rows, a config
/// file for its exchange, Maxwell's schema database under a name of its own, and an HTTP
/// address to wait on.
struct BootDaemon {
    queue: Queue,
    _config: DaemonConfig,
    path: std::path::PathBuf,
    schema_db: String,
    port: u16,
    listen: String,
}

impl BootDaemon {
    async fn new(db: &TestDb) -> Self {
        let queue = Queue::bind(&format!("{}.#", db.name)).await;
        let config = DaemonConfig::new(&queue.exchange);
        let path = config.write();
        let port = free_port();
        Self {
            queue,
            _config: config,
            path,
            schema_db: unique("mx"),
            port,
            listen: format!("127.0.0.1:{port}"),
        }
    }

    /// The daemon's environment: the schema database first (all a command needs, so
    /// `&env[..1]` serves one), then `extra`, then the HTTP address.
    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![("BINLOG_RELAY__BOOTSTRAP__DATABASE", self.schema_db.as_str())];
        env.extend_from_slice(extra);
        env.push(("BINLOG_RELAY__HTTP__LISTEN", self.listen.as_str()));
        env
    }

    /// Starts the daemon with `env` and waits until it is ready.
    async fn start(&self, env: &[(&str, &str)]) -> tokio::process::Child {
        let child = spawn_daemon(&self.path, &[], env);
        wait_ready(self.port, std::time::Duration::from_secs(30)).await;
        child
    }

    /// Drops Maxwell's schema database and the test database.
    async fn clean_up(&self, db: TestDb) {
        exec(&db.pool, &[&format!("DROP DATABASE `{}`", self.schema_db)]).await;
        db.drop_database().await;
    }
}

/// A table of `rows` rows is bootstrapped while a writer inserts, updates and deletes
/// random rows of it and writes to another table, with the daemon killed `kills` times on
/// the way: a consumer applying the messages in order ends with exactly the table's rows,
/// the other table's changes keep arriving during the bootstrap, the bootstrap's messages
/// are Maxwell's, and a restart goes on from the last confirmed chunk (fewer than 1.5
/// bootstrap-inserts per row in all).
async fn bootstrap_under_writes(case: UnderWrites) {
    use mysql_async::prelude::Queryable;
    let rows = case.rows;
    let db = TestDb::create(
        case.name,
        &[
            MIXED_TABLE,
            "CREATE TABLE {db}.other (id INT PRIMARY KEY AUTO_INCREMENT, v INT)",
        ],
    )
    .await;
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        for start in (1..=rows).step_by(2_000) {
            let values: Vec<String> = (start..(start + 2_000).min(rows + 1))
                .map(|i| mixed_values(i, "row"))
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
    let d = BootDaemon::new(&db).await;
    let start = db.position().await;
    let chunk_rows = case.chunk_rows.to_string();
    let pause_ms = case.pause_ms.to_string();
    let env = d.env(&[
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__BOOTSTRAP__CHUNK_ROWS", chunk_rows.as_str()),
        ("BINLOG_RELAY__BOOTSTRAP__PAUSE_MS", pause_ms.as_str()),
    ]);
    let mut child = d.start(&env).await;

    // The writer: random changes to t, and rows into other, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, pool, name) = (stop.clone(), mysql(), db.name.clone());
        tokio::spawn(async move {
            let mut conn = pool.get_conn().await.expect("writer connection");
            let mut rng = fastrand::Rng::with_seed(21);
            let mut ops = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = rng.i64(1..=rows + 500);
                let sql = match rng.u8(0..4) {
                    0 => format!(
                        "UPDATE {name}.t SET a = 'upd {ops} ✓', n = n + 1, m = m + 0.01, e = NULL WHERE id = {id}"
                    ),
                    1 => format!("DELETE FROM {name}.t WHERE id = {id}"),
                    2 => format!(
                        "INSERT INTO {name}.t VALUES {} ON DUPLICATE KEY UPDATE a = 'dup {ops}', b = NULL",
                        mixed_values(id, "new")
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
        &d.path,
        &["bootstrap", &target, "--comment", "exact"],
        &env[..1],
    )
    .await;
    assert_eq!(code, 0, "{out}");

    let is_kind = |m: &Received, kind: &str| m.body.contains(&format!(r#""type":"{kind}""#));
    let mut received: Vec<Received> = Vec::new();
    let mut logs = String::new();
    // Each kill lands once the daemon has read two more chunks since its start (its
    // metrics say), so every kill falls inside the bootstrap with some chunks confirmed.
    let mut kills = 0;
    let mut killed_at = 0.0;
    while kills < case.kills {
        let target = killed_at + f64::from(u32::try_from(case.chunk_rows * 2).expect("rows"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let read = loop {
            let scrape = http_get(d.port, "/metrics").await.map(|(_, body)| body);
            let read = scrape
                .as_deref()
                .and_then(|s| metric(s, "binlog_relay_bootstrap_rows_read"))
                .unwrap_or(0.0);
            if read >= target || std::time::Instant::now() > deadline {
                break read;
            }
            // Keep the queue short meanwhile.
            received.extend(d.queue.take(500).await);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        };
        assert!(
            read >= target,
            "the bootstrap read {read} rows by kill {kills}; the test needs it to last through {} kills\n{logs}",
            case.kills
        );
        signal(&child, "KILL");
        let out = output_within(child, std::time::Duration::from_secs(30)).await;
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
        kills += 1;
        killed_at = read;
        child = d.start(&env).await;
    }

    // Until the bootstrap completes, then a little longer with the writer still going.
    drain_until(&d.queue, &mut received, 120, |m: &Received| {
        is_kind(m, "bootstrap-complete")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ops = writer.await.expect("writer");
    // A last row marks the end of what the writer wrote.
    db.exec(&["INSERT INTO {db}.other (v) VALUES (-1)"]).await;
    drain_until(&d.queue, &mut received, 60, |m: &Received| {
        m.body.contains(r#""table":"other""#) && m.body.contains(r#""v":-1"#)
    })
    .await;
    logs.push_str(&stop_daemon(child).await);

    let kinds = |kind: &str| received.iter().filter(|m| is_kind(m, kind)).count();
    // A run resumed after a kill (or after a lost connection, on a loaded machine) goes on
    // from the last confirmed chunk: no second bootstrap-start.
    let resumed = log_count(&logs, "resuming from the last confirmed checkpoint");
    let resumes = log_count(&logs, "bootstrap resuming after its last confirmed chunk");
    assert!(
        resumes >= kills,
        "{resumes} resumed bootstraps after {kills} kills\n{logs}"
    );
    let starts = kinds("bootstrap-start");
    assert_eq!(starts, 1, "{starts} bootstrap-starts\n{logs}");
    // A kill after the bootstrap-complete went out and before it was saved repeats it.
    let completes = kinds("bootstrap-complete");
    assert!(
        (1..=1 + kills).contains(&completes),
        "{completes} bootstrap-completes\n{logs}"
    );
    let inserts = kinds("bootstrap-insert");
    let limit = usize::try_from(rows).expect("rows") * 3 / 2;
    assert!(
        inserts < limit,
        "{inserts} bootstrap-inserts for {rows} rows: a restart must go on from the last confirmed chunk"
    );
    let start_at = received
        .iter()
        .position(|m| is_kind(m, "bootstrap-start"))
        .expect("start");
    let complete_at = received
        .iter()
        .position(|m| is_kind(m, "bootstrap-complete"))
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
        .find(|m| is_kind(m, "bootstrap-insert"))
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
    let table = mixed_table(&db).await;
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
        "bootstrap under writes: {} rows in the table, {inserts} bootstrap-inserts, {kills} kills ({resumed} runs resumed after a lost connection), {ops} writer statements, {} messages in all, {others_during} of other during the bootstrap",
        table.len(),
        received.len()
    );
    d.clean_up(db).await;
}

/// How many times a log says `what`.
fn log_count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

/// 50,000 rows of mixed types under random writes end exact at an in-order consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_bootstrapped_under_writes_ends_exact_at_an_in_order_consumer() {
    let _shared = SERVER_SETTINGS.read().await;
    bootstrap_under_writes(UnderWrites {
        name: "boot_exact",
        rows: 50_000,
        kills: 0,
        chunk_rows: 5_000,
        pause_ms: 0,
    })
    .await;
}

/// The same with the daemon killed five times during the bootstrap: still exact, and each
/// restart goes on from the last confirmed chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_killed_five_times_goes_on_from_its_last_confirmed_chunk() {
    let _shared = SERVER_SETTINGS.read().await;
    bootstrap_under_writes(UnderWrites {
        name: "boot_kills",
        rows: 50_000,
        kills: 5,
        chunk_rows: 1_000,
        pause_ms: 100,
    })
    .await;
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
    let d = BootDaemon::new(&db).await;
    let schema_db = &d.schema_db;
    let start = db.position().await;
    let rules = format!("blacklist: {schema_db}.*");
    let env = d.env(&[
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__FILTER__RULES", rules.as_str()),
    ]);
    let child = d.start(&env).await;
    // First a request for a table that does not exist, written as maxwell-bootstrap's SQL
    // would be (the command itself refuses it), then a good one.
    let (code, out) = relay_command(&d.path, &["bootstrap", "--status"], &env[..1]).await;
    assert_eq!(code, 0, "{out}");
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{schema_db}`"))
            .await
            .expect("schema database");
    }
    let (code, out) = relay_command(
        &d.path,
        &["bootstrap", &format!("{}.t", db.name)],
        &env[..1],
    )
    .await;
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
        &d.path,
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
    drain_until(&d.queue, &mut received, 60, |m: &Received| {
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

/// Tables without a primary key bootstrap: one with a unique key of NOT NULL columns walks
/// and merges by it (exact under writes, like a primary key), and one with no key at all is
/// read in one streamed pass (every row once when nothing writes to it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_without_a_primary_key_bootstrap_by_a_unique_key_or_in_one_pass() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    const ROWS: i64 = 20_000;
    let db = TestDb::create(
        "boot_nokey",
        &[
            "CREATE TABLE {db}.u (code VARCHAR(20) NOT NULL, v INT, note VARCHAR(20), UNIQUE KEY (code), KEY (v))",
            "CREATE TABLE {db}.k (a INT, b VARCHAR(10))",
            "INSERT INTO {db}.k VALUES (1, 'x'), (1, 'x'), (2, NULL), (NULL, 'y')",
        ],
    )
    .await;
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        let values: Vec<String> = (1..=ROWS)
            .map(|i| format!("('c{i:05}', {i}, 'row')"))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO {}.u VALUES {}",
            db.name,
            values.join(",")
        ))
        .await
        .expect("load");
    }
    let d = BootDaemon::new(&db).await;
    let start = db.position().await;
    let env = d.env(&[
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__BOOTSTRAP__CHUNK_ROWS", "5000"),
        ("BINLOG_RELAY__BOOTSTRAP__PAUSE_MS", "20"),
    ]);
    let child = d.start(&env).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, pool, name) = (stop.clone(), mysql(), db.name.clone());
        tokio::spawn(async move {
            let mut conn = pool.get_conn().await.expect("writer connection");
            let mut rng = fastrand::Rng::with_seed(7);
            let mut ops = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let code = format!("c{:05}", rng.i64(1..=ROWS + 100));
                let sql = match rng.u8(0..3) {
                    0 => format!(
                        "UPDATE {name}.u SET v = v + 1, note = 'upd {ops}' WHERE code = '{code}'"
                    ),
                    1 => format!("DELETE FROM {name}.u WHERE code = '{code}'"),
                    _ => format!(
                        "INSERT INTO {name}.u VALUES ('{code}', {ops}, 'new') ON DUPLICATE KEY UPDATE note = 'dup {ops}'"
                    ),
                };
                conn.query_drop(sql).await.expect("write");
                ops += 1;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        })
    };
    for table in ["u", "k"] {
        let (code, out) = relay_command(
            &d.path,
            &["bootstrap", &format!("{}.{table}", db.name)],
            &env[..1],
        )
        .await;
        assert_eq!(code, 0, "{out}");
    }
    let is = |m: &Received, kind: &str, table: &str| {
        m.body.contains(&format!(r#""type":"{kind}""#))
            && m.body.contains(&format!(r#""table":"{table}""#))
    };
    let mut received = Vec::new();
    drain_until(&d.queue, &mut received, 120, |m: &Received| {
        is(m, "bootstrap-complete", "k")
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.expect("writer");
    db.exec(&["INSERT INTO {db}.k VALUES (-1, 'end')"]).await;
    drain_until(&d.queue, &mut received, 60, |m: &Received| {
        m.body.contains(r#""type":"insert""#) && m.body.contains(r#""b":"end""#)
    })
    .await;
    let log = stop_daemon(child).await;
    assert!(
        received.iter().any(|m| is(m, "bootstrap-complete", "u")),
        "u completes\n{log}"
    );

    // u: applied in order by its unique key, the consumer has exactly the table.
    let mut model = std::collections::BTreeMap::new();
    for m in &received {
        let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
        if v["table"] != "u" {
            continue;
        }
        // bootstrap-start and -complete have no row.
        let Some(code) = v["data"]["code"].as_str().map(str::to_owned) else {
            continue;
        };
        match v["type"].as_str() {
            Some("insert" | "update" | "bootstrap-insert") => {
                model.insert(code, v["data"].clone());
            }
            Some("delete") => {
                model.remove(&code);
            }
            _ => {}
        }
    }
    let mut conn = db.pool.get_conn().await.expect("connection");
    let rows: Vec<(String, i64, String)> = conn
        .query(format!("SELECT code, v, note FROM {}.u", db.name))
        .await
        .expect("u");
    let table: std::collections::BTreeMap<String, serde_json::Value> = rows
        .into_iter()
        .map(|(code, v, note)| {
            (
                code.clone(),
                serde_json::json!({"code": code, "v": v, "note": note}),
            )
        })
        .collect();
    assert!(
        table == model,
        "the consumer's copy of u differs from the table\n{log}"
    );

    // k: every row once, duplicates and NULLs included.
    let mut bootstrapped: Vec<String> = received
        .iter()
        .filter(|m| is(m, "bootstrap-insert", "k"))
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
            v["data"].to_string()
        })
        .collect();
    bootstrapped.sort();
    assert_eq!(
        bootstrapped,
        [
            r#"{"a":1,"b":"x"}"#,
            r#"{"a":1,"b":"x"}"#,
            r#"{"a":2,"b":null}"#,
            r#"{"a":null,"b":"y"}"#,
        ],
        "{log}"
    );
    drop(conn);
    d.clean_up(db).await;
}

/// `bootstrap.initial`: a first start (no checkpoint) asks for a bootstrap of every table
/// the filter passes, then streams; a later start asks for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_with_initial_bootstraps_every_table_the_filter_passes() {
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "boot_initial",
        &[
            "CREATE TABLE {db}.a (id INT PRIMARY KEY, v VARCHAR(10))",
            "CREATE TABLE {db}.b (id INT PRIMARY KEY)",
            "CREATE TABLE {db}.skipped (id INT PRIMARY KEY)",
            "INSERT INTO {db}.a VALUES (1, 'one'), (2, 'two')",
            "INSERT INTO {db}.b VALUES (10), (20), (30)",
            "INSERT INTO {db}.skipped VALUES (5)",
        ],
    )
    .await;
    let d = BootDaemon::new(&db).await;
    let rules = format!(
        "exclude: *.*, include: {0}.*, exclude: {0}.skipped",
        db.name
    );
    let env = d.env(&[
        ("BINLOG_RELAY__FILTER__RULES", rules.as_str()),
        ("BINLOG_RELAY__BOOTSTRAP__INITIAL", "true"),
    ]);
    let child = d.start(&env).await;
    let complete = |m: &Received, table: &str| {
        m.body.contains(r#""type":"bootstrap-complete""#)
            && m.body.contains(&format!(r#""table":"{table}""#))
    };
    let mut received = Vec::new();
    drain_until(&d.queue, &mut received, 60, |m: &Received| complete(m, "b")).await;
    db.exec(&["INSERT INTO {db}.a VALUES (3, 'three')"]).await;
    drain_until(&d.queue, &mut received, 30, |m: &Received| {
        m.body.contains(r#""type":"insert""#) && m.body.contains(r#""v":"three""#)
    })
    .await;
    let log = stop_daemon(child).await;
    let data = |kind: &str, table: &str| -> Vec<String> {
        let mut out: Vec<String> = received
            .iter()
            .filter(|m| {
                m.body.contains(&format!(r#""type":"{kind}""#))
                    && m.body.contains(&format!(r#""table":"{table}""#))
            })
            .map(|m| {
                let v: serde_json::Value = serde_json::from_str(&m.body).expect("JSON");
                v["data"].to_string()
            })
            .collect();
        out.sort();
        out
    };
    assert_eq!(
        data("bootstrap-insert", "a"),
        [r#"{"id":1,"v":"one"}"#, r#"{"id":2,"v":"two"}"#],
        "{log}"
    );
    assert_eq!(
        data("bootstrap-insert", "b"),
        [r#"{"id":10}"#, r#"{"id":20}"#, r#"{"id":30}"#],
        "{log}"
    );
    assert!(data("bootstrap-insert", "skipped").is_empty(), "{log}");
    assert_eq!(data("insert", "a"), [r#"{"id":3,"v":"three"}"#], "{log}");
    assert!(
        log.contains("initial snapshot requested") && log.contains("requested=2"),
        "{log}"
    );

    // A second start has a checkpoint: nothing more is asked for.
    let child = d.start(&env).await;
    let log = stop_daemon(child).await;
    assert!(!log.contains("initial snapshot requested"), "{log}");
    d.clean_up(db).await;
}

/// The way back after a purged binlog: `positions set --bootstrap` moves the checkpoint
/// and asks for a bootstrap of every table the filter passes, which the daemon then runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_set_with_bootstrap_asks_for_every_table_the_filter_passes() {
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "boot_reset",
        &[
            "CREATE TABLE {db}.t (id INT PRIMARY KEY)",
            "CREATE TABLE {db}.skipped (id INT PRIMARY KEY)",
            "INSERT INTO {db}.t VALUES (1), (2)",
            "INSERT INTO {db}.skipped VALUES (3)",
        ],
    )
    .await;
    let d = BootDaemon::new(&db).await;
    let rules = format!(
        "exclude: *.*, include: {0}.*, exclude: {0}.skipped",
        db.name
    );
    let env = d.env(&[("BINLOG_RELAY__FILTER__RULES", rules.as_str())]);
    let position = db.position().await;
    let (code, out) = relay_command(
        &d.path,
        &["positions", "set", &position, "--bootstrap"],
        &env[..2],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("bootstrap requested for 1 of the 1 tables"),
        "{out}"
    );
    let child = d.start(&env).await;
    let mut received = Vec::new();
    drain_until(&d.queue, &mut received, 60, |m: &Received| {
        m.body.contains(r#""type":"bootstrap-complete""#)
    })
    .await;
    let log = stop_daemon(child).await;
    let rows: Vec<&str> = received
        .iter()
        .filter(|m| m.body.contains(r#""type":"bootstrap-insert""#))
        .map(|m| m.body.as_str())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}\n{log}");
    assert!(
        rows.iter().all(|r| r.contains(r#""table":"t""#)),
        "{rows:?}"
    );
    d.clean_up(db).await;
}

/// A column added while a table is bootstrapped: the chunks read after it carry the new
/// column (the plan is read again at every low mark), no chunk goes back to the old shape,
/// and every row is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_during_a_bootstrap_appears_in_the_chunks_after_it() {
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    const ROWS: i64 = 10_000;
    let db = TestDb::create(
        "boot_ddl",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT)"],
    )
    .await;
    {
        let mut conn = db.pool.get_conn().await.expect("connection");
        let values: Vec<String> = (1..=ROWS).map(|i| format!("({i}, {i})")).collect();
        conn.query_drop(format!(
            "INSERT INTO {}.t VALUES {}",
            db.name,
            values.join(",")
        ))
        .await
        .expect("load");
    }
    let d = BootDaemon::new(&db).await;
    let start = db.position().await;
    let env = d.env(&[
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__BOOTSTRAP__CHUNK_ROWS", "500"),
        // 20 chunks, 300 ms apart: the ALTER, sent once 4 are read, has seconds to land
        // before the last, even on a loaded machine.
        ("BINLOG_RELAY__BOOTSTRAP__PAUSE_MS", "300"),
    ]);
    let child = d.start(&env).await;
    let (code, out) = relay_command(
        &d.path,
        &["bootstrap", &format!("{}.t", db.name)],
        &env[..1],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    // Once a few chunks are read (the daemon's metrics say), the column comes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let scrape = http_get(d.port, "/metrics").await.map(|(_, body)| body);
        let read = scrape
            .as_deref()
            .and_then(|s| metric(s, "binlog_relay_bootstrap_rows_read"))
            .unwrap_or(0.0);
        if read >= 2_000.0 {
            assert!(read < 8_000.0, "the ALTER must land inside the bootstrap");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bootstrap did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    db.exec(&["ALTER TABLE {db}.t ADD COLUMN z INT NOT NULL DEFAULT 7"])
        .await;
    let mut received = Vec::new();
    drain_until(&d.queue, &mut received, 120, |m: &Received| {
        m.body.contains(r#""type":"bootstrap-complete""#)
    })
    .await;
    let log = stop_daemon(child).await;
    let rows: Vec<serde_json::Value> = received
        .iter()
        .filter(|m| m.body.contains(r#""type":"bootstrap-insert""#))
        .map(|m| serde_json::from_str::<serde_json::Value>(&m.body).expect("JSON")["data"].clone())
        .collect();
    let ids: std::collections::BTreeSet<i64> =
        rows.iter().filter_map(|d| d["id"].as_i64()).collect();
    assert_eq!(
        ids.len(),
        usize::try_from(ROWS).expect("rows"),
        "every row\n{log}"
    );
    let first_new = rows
        .iter()
        .position(|d| d.get("z").is_some())
        .unwrap_or_else(|| panic!("no chunk after the ALTER has the column\n{log}"));
    assert!(first_new > 0, "the ALTER came after the first chunks");
    assert!(
        rows[first_new..].iter().all(|d| d["z"] == 7),
        "a chunk after the ALTER went back to the old shape\n{log}"
    );
    d.clean_up(db).await;
}

/// The `bootstrap-insert` messages of `db`.`table` read in chunks of `chunk_rows`, with
/// the number of chunks read, rendered as the daemon renders them.
async fn bootstrap_messages(db: &TestDb, table: &str, chunk_rows: usize) -> (Vec<String>, usize) {
    use mysql_async::prelude::Queryable;
    let mut conn = db.pool.get_conn().await.expect("connection");
    // The reading session's own settings must not matter: the chunk query sets its own.
    conn.query_drop("SET time_zone = '-07:00', NAMES latin1")
        .await
        .expect("session");
    snapshot::prepare_session(&mut conn).await.expect("session");
    let plan = TablePlan::load(&mut conn, &db.name, table, None)
        .await
        .expect("plan");
    let options = Arc::new(OutputOptions::default());
    let mut renderer = RowRenderer::new(options.clone());
    let mut messages = Vec::new();
    let mut after: Option<Vec<mysql_common::Value>> = None;
    let mut chunks = 0;
    loop {
        let chunk =
            snapshot::read_chunk(&mut conn, &plan, after.as_deref(), chunk_rows, usize::MAX)
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
    (messages, chunks)
}

/// MariaDB's JSON (LONGTEXT with a `json_valid` check) is embedded in a `bootstrap-insert`
/// as the binlog path embeds it (`tests/live/types.rs`), and other text stays a string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_json_is_embedded_in_a_bootstrap_insert() {
    let _shared = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "boot_mjson",
        &[
            "CREATE TABLE {db}.t (id INT PRIMARY KEY, j JSON, \
             k LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (json_valid(`k`)), \
             t LONGTEXT)",
            r#"INSERT INTO {db}.t VALUES (1, '{"b": [1, 2.50], "a": {"x": null}}', '"s"', '[1]'), (2, NULL, NULL, '{}')"#,
        ],
    )
    .await;
    let (messages, _) = bootstrap_messages(&db, "t", 10).await;
    let data: Vec<&str> = messages
        .iter()
        .map(|m| &m[m.find(r#""data":"#).expect("data")..])
        .collect();
    assert_eq!(
        data,
        [
            r#""data":{"id":1,"j":{"b": [1, 2.50], "a": {"x": null}},"k":"s","t":"[1]"}}"#,
            r#""data":{"id":2,"j":null,"k":null,"t":"{}"}}"#,
        ]
    );
    db.drop_database().await;
}
