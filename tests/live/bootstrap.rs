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

/// Runs `binlog-relay ARGS --config PATH` with extra environment: exit code and output.
async fn relay(path: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let path = path.to_string_lossy();
    let mut all = args.to_vec();
    all.extend(["--config", path.as_ref()]);
    let out = output_within(spawn_command(&all, env), std::time::Duration::from_secs(60)).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
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

    let (code, out) = relay(&config, &["bootstrap", "--status"], &env).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("no bootstrap requests for client_id maxwell"),
        "{out}"
    );

    let target = format!("{}.t", db.name);
    let (code, out) = relay(
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

    let (code, out) = relay(&config, &["bootstrap", "--status"], &env).await;
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
        let (code, out) = relay(&config, &args, &env).await;
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
