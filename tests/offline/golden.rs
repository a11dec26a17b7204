//! The golden sweep: every permissively licensed binlog of the shared fixture collection
//! (MySQL 5.1–9.0, Percona, MariaDB 10.0–11.8) replayed through the reader.
//!
//! Each file either decodes without error into exactly as many messages as `mariadb-binlog
//! -vv` reports row images (`Rows`, an independent decoder as the oracle), or fails with the
//! precise error it should (`Fails`): an ENUM whose labels the binlog does not carry, MySQL
//! partial JSON updates logged with MINIMAL before images, a VECTOR column. `Decodes` marks files no other tool here can read
//! (MySQL 8 compressed transactions, tagged GTIDs, JSON); their values are asserted in
//! `fixtures.rs` where the source gives them. Column names are positional (`@1`, ...): names
//! are not under test here.

use std::path::Path;

use binlog_relay::format::OutputOptions;
use binlog_relay::pipeline::replay::replay_file;
use binlog_relay::position::FIRST_EVENT_OFFSET;
use binlog_relay::schema::PositionalNames;
use binlog_relay::sink::memory::MemorySink;

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Decodes without error into this many messages, the row images `mariadb-binlog -vv`
    /// counts.
    Rows(usize),
    /// Decodes without error into this many messages (no other decoder here reads it).
    Decodes(usize),
    /// Fails with an error containing this text.
    Fails(&'static str),
}
use Expect::*;

const GOLDEN: &[(&str, Expect)] = &[
    ("MySqlCdc/mysql-bin.000001", Fails("enum whose labels")),
    (
        "apecloud-mysql-binlog-connector-rust/mysql-bin.000057",
        Fails("enum whose labels"),
    ),
    (
        "apecloud-mysql-binlog-connector-rust/mysql-bin.000080",
        Rows(7),
    ),
    ("binlog-relay/pipeline.000001", Rows(2019)),
    ("canal/mysql-bin.000001", Rows(95)),
    ("canal/mysql-bin.000002", Rows(1)),
    ("canal/tsdb/mysql-bin.000002", Rows(1)),
    ("canal/tsdb/mysql-bin.000003", Rows(21)),
    ("go-mysql/tcb-eval002c-bin.003320", Rows(17)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000001", Rows(0)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000004", Rows(0)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000005", Rows(0)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000006", Rows(0)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000007", Rows(0)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000009", Rows(0)),
    ("mariadb-poc/domain_id_0/mariadb-repl-bin.000010", Rows(0)),
    ("mariadb-poc/domain_id_1/mariadb-repl-bin.000001", Rows(0)),
    ("mariadb-poc/domain_id_1/mariadb-repl-bin.000002", Rows(0)),
    ("maxwell/binlog.000004", Rows(28)),
    (
        "mysql-binlog-connector-java/mysql-bin.aurora-padding",
        Rows(0),
    ),
    (
        "mysql-binlog-connector-java/mysql-bin.checksum-crc32",
        Rows(63),
    ),
    (
        "mysql-binlog-connector-java/mysql-bin.checksum-none",
        Rows(36),
    ),
    (
        "mysql-binlog-connector-java/mysql-bin.compressed",
        Decodes(1),
    ),
    ("mysql-cdc-rs/5.7/02_query/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/03_stop/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/04_rotate/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/05_intvar/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/13_rand/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/14_user_var/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/15_format_desc/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/16_xid/log.bin", Rows(1)),
    ("mysql-cdc-rs/5.7/17_18_load/log.bin", Rows(0)),
    ("mysql-cdc-rs/5.7/19_table_map/log.bin", Rows(1)),
    ("mysql-cdc-rs/5.7/29_row_query/log.bin", Rows(1)),
    ("mysql-cdc-rs/5.7/30_write_rows_v2/log.bin", Rows(1)),
    ("mysql-cdc-rs/5.7/31_update_rows_v2/log.bin", Rows(1)),
    ("mysql-cdc-rs/5.7/32_delete_rows_v2/log.bin", Rows(2)),
    ("mysql-cdc-rs/5.7/33_35_gtid_prev_gtid/log.bin", Rows(1)),
    ("mysql-cdc-rs/5.7/34_anonymous_gtid/log.bin", Rows(1)),
    ("mysql-cdc-rs/8.0/02_query/binlog.000001", Rows(0)),
    ("mysql-cdc-rs/8.0/02_query_bigger/binlog.000733", Rows(14)),
    (
        "mysql-cdc-rs/8.0/19_30_Table_map_event_Write_rows_log_event/binlog.000018",
        Rows(1),
    ),
    ("mysql-cdc-rs/8.0/31_update_rows_v2/binlog.000001", Rows(2)),
    ("mysql-cdc-rs/8.0/32_delete_rows_v2/binlog.000001", Rows(3)),
    ("rust-mysql-binlog/bin-log.000001", Rows(2)),
    ("rust_mysql_common/binlog-invisible-columns.000001", Rows(3)),
    (
        "rust_mysql_common/binlog_transaction_previous_GTID_no_tag.000001",
        Rows(0),
    ),
    (
        "rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
        Decodes(1),
    ),
    ("rust_mysql_common/json-opaque.binlog", Decodes(8)),
    (
        "rust_mysql_common/json.binlog.000001",
        Fails(
            "column `@2` of `mysql`.`t` has a partial JSON update but the before image does not hold",
        ),
    ),
    ("rust_mysql_common/mariadb-bin.000001", Rows(2)),
    ("rust_mysql_common/minimal_row_metadata.000001", Rows(1)),
    ("rust_mysql_common/mysql-enum-string-set.000001", Rows(3)),
    ("rust_mysql_common/mysql_type_bit.000001", Rows(1)),
    ("rust_mysql_common/time_issue.000001", Rows(1)),
    (
        "rust_mysql_common/transaction_compression.000001",
        Decodes(1),
    ),
    ("rust_mysql_common/vector.binlog", Fails("binlog type 242")),
    ("tiflow/mysql-bin.000001", Fails("enum whose labels")),
    ("ybinlogp/mysql-bin.default-path", Rows(0)),
    ("ybinlogp/mysql-bin.delayed-event", Rows(0)),
    ("zalora-binlog-parser/fixtures/mysql-bin.01", Rows(10)),
    ("zalora-binlog-parser/fixtures/mysql-bin.02", Rows(1)),
    ("zalora-binlog-parser/fixtures/mysql-bin.03", Rows(7)),
    ("zalora-binlog-parser/fixtures/mysql-bin.05", Rows(0)),
    ("zalora-binlog-parser/fixtures/mysql-bin.06", Rows(2)),
    ("zalora-binlog-parser/fixtures/mysql-bin.07", Rows(2)),
    ("zalora-binlog-parser/fixtures/mysql-bin.empty", Rows(0)),
    ("zalora-binlog-parser/gtid-fixtures/mysql-bin.01", Rows(10)),
];

