//! Decode + encode cost per row, so regressions show up per component:
//! - `rows/...`: a 10-column mixed row image read from its bytes (decode), rendered as a
//!   Maxwell message from already decoded cells (encode), and both, the work the reader does
//!   for every row;
//! - `types/...`: the same for a one-column row of each common column type;
//! - `seal/...`: `output.encrypt` on 1000 rendered messages (AES-256-CBC).
//!
//! `cargo bench --bench rows` (add a filter such as `types/decimal` to run one).

use std::hint::black_box;

use binlog_relay::decode::{Cell, RowKind, read_image};
use binlog_relay::format::{OutputOptions, RowMeta, TableLayout, TransactionBuffer};
use binlog_relay::position::BinlogPosition;
use binlog_relay::table::{Charset, Column, ColumnType, Table};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

fn table() -> Table {
    let col = |name: &str, ty, unsigned, charset| Column {
        name: name.into(),
        ty,
        unsigned,
        charset,
        labels: None,
        json_text: false,
    };
    Table {
        database: "bench".into(),
        name: "wide".into(),
        columns: vec![
            col("id", ColumnType::Long, false, Charset::Binary),
            col("a", ColumnType::LongLong, false, Charset::Binary),
            col("b", ColumnType::Long, true, Charset::Binary),
            col(
                "name",
                ColumnType::VarString { prefix: 1 },
                false,
                Charset::Utf8,
            ),
            col(
                "price",
                ColumnType::NewDecimal {
                    precision: 12,
                    scale: 2,
                },
                false,
                Charset::Binary,
            ),
            col("ratio", ColumnType::Double, false, Charset::Binary),
            col(
                "created",
                ColumnType::DateTime2 { fsp: 6 },
                false,
                Charset::Binary,
            ),
            col(
                "updated",
                ColumnType::Timestamp2 { fsp: 3 },
                false,
                Charset::Binary,
            ),
            col("note", ColumnType::Blob { prefix: 2 }, false, Charset::Utf8),
            col("flag", ColumnType::Tiny, false, Charset::Binary),
        ],
        primary_key: vec![0],
    }
}

/// The row image bytes MariaDB writes for one row of `table()`.
fn row_bytes() -> Vec<u8> {
    let mut b = vec![0u8, 0u8]; // null bitmap: nothing null
    b.extend(12345i32.to_le_bytes());
    b.extend(12_345_000_037i64.to_le_bytes());
    b.extend(4_000_000_000u32.to_le_bytes());
    b.push(10);
    b.extend(b"name-12345");
    // DECIMAL(12,2) 1763.57: 10 integer digits (1 word + 1 leftover digit), 2 fraction digits.
    b.extend([0x80, 0x00, 0x00, 0x06, 0xE3, 0x39]);
    b.extend(4115.0f64.to_le_bytes());
    let ym: u64 = 2024 * 13 + 1;
    let dt = 0x80_0000_0000u64 + (((ym << 5) | 2) << 17) + ((3 << 12) | (4 << 6) | 5);
    b.extend(&dt.to_be_bytes()[3..]);
    b.extend(&123_456u32.to_be_bytes()[1..]);
    b.extend(1_704_164_645u32.to_be_bytes());
    b.extend(1230u16.to_be_bytes());
    b.extend(40u16.to_le_bytes());
    b.extend([b'x'; 40]);
    b.push(1);
    b
}

fn meta(position: &BinlogPosition) -> RowMeta<'_> {
    RowMeta {
        ts: 1_700_000_000,
        position,
        server_id: 1,
        thread_id: None,
        gtid: None,
        query: None,
        schema_id: None,
    }
}

/// Benches decode, encode and both for 1000 rows of `table`, each the image `row`.
fn bench_rows(c: &mut Criterion, group_name: &str, label: &str, table: Table, row: &[u8]) {
    let options = Arc::new(OutputOptions::default());
    let layout = TableLayout::new(Arc::new(table), &options);
    let table = &*layout.table;
    let position = BinlogPosition::new("mariadb-bin.000001", 4);
    let meta = meta(&position);
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1000));
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
    group.bench_function(format!("{label}/decode"), |bench| {
        bench.iter(|| {
            for _ in 0..1000 {
                let mut cursor = row;
                cells.clear();
                read_image(table, None, &mut cursor, &mut cells).expect("valid row");
                black_box(&cells);
            }
        })
    });
    let mut decoded: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
    let mut cursor = row;
    read_image(table, None, &mut cursor, &mut decoded).expect("valid row");
    group.bench_function(format!("{label}/encode"), |bench| {
        let mut tx = TransactionBuffer::new(options.clone());
        bench.iter(|| {
            for _ in 0..1000 {
                tx.push_row(&layout, RowKind::Insert, &meta, &[], &decoded)
                    .expect("renders");
            }
            black_box(tx.finish(Some(42)).expect("in memory"));
        })
    });
    group.bench_function(format!("{label}/decode+encode"), |bench| {
        let mut tx = TransactionBuffer::new(options.clone());
        bench.iter(|| {
            for _ in 0..1000 {
                let mut cursor = row;
                cells.clear();
                read_image(table, None, &mut cursor, &mut cells).expect("valid row");
                tx.push_row(&layout, RowKind::Insert, &meta, &[], &cells)
                    .expect("renders");
            }
            black_box(tx.finish(Some(42)).expect("in memory"));
        })
    });
    group.finish();
}

