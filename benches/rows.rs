//! Decode + encode cost per row: a 10-column mixed row image read from its bytes and
//! rendered as a Maxwell message, the work the reader does for every row.
//!
//! `cargo bench --bench rows`

use std::hint::black_box;

use binlog_relay::decode::{Cell, ColumnType, RowKind, read_image};
use binlog_relay::format::{OutputOptions, RowMeta, TableLayout, TransactionBuffer};
use binlog_relay::position::BinlogPosition;
use binlog_relay::schema::{Charset, Column, Table};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

fn table() -> Table {
    let col = |name: &str, ty, unsigned, charset| Column {
        name: name.into(),
        ty,
        unsigned,
        charset,
        labels: None,
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

fn decode_and_encode(c: &mut Criterion) {
    let options = Arc::new(OutputOptions::default());
    let layout = TableLayout::new(Arc::new(table()), &options);
    let table = &*layout.table;
    let row = row_bytes();
    let position = BinlogPosition::new("mariadb-bin.000001", 4);
    let meta = RowMeta {
        ts: 1_700_000_000,
        position: &position,
        server_id: 1,
        thread_id: None,
        gtid: None,
        query: None,
        schema_id: None,
    };
    let mut group = c.benchmark_group("rows");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("decode+encode 1000 wide inserts", |bench| {
        let mut tx = TransactionBuffer::new(options.clone());
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
        bench.iter(|| {
            for _ in 0..1000 {
                let mut cursor = &row[..];
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

criterion_group!(benches, decode_and_encode);
criterion_main!(benches);
