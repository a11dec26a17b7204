//! Damaged binlogs that crashed, hung or exhausted the memory of earlier versions (found by
//! mutating the fixture binlogs; `tests/fixtures/fuzz-crashers/README.md`). Each must now
//! end, quickly, in an error that names the damaged event's position, with no allocation
//! over the test binary's bound (`common/bounded_alloc.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use binlog_relay::format::OutputOptions;
use binlog_relay::pipeline::replay::replay_file;
use binlog_relay::position::FIRST_EVENT_OFFSET;
use binlog_relay::schema::PositionalNames;
use binlog_relay::sink::memory::MemorySink;

fn crasher(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-crashers")
        .join(name)
}

/// Replays `name` within a few seconds: its messages, or the error's text.
async fn replay(name: &str) -> Result<usize, String> {
    let sink = MemorySink::new();
    let path = crasher(name);
    let run = replay_file(
        &path,
        FIRST_EVENT_OFFSET,
        PositionalNames,
        OutputOptions::default(),
        sink.clone(),
    );
    match tokio::time::timeout(Duration::from_secs(10), run).await {
        Ok(Ok(_)) => Ok(sink.recorded().len()),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => panic!("{name}: still running after 10 s"),
    }
}

async fn damaged_at(name: &str, offset: u64, says: &str) {
    let err = replay(name).await.expect_err(name);
    assert!(
        err.contains(&format!("offset {offset}")) || err.contains(&format!(".bin:{offset}")),
        "{name}: the error does not name offset {offset}: {err}"
    );
    assert!(err.contains(says), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
}

#[tokio::test]
async fn a_file_that_ends_inside_its_last_event_says_so() {
    // The last event (a ROTATE) lacks its final byte: a truncated copy, or a size field
    // that claims more than the file holds. Either way the replay must not end as if
    // the file were whole.
    damaged_at(
        "01_eventread_unwrap_truncated.bin",
        1011,
        "the file ends 46 bytes into it",
    )
    .await;
}

#[tokio::test]
async fn an_event_too_short_for_its_checksum_is_damage() {
    damaged_at(
        "02_eventread_checksum_slice.bin",
        980,
        "too short for its 4-byte footer",
    )
    .await;
}

#[tokio::test]
async fn an_event_size_of_four_gigabytes_is_refused_without_allocating_it() {
    damaged_at(
        "03_eventread_huge_alloc.bin",
        934,
        "larger than any server writes",
    )
    .await;
}

#[tokio::test]
async fn rows_whose_images_select_no_column_are_damage_not_an_endless_loop() {
    damaged_at(
        "04_rows_zero_bitmap_infinite_loop.bin",
        934,
        "selects no column",
    )
    .await;
    damaged_at(
        "07_fuzz_m16008_zero_bitmap_hang.bin",
        492,
        "selects no column",
    )
    .await;
}

#[tokio::test]
async fn a_compressed_transaction_with_a_damaged_header_is_damage() {
    damaged_at(
        "05_tpe_skip_slice.bin",
        236,
        "runs past the end of the event",
    )
    .await;
    damaged_at(
        "06_tpe_unknown_compression_unwrap.bin",
        236,
        "TransactionPayloadCompressionType",
    )
    .await;
}

#[tokio::test]
async fn a_compressed_transaction_field_type_past_255_is_damage() {
    // Found by scripts/fuzz.sh once the first eight were fixed.
    damaged_at(
        "09_tpe_field_type_over_255.bin",
        236,
        "runs past the end of the event",
    )
    .await;
    damaged_at(
        "10_tpe_field_length_cut.bin",
        236,
        "field length runs past the end",
    )
    .await;
}

#[tokio::test]
async fn an_event_inside_a_compressed_transaction_with_a_huge_size_is_refused() {
    damaged_at(
        "08_fuzz_payload_inner_event_alloc.bin",
        730,
        "larger than any server writes",
    )
    .await;
}

#[test]
fn the_live_streams_decompression_still_returns_a_real_payload_whole() {
    // mysql_async decompresses with `danger_decompress`, now bounded and exact: a real
    // compressed transaction must come out at its declared size.
    use mysql_common::binlog::BinlogFile;
    use mysql_common::binlog::consts::{BinlogVersion, EventType};
    use mysql_common::binlog::events::TransactionPayloadEvent;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/binlog/mysql-binlog-connector-java/mysql-bin.compressed");
    let file = std::fs::File::open(path).unwrap();
    let events = BinlogFile::new(BinlogVersion::Version4, std::io::BufReader::new(file)).unwrap();
    let mut payloads = 0;
    for event in events {
        let event = event.unwrap();
        if event.header().event_type_raw() == EventType::TRANSACTION_PAYLOAD_EVENT as u8 {
            let payload: TransactionPayloadEvent<'_> = event.read_event().unwrap();
            let declared = payload.uncompressed_size();
            assert!(declared > 0);
            assert_eq!(payload.danger_decompress().len() as u64, declared);
            payloads += 1;
        }
    }
    assert_eq!(payloads, 1);
}