fn wide_row(c: &mut Criterion) {
    bench_rows(c, "rows", "wide 10-column insert", table(), &row_bytes());
}

/// A one-column table of `ty` and the image of one row holding `value` (its binlog bytes).
fn one_column(ty: ColumnType, unsigned: bool, charset: Charset, value: &[u8]) -> (Table, Vec<u8>) {
    let table = Table {
        database: "bench".into(),
        name: "one".into(),
        columns: vec![Column {
            name: "c".into(),
            ty,
            unsigned,
            charset,
            labels: None,
            json_text: false,
        }],
        primary_key: vec![],
    };
    let mut row = vec![0u8]; // null bitmap: not null
    row.extend_from_slice(value);
    (table, row)
}

fn per_type(c: &mut Criterion) {
    let ym: u64 = 2024 * 13 + 1;
    let datetime = 0x80_0000_0000u64 + (((ym << 5) | 2) << 17) + ((3 << 12) | (4 << 6) | 5);
    let mut datetime6 = datetime.to_be_bytes()[3..].to_vec();
    datetime6.extend(&123_456u32.to_be_bytes()[1..]);
    let mut timestamp3 = 1_704_164_645u32.to_be_bytes().to_vec();
    timestamp3.extend(1230u16.to_be_bytes());
    let mut varchar = vec![24u8];
    varchar.extend("Ada Lovelace, née Byron".as_bytes());
    let mut text = 200u16.to_le_bytes().to_vec();
    text.extend([b't'; 200]);
    let mut binary = 16u16.to_le_bytes().to_vec();
    binary.extend([0xDE, 0xAD, 0xBE, 0xEF].repeat(4));
    let cases: Vec<(&str, ColumnType, bool, Charset, Vec<u8>)> = vec![
        (
            "int",
            ColumnType::Long,
            false,
            Charset::Binary,
            12345i32.to_le_bytes().to_vec(),
        ),
        (
            "bigint unsigned",
            ColumnType::LongLong,
            true,
            Charset::Binary,
            u64::MAX.to_le_bytes().to_vec(),
        ),
        (
            "decimal(12,2)",
            ColumnType::NewDecimal {
                precision: 12,
                scale: 2,
            },
            false,
            Charset::Binary,
            vec![0x80, 0x00, 0x00, 0x06, 0xE3, 0x39],
        ),
        (
            "double",
            ColumnType::Double,
            false,
            Charset::Binary,
            4115.25f64.to_le_bytes().to_vec(),
        ),
        (
            "datetime(6)",
            ColumnType::DateTime2 { fsp: 6 },
            false,
            Charset::Binary,
            datetime6,
        ),
        (
            "timestamp(3)",
            ColumnType::Timestamp2 { fsp: 3 },
            false,
            Charset::Binary,
            timestamp3,
        ),
        (
            "varchar utf8",
            ColumnType::VarString { prefix: 1 },
            false,
            Charset::Utf8,
            varchar,
        ),
        (
            "text 200 bytes",
            ColumnType::Blob { prefix: 2 },
            false,
            Charset::Utf8,
            text,
        ),
        (
            "blob (base64)",
            ColumnType::Blob { prefix: 2 },
            false,
            Charset::Binary,
            binary,
        ),
    ];
    for (label, ty, unsigned, charset, value) in cases {
        let (table, row) = one_column(ty, unsigned, charset, &value);
        bench_rows(c, "types", label, table, &row);
    }
}

/// `output.encrypt`: sealing a batch of 1000 rendered wide-row messages, `data` (the data
/// and old members) and `all` (the whole message), on top of the encode above.
fn seal(c: &mut Criterion) {
    use binlog_relay::format::{EncryptMode, Sealer};
    let options = Arc::new(OutputOptions::default());
    let layout = TableLayout::new(Arc::new(table()), &options);
    let position = BinlogPosition::new("mariadb-bin.000001", 4);
    let meta = meta(&position);
    let row = row_bytes();
    let mut cursor = &row[..];
    let mut cells: Vec<Cell<'_>> = Vec::new();
    read_image(&layout.table, None, &mut cursor, &mut cells).expect("valid row");
    let mut tx = TransactionBuffer::new(options.clone());
    for _ in 0..1000 {
        tx.push_row(&layout, RowKind::Insert, &meta, &[], &cells)
            .expect("renders");
    }
    let batch = tx.finish(Some(42)).expect("in memory");
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(1000));
    for (label, mode) in [("data", EncryptMode::Data), ("all", EncryptMode::All)] {
        let sealer = Sealer::new(mode, "0123456789abcdef0123456789abcdef")
            .expect("a 32-byte key")
            .expect("a mode that seals");
        group.bench_function(format!("wide 10-column insert/{label}"), |bench| {
            bench.iter(|| {
                let mut sealed = binlog_relay::format::Batch {
                    body: batch.body.clone(),
                    messages: batch.messages.clone(),
                };
                sealer.seal_batch(&mut sealed).expect("seals");
                black_box(sealed);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, wide_row, per_type, seal);
criterion_main!(benches);
