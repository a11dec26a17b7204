//! The message contract (`contract/message.schema.json`) as the tests hold the daemon to
//! it: every message a live test receives, from RabbitMQ or the stdout sink, and every
//! message the offline fixture replays produce, is validated against the schema, so the
//! contract consumer teams code against cannot drift from what is published.

use std::sync::OnceLock;

/// The compiled schema, read once from the repository.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contract")
            .join("message.schema.json");
        let text = std::fs::read_to_string(&path).expect("contract/message.schema.json");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
        jsonschema::draft202012::new(&schema).expect("a valid JSON Schema")
    })
}

/// What is wrong with `body` by the contract: empty when it conforms.
pub fn violations(body: &str) -> Vec<String> {
    let message: serde_json::Value = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    validator()
        .iter_errors(&message)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panics, naming what is wrong, when `body` does not conform to the contract.
#[track_caller]
pub fn check_message(body: &str) {
    let wrong = violations(body);
    assert!(
        wrong.is_empty(),
        "message does not conform to contract/message.schema.json: {wrong:?}\n{body}"
    );
}
