//! Column masking on a live stream: no masked value ever appears in clear, in `data`,
//! `old`, `primary_key` or the statement text, and hashes are the keyed HMAC of the value,
//! the same in every run.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::support::*;

const KEY: &str = "test-key-0123456789abcdef-0123456789";

/// What the daemon must write for a hashed value: HMAC-SHA256 of its JSON text, in hex.
fn expected_hash(json_value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).expect("key");
    mac.update(json_value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn run_masked(db: &TestDb, start: &str) -> (Vec<serde_json::Value>, String) {
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let mut config = DaemonConfig::new(&queue.exchange);
    config.rabbitmq_extra = format!(
        r#"
[output]
primary_keys = true
row_query = true

[masking]
hash_key_env = "TEST_MASK_KEY"

[[masking.rules]]
tables = "{db}.person"
hash = ["nhs", "email"]
redact = ["name"]
null = ["dob"]
drop = ["notes"]

# A misspelt column: a warning at start-up, and nothing else changes.
[[masking.rules]]
tables = "{db}.person"
null = ["grade_typo"]
"#,
        db = db.name
    );
    let done = run_to_now(
        &config.write(),
        &[
            ("BINLOG_RELAY__SOURCE__START", start),
            ("TEST_MASK_KEY", KEY),
        ],
    )
    .await;
    let messages = queue
        .take_at_least(3, Duration::from_secs(10))
        .await
        .iter()
        .map(|m| serde_json::from_str(&m.body).expect("json"))
        .collect();
    (messages, done.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_columns_never_appear_in_clear_and_hashes_are_stable() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "masking",
        &[
            "CREATE TABLE {db}.person (nhs VARCHAR(10) PRIMARY KEY, name VARCHAR(40), \
           email VARCHAR(60), dob DATE, notes TEXT, grade INT)",
        ],
    )
    .await;
    let start = db.position().await;
    db.exec(&[
        "INSERT INTO {db}.person VALUES ('9434765919', 'Ada Lovelace', 'ada@example.org', \
         '1990-01-02', 'private note', 1)",
        "UPDATE {db}.person SET name = 'Ada King', email = 'ada@example.net', \
         notes = 'another note', grade = 2 WHERE nhs = '9434765919'",
        "DELETE FROM {db}.person WHERE nhs = '9434765919'",
    ])
    .await;

    let (first, log) = run_masked(&db, &start).await;
    let (second, _) = run_masked(&db, &start).await;
    assert!(
        log.contains("names column \"grade_typo\", which none of its 1 table(s) has"),
        "{log}"
    );
    assert_eq!(first.len(), 3);
    let clear = [
        "9434765919",
        "Ada",
        "Lovelace",
        "King",
        "ada@example",
        "1990-01-02",
        "private note",
        "another note",
    ];
    for message in &first {
        let text = message.to_string();
        for value in clear {
            assert!(!text.contains(value), "{value} in clear: {text}");
        }
        assert!(
            message.get("query").is_none(),
            "statement text sent: {text}"
        );
    }
    let nhs = format!("\"{}\"", expected_hash("\"9434765919\""));
    let (insert, update, delete) = (&first[0], &first[1], &first[2]);
    assert_eq!(insert["data"]["nhs"].to_string(), nhs);
    assert_eq!(
        insert["data"]["email"].as_str(),
        Some(expected_hash("\"ada@example.org\"").as_str())
    );
    assert_eq!(insert["data"]["name"], "[redacted]");
    assert_eq!(insert["data"]["dob"], serde_json::Value::Null);
    assert!(insert["data"].get("notes").is_none());
    assert_eq!(insert["data"]["grade"], 1);
    assert_eq!(insert["primary_key"].to_string(), format!("[{nhs}]"));
    // The update's old image: the email changed (its hash did), the redacted name did not
    // visibly change, the dropped notes are absent.
    assert_eq!(
        update["old"]["email"].as_str(),
        Some(expected_hash("\"ada@example.org\"").as_str())
    );
    assert_eq!(
        update["data"]["email"].as_str(),
        Some(expected_hash("\"ada@example.net\"").as_str())
    );
    assert_eq!(update["old"]["grade"], 1);
    assert!(update["old"].get("name").is_none());
    assert!(update["old"].get("notes").is_none());
    assert_eq!(delete["data"]["nhs"].to_string(), nhs);
    // Another run, another daemon: the same hashes.
    assert_eq!(first, second);
    db.drop_database().await;
}