/// Replays one file; the number of messages (each checked against the message contract), or the first error
/// as text.
async fn replay(path: &Path) -> Result<usize, String> {
    let sink = MemorySink::new();
    replay_file(
        path,
        FIRST_EVENT_OFFSET,
        PositionalNames,
        OutputOptions::default(),
        sink.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let messages = sink.recorded();
    for m in &messages {
        let body = String::from_utf8_lossy(&m.body);
        let wrong = crate::contract::violations(&body);
        if !wrong.is_empty() {
            return Err(format!("message breaks the contract ({wrong:?}): {body}"));
        }
    }
    Ok(messages.len())
}

#[tokio::test]
async fn every_fixture_binlog_decodes_or_fails_precisely() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/binlog");
    let mut wrong = Vec::new();
    for (file, expect) in GOLDEN {
        let got = replay(&root.join(file)).await;
        let ok = match (expect, &got) {
            (Rows(n) | Decodes(n), Ok(m)) => n == m,
            (Fails(text), Err(e)) => e.contains(text),
            _ => false,
        };
        if !ok {
            wrong.push(format!("{file}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} files wrong:\n{}",
        wrong.len(),
        GOLDEN.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_sweep_covers_every_copied_fixture() {
    // A file copied into tests/fixtures without a golden entry would go unchecked.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/binlog");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("md" | "sql" | "txt" | "jsonl" | "py" | "sh")
            ) {
                files.push(
                    path.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let listed: Vec<&str> = GOLDEN.iter().map(|(f, _)| *f).collect();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !listed.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "fixtures without a golden entry: {missing:?}"
    );
}
