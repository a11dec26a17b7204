//! The message contract itself: the schema accepts each kind of message the daemon
//! publishes, with every `[output]` option, and refuses messages that break it, so the
//! validation the other tests run cannot pass by accepting anything.

use crate::contract::violations;

const GOOD: &[&str] = &[
    r#"{"database":"shop","table":"orders","type":"insert","ts":1,"xid":7,"xoffset":0,"data":{"id":1,"tags":["a"],"doc":{"k":[1,null]},"note":null}}"#,
    r#"{"database":"shop","table":"orders","query":"UPDATE orders SET total = 2","type":"update","ts":1,"xid":7,"commit":true,"position":"mariadb-bin.000003:1234","gtid":"0-1-5","server_id":1,"thread_id":9,"schema_id":3,"push_ts":1700000000.5,"primary_key":[1],"primary_key_columns":["id"],"data":{"id":1,"total":2},"old":{"total":1}}"#,
    r#"{"database":"shop","table":"orders","type":"update","ts":1,"serverId":1,"pushTs":1.0,"primaryKey":[1],"primaryKeyColumns":["id"],"data":{"id":1}}"#,
    r#"{"database":"shop","table":"orders","type":"delete","ts":1,"gtid":null,"data":{"id":1}}"#,
    r#"{"database":"shop","table":"orders","type":"insert","ts":1,"primary_key":[1],"encrypted":{"iv":"lqiXoTdz6jed3XgJPpa7EQ==","bytes":"1soc4leskiIm6yuT2D49VA=="}}"#,
    r#"{"encrypted":{"iv":"lqiXoTdz6jed3XgJPpa7EQ==","bytes":"1soc4leskiIm6yuT2D49VA=="}}"#,
    r#"{"database":"shop","table":"orders","type":"bootstrap-start","ts":1,"comment":"resync","primary_key":[null],"primary_key_columns":["id"],"data":{}}"#,
    r#"{"database":"shop","table":"orders","type":"bootstrap-insert","ts":1,"schema_id":2,"data":{"id":1}}"#,
    r#"{"database":"shop","table":"orders","type":"bootstrap-complete","ts":1,"data":{}}"#,
    r#"{"type":"database-create","database":"shop","charset":"utf8mb4","ts":1700000000000,"sql":"CREATE DATABASE shop"}"#,
    r#"{"type":"table-create","database":"shop","table":"t","def":{"database":"shop","charset":"utf8mb4","table":"t","columns":[{"type":"int","name":"id","signed":true},{"type":"enum","name":"e","charset":"utf8mb4","enum-values":["a"]},{"type":"datetime","name":"d","column-length":0}],"primary-key":["id"]},"ts":1,"sql":"CREATE TABLE t (...)","position":"b.000001:4","gtid":null,"schema_id":2}"#,
    r#"{"type":"table-alter","database":"shop","table":"t","old":{"database":"shop","table":"t","columns":[],"primary-key":[]},"def":{"database":"shop","table":"u","columns":[],"primary-key":[]},"ts":1,"sql":"RENAME TABLE t TO u"}"#,
    r#"{"type":"table-drop","database":"shop","table":"t","ts":1,"sql":"DROP TABLE t"}"#,
    r#"{"type":"database-drop","database":"shop","ts":1,"sql":"DROP DATABASE shop"}"#,
];

#[test]
fn every_kind_of_message_keeps_to_the_contract() {
    for m in GOOD {
        assert_eq!(violations(m), Vec::<String>::new(), "{m}");
    }
}

#[test]
fn messages_that_break_the_contract_are_refused() {
    let bad = [
        // A field the format does not have.
        r#"{"database":"shop","table":"t","type":"insert","ts":1,"data":{},"extra":1}"#,
        // A type Maxwell does not send.
        r#"{"database":"shop","table":"t","type":"upsert","ts":1,"data":{}}"#,
        // ts as a string.
        r#"{"database":"shop","table":"t","type":"insert","ts":"1","data":{}}"#,
        // old on an insert.
        r#"{"database":"shop","table":"t","type":"insert","ts":1,"data":{},"old":{}}"#,
        // No data, and no envelope.
        r#"{"database":"shop","table":"t","type":"update","ts":1}"#,
        // Both data and an envelope.
        r#"{"database":"shop","table":"t","type":"insert","ts":1,"data":{},"encrypted":{"iv":"lqiXoTdz6jed3XgJPpa7EQ==","bytes":"AAAA"}}"#,
        // An IV that is not 16 bytes of base64.
        r#"{"encrypted":{"iv":"short","bytes":"AAAA"}}"#,
        // commit is only ever true.
        r#"{"database":"shop","table":"t","type":"insert","ts":1,"commit":false,"data":{}}"#,
        // A bootstrap row with a binlog position.
        r#"{"database":"shop","table":"t","type":"bootstrap-insert","ts":1,"position":"b.000001:4","data":{}}"#,
        // A bootstrap row with the binlog's server or thread (Maxwell's have neither).
        r#"{"database":"shop","table":"t","type":"bootstrap-insert","ts":1,"server_id":1,"data":{}}"#,
        r#"{"database":"shop","table":"t","type":"bootstrap-insert","ts":1,"threadId":1,"data":{}}"#,
        // Both spellings of naming_strategy in one message.
        r#"{"database":"shop","table":"t","type":"insert","ts":1,"server_id":1,"pushTs":1.0,"data":{}}"#,
        r#"{"database":"shop","table":"t","type":"bootstrap-insert","ts":1,"schemaId":1,"primary_key":[1],"data":{}}"#,
        // xoffset (a row before the last) with commit (the last row).
        r#"{"database":"shop","table":"t","type":"insert","ts":1,"xid":7,"xoffset":0,"commit":true,"data":{}}"#,
        // A bootstrap-start with data.
        r#"{"database":"shop","table":"t","type":"bootstrap-start","ts":1,"data":{"id":1}}"#,
        // A table-create without its definition.
        r#"{"type":"table-create","database":"shop","table":"t","ts":1,"sql":"CREATE TABLE t (id int)"}"#,
        // A column without a type.
        r#"{"type":"table-drop","database":"shop","table":"t","ts":1,"sql":"x","def":{"database":"shop","table":"t","columns":[{"name":"id"}],"primary-key":[]}}"#,
        "not json",
    ];
    for m in bad {
        assert!(!violations(m).is_empty(), "accepted: {m}");
    }
}
