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
