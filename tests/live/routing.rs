//! Routing: `%type%` in the routing key, and per-table routes to another exchange.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_send_chosen_tables_to_their_exchange_with_typed_keys() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "routing",
        &[
            "CREATE TABLE {db}.main_t (id INT PRIMARY KEY, v INT)",
            "CREATE TABLE {db}.audit_x (id INT PRIMARY KEY)",
        ],
    )
    .await;
    let main = Queue::bind(&format!("{}.#", db.name)).await;
    let audit = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    db.exec(&[
        "INSERT INTO {db}.main_t VALUES (1, 1)",
        "INSERT INTO {db}.audit_x VALUES (7)",
        "UPDATE {db}.main_t SET v = 2",
        "DELETE FROM {db}.audit_x",
    ])
    .await;
    let mut config = DaemonConfig::new(&main.exchange);
    config.rabbitmq_extra = format!(
        "routing_key_template = \"%db%.%table%.%type%\"\n\
         [[sink.rabbitmq.routes]]\ntables = \"{}./^audit_/\"\nexchange = \"{}\"\n",
        db.name, audit.exchange
    );
    run_to_now(
        &config.write(),
        &[("BINLOG_RELAY__SOURCE__START", start.as_str())],
    )
    .await;
    let keys = |got: Vec<Received>| -> Vec<String> {
        got.into_iter()
            .map(|m| m.routing_key.replace(&db.name, "db"))
            .collect()
    };
    let main_keys = keys(main.take_at_least(2, Duration::from_secs(10)).await);
    let audit_keys = keys(audit.take_at_least(2, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(main.drain().await.is_empty() && audit.drain().await.is_empty());
    assert_eq!(main_keys, ["db.main_t.insert", "db.main_t.update"]);
    assert_eq!(audit_keys, ["db.audit_x.insert", "db.audit_x.delete"]);
    db.drop_database().await;
}
