//! Bootstrap's MySQL JSON: the text a SELECT returns, written back in MySQL's binary form,
//! renders as the binlog's own binary form does.
//!
//! The oracle is MySQL itself: every JSON document in the fixture binlogs MySQL wrote
//! (rendered by the one renderer from MySQL's bytes) is written back from its text by
//! `source::snapshot::jsonb` and rendered again; the two must be the same JSON, value for
//! value and type for type (an integer stays an integer, a double a double).

use std::path::Path;

use binlog_relay::format::OutputOptions;
use binlog_relay::format::mysql_json::write_mysql_json;
use binlog_relay::pipeline::replay::replay_file;
use binlog_relay::position::FIRST_EVENT_OFFSET;
use binlog_relay::schema::PositionalNames;
use binlog_relay::sink::memory::MemorySink;
use binlog_relay::source::snapshot::jsonb::encode;

/// Text → binary → text.
fn round_trip(text: &str) -> String {
    let doc = encode(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
    let mut out = Vec::new();
    write_mysql_json(&mut out, &doc).unwrap_or_else(|e| panic!("{text}: {e}"));
    String::from_utf8(out).expect("UTF-8")
}

#[tokio::test]
async fn every_json_document_of_mysqls_fixture_binlogs_reads_the_same_from_its_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/binlog");
    let mut documents = 0;
    // json.binlog.000001 stops at a partial JSON update it cannot apply (golden.rs); the
    // documents before it count.
    for (file, whole) in [
        ("rust_mysql_common/json-opaque.binlog", true),
        ("rust_mysql_common/json.binlog.000001", false),
    ] {
        let sink = MemorySink::new();
        let replayed = replay_file(
            &root.join(file),
            FIRST_EVENT_OFFSET,
            PositionalNames,
            OutputOptions::default(),
            sink.clone(),
        )
        .await;
        assert!(replayed.is_ok() || !whole, "{file}: {replayed:?}");
        for m in sink.recorded() {
            let message: serde_json::Value = serde_json::from_slice(&m.body).expect("JSON");
            let Some(data) = message["data"].as_object() else {
                continue;
            };
            // Objects and arrays come only from JSON columns.
            for value in data.values().filter(|v| v.is_object() || v.is_array()) {
                let text = serde_json::to_string(value).expect("text");
                let again: serde_json::Value =
                    serde_json::from_str(&round_trip(&text)).expect("JSON");
                assert_eq!(&again, value, "{file}: {text}");
                documents += 1;
            }
        }
    }
    assert!(documents >= 3, "only {documents} documents in the fixtures");
    eprintln!("{documents} JSON documents read back the same");
}

#[test]
fn texts_as_mysql_prints_them_read_back_exactly() {
    for (text, rendered) in [
        (
            r#"{"b": 1, "a": [1, 2.5, "x", null, true, false]}"#,
            r#"{"a":[1,2.5,"x",null,true,false],"b":1}"#,
        ),
        (r#"{"long key": {}, "k": []}"#, r#"{"k":[],"long key":{}}"#),
        ("-9223372036854775808", "-9223372036854775808"),
        ("18446744073709551615", "18446744073709551615"),
        ("1e300", "1.0E300"),
        ("0.1", "0.1"),
        (r#""tab\tquote\"é😀""#, r#""tab\tquote\"é😀""#),
        (r#"{"a": 1, "a": 2}"#, r#"{"a":1}"#),
    ] {
        let got = round_trip(text);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&got).expect("JSON"),
            serde_json::from_str::<serde_json::Value>(rendered).expect("JSON"),
            "{text} -> {got}"
        );
    }
    // A document too large for the small format takes the large one, and reads back.
    let big: Vec<String> = (0..20_000).map(|i| format!("\"value {i}\"")).collect();
    let text = format!("[{}]", big.join(","));
    let again: serde_json::Value = serde_json::from_str(&round_trip(&text)).expect("JSON");
    assert_eq!(again.as_array().map(Vec::len), Some(20_000));
    assert_eq!(again[19_999], "value 19999");
}
