//! Column values as Maxwell renders them, written to a live MariaDB and read back through
//! the binlog: edge values of every type this version renders, with the server logging FULL
//! row metadata (names from the binlog) and MINIMAL (names and labels from
//! information_schema, signedness and charsets from the binlog).

use std::time::Duration;

use super::support::*;

pub(super) const TABLE: &str = "CREATE TABLE {db}.t (id INT PRIMARY KEY, \
    ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, \
    mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, \
    bi BIGINT, bu BIGINT UNSIGNED, \
    d DECIMAL(20,10), f FLOAT, db DOUBLE, \
    dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME(2), y YEAR, \
    c CHAR(5), vc VARCHAR(20), tx TEXT, l1 VARCHAR(10) CHARACTER SET latin1, \
    u2 VARCHAR(5) CHARACTER SET ucs2, u16 VARCHAR(5) CHARACTER SET utf16, \
    u16l VARCHAR(5) CHARACTER SET utf16le, u32 VARCHAR(5) CHARACTER SET utf32, \
    gk VARCHAR(5) CHARACTER SET gbk, \
    bn BINARY(4), vb VARBINARY(8), bl BLOB, \
    e ENUM('a','b','c'), st SET('x','y','z'), b1 BIT(1), b64 BIT(64), \
    g GEOMETRY, pt POINT, after_geo VARCHAR(5) CHARACTER SET latin1) \
    DEFAULT CHARSET=utf8mb4";

pub(super) const ROWS: &[&str] = &[
    "INSERT INTO {db}.t VALUES (1, \
     -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, \
     -9999999999.9999999999, -1.5, -1.7976931348623157E308, \
     '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 01:00:01.000', '-838:59:59.00', 1901, \
     '', '', '', '', '', '', '', '', '', x'01', x'', x'', 'a', '', b'0', b'0', \
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 1,1 2,2 3,3 4))'), POINT(3, 2), '')",
    "INSERT INTO {db}.t VALUES (2, \
     127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, \
     9223372036854775807, 18446744073709551615, \
     9999999999.9999999999, 3.4028235E38, 1.7976931348623157E308, \
     '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 04:14:07.999', '838:59:59.00', 2155, \
     'abcde', 'Zoë 名前 😀', 'line\\n\"q\"\\t\\\\', 'café€', 'hé', 'é😀', 'é😀', 'é😀', '名前', x'01020304', x'FFFE', x'00FF', \
     'c', 'z,x', b'1', x'FFFFFFFFFFFFFFFF', \
     ST_GeomFromText('MULTIPOLYGON(((0 0,10 0,10 10,0 10,0 0),(1 1,2 1,2 2,1 1)))'), POINT(-1.5, 0.25), 'é')",
    "INSERT INTO {db}.t (id) VALUES (3)",
    "INSERT INTO {db}.t (id, d, f, db, dt, dtm, ts, tm, e, b64) VALUES (4, \
     0.0000001, 0, 0.0001, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', \
     '-00:00:01.50', '', 4294967296)",
    "UPDATE {db}.t SET d = 0, db = 1E7, tm = '25:00:00.25', e = 'b', st = 'y' WHERE id = 4",
];

/// What Maxwell sends for each row, `data` (and `old`) only.
pub(super) const EXPECTED: &[&str] = &[
    r#""data":{"id":1,"ti":-128,"tu":0,"si":-32768,"su":0,"mi":-8388608,"mu":0,"i":-2147483648,"iu":0,"bi":-9223372036854775808,"bu":0,"d":-9999999999.9999999999,"f":-1.5,"db":-1.7976931348623157E308,"dt":"1000-01-01","dtm":"1000-01-01 00:00:00.000000","ts":"1970-01-01 00:00:01.000","tm":"-838:59:59.00","y":1901,"c":"","vc":"","tx":"","l1":"","u2":"","u16":"","u16l":"","u32":"","gk":"","bn":"AQ==","vb":"","bl":"","e":"a","st":[],"b1":0,"b64":0,"g":"GEOMETRYCOLLECTION (POINT (1 1), LINESTRING (0 1, 1 2, 2 3, 3 4))","pt":"POINT (3 2)","after_geo":""}}"#,
    r#""data":{"id":2,"ti":127,"tu":255,"si":32767,"su":65535,"mi":8388607,"mu":16777215,"i":2147483647,"iu":4294967295,"bi":9223372036854775807,"bu":18446744073709551615,"d":9999999999.9999999999,"f":3.4028235E38,"db":1.7976931348623157E308,"dt":"9999-12-31","dtm":"9999-12-31 23:59:59.999999","ts":"2038-01-19 03:14:07.999","tm":"838:59:59.00","y":2155,"c":"abcde","vc":"Zoë 名前 \uD83D\uDE00","tx":"line\n\"q\"\t\\","l1":"café€","u2":"hé","u16":"é\uD83D\uDE00","u16l":"é\uD83D\uDE00","u32":"é\uD83D\uDE00","gk":"名前","bn":"AQIDBA==","vb":"//4=","bl":"AP8=","e":"c","st":["x","z"],"b1":1,"b64":18446744073709551615,"g":"MULTIPOLYGON (((0 0, 10 0, 10 10, 0 10, 0 0), (1 1, 2 1, 2 2, 1 1)))","pt":"POINT (-1.5 0.25)","after_geo":"é"}}"#,
    r#""data":{"id":3,"ti":null,"tu":null,"si":null,"su":null,"mi":null,"mu":null,"i":null,"iu":null,"bi":null,"bu":null,"d":null,"f":null,"db":null,"dt":null,"dtm":null,"ts":null,"tm":null,"y":null,"c":null,"vc":null,"tx":null,"l1":null,"u2":null,"u16":null,"u16l":null,"u32":null,"gk":null,"bn":null,"vb":null,"bl":null,"e":null,"st":null,"b1":null,"b64":null,"g":null,"pt":null,"after_geo":null}}"#,
    r#""data":{"id":4,"ti":null,"tu":null,"si":null,"su":null,"mi":null,"mu":null,"i":null,"iu":null,"bi":null,"bu":null,"d":1.000E-7,"f":0.0,"db":1.0E-4,"dt":"0000-00-00","dtm":"0000-00-00 00:00:00.000000","ts":"0000-00-00 00:00:00.000","tm":"-00:00:01.50","y":null,"c":null,"vc":null,"tx":null,"l1":null,"u2":null,"u16":null,"u16l":null,"u32":null,"gk":null,"bn":null,"vb":null,"bl":null,"e":null,"st":null,"b1":null,"b64":4294967296,"g":null,"pt":null,"after_geo":null}}"#,
    r#""data":{"id":4,"ti":null,"tu":null,"si":null,"su":null,"mi":null,"mu":null,"i":null,"iu":null,"bi":null,"bu":null,"d":0E-10,"f":0.0,"db":1.0E7,"dt":"0000-00-00","dtm":"0000-00-00 00:00:00.000000","ts":"0000-00-00 00:00:00.000","tm":"25:00:00.25","y":null,"c":null,"vc":null,"tx":null,"l1":null,"u2":null,"u16":null,"u16l":null,"u32":null,"gk":null,"bn":null,"vb":null,"bl":null,"e":"b","st":["y"],"b1":null,"b64":4294967296,"g":null,"pt":null,"after_geo":null},"old":{"d":1.000E-7,"db":1.0E-4,"tm":"-00:00:01.50","e":null,"st":null}}"#,
];

async fn values_render_like_maxwell(metadata: &str) {
    // Changes a server-wide setting: no other test may write meanwhile.
    let _guard = SERVER_SETTINGS.write().await;
    let db = TestDb::create("types", &[TABLE]).await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    db.exec(&[&format!("SET GLOBAL binlog_row_metadata = '{metadata}'")])
        .await;
    let restore = ExecOnDrop::new(FULL_METADATA);
    let start = db.position().await;
    let mut session = vec![
        // Relaxed mode, so zero dates and the invalid ENUM value '' can be stored.
        "SET SESSION sql_mode = ''",
        // Timestamps are written in UTC+1 and must come out in UTC.
        "SET time_zone = '+01:00'",
    ];
    session.extend_from_slice(ROWS);
    let result = async {
        db.exec(&session).await;
    };
    result.await;
    restore.run().await;
    // What the server logged is what this case is about: names only with FULL.
    assert_eq!(
        logged_column_names(&start, &db.name),
        metadata == "FULL",
        "binlog_row_metadata={metadata}"
    );

    let config = DaemonConfig::new(&queue.exchange);
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;
    let got = queue
        .take_at_least(EXPECTED.len(), Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), EXPECTED.len(), "{got:#?}");
    for (m, want) in got.iter().zip(EXPECTED) {
        let data_at = m.body.find(r#""data":"#).expect("data field");
        assert_eq!(
            &m.body[data_at..],
            *want,
            "with binlog_row_metadata={metadata}"
        );
    }
    db.drop_database().await;
}

/// Whether the server wrote column names into the table map of `db`.`t`, read from its
/// binlog file from `start` (FILE:POS) on.
fn logged_column_names(start: &str, db: &str) -> bool {
    use binlog_relay::source::file::BinlogFileEvents;
    use mysql_common::binlog::consts::EventType;
    use mysql_common::binlog::events::{OptionalMetadataField, TableMapEvent};

    let (file, offset) = start.rsplit_once(':').expect("FILE:POS");
    let path = services().binlog_dir.join(file);
    let events =
        BinlogFileEvents::open_at(&path, offset.parse().expect("offset")).expect("binlog file");
    for event in events {
        let event = event.expect("a complete event before the table map");
        if event.header().event_type_raw() != EventType::TABLE_MAP_EVENT as u8 {
            continue;
        }
        let tme: TableMapEvent<'_> = event.read_event().expect("table map");
        if tme.database_name() == db && tme.table_name() == "t" {
            return tme
                .iter_optional_meta()
                .any(|f| matches!(f, Ok(OptionalMetadataField::ColumnName(_))));
        }
    }
    panic!("no table map for {db}.t after {start}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_render_like_maxwell_with_full_row_metadata() {
    values_render_like_maxwell("FULL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_render_like_maxwell_with_minimal_row_metadata() {
    values_render_like_maxwell("MINIMAL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_and_noblob_row_images_render_as_maxwell_documents() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "image",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, a VARCHAR(5), b INT, txt TEXT)"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    // binlog_row_image is a session setting: no other test is affected.
    db.exec(&[
        "INSERT INTO {db}.t VALUES (1, 'x', 2, 'long text')",
        "SET SESSION binlog_row_image = 'MINIMAL'",
        "UPDATE {db}.t SET b = 3 WHERE id = 1",
        "DELETE FROM {db}.t WHERE id = 1",
        "SET SESSION binlog_row_image = 'NOBLOB'",
        "INSERT INTO {db}.t VALUES (2, 'y', 4, 'blob')",
        "UPDATE {db}.t SET a = 'z' WHERE id = 2",
    ])
    .await;
    let config = DaemonConfig::new(&queue.exchange);
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;
    let got = queue.take_at_least(5, Duration::from_secs(10)).await;
    let data: Vec<&str> = got
        .iter()
        .map(|m| &m.body[m.body.find(r#""data":"#).unwrap()..])
        .collect();
    assert_eq!(
        data,
        vec![
            r#""data":{"id":1,"a":"x","b":2,"txt":"long text"}}"#,
            // MINIMAL: the after image has the changed column, the before image the key;
            // Maxwell puts the before-only key into data after it, and writes no old.
            r#""data":{"b":3,"id":1}}"#,
            r#""data":{"id":1}}"#,
            r#""data":{"id":2,"a":"y","b":4,"txt":"blob"}}"#,
            // NOBLOB: the unchanged TEXT column is in neither image.
            r#""data":{"id":2,"a":"z","b":4},"old":{"a":"y"}}"#,
        ]
    );
    db.drop_database().await;
}

/// MariaDB stores `JSON` as `LONGTEXT` with a `json_valid` check; Maxwell publishes such a
/// column's value as embedded JSON, and so must we, whether the column is known from the
/// schema captured at start (`cap`) or from the CREATE TABLE the binlog carries (`ddl`,
/// whose checks are dropped afterwards so that only the statement can tell), with and
/// without column names in the binlog.
async fn mariadb_json_columns_are_embedded_json(metadata: &str) {
    let _guard = SERVER_SETTINGS.write().await;
    let db = TestDb::create(
        "mjson",
        &["CREATE TABLE {db}.cap (id INT PRIMARY KEY, j JSON, t LONGTEXT)"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    db.exec(&[&format!("SET GLOBAL binlog_row_metadata = '{metadata}'")])
        .await;
    let restore = ExecOnDrop::new(FULL_METADATA);
    let start = db.position().await;
    db.exec(&[
        "CREATE TABLE {db}.ddl (id INT PRIMARY KEY, j JSON, \
         k LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin CHECK (json_valid(`k`)), \
         t LONGTEXT)",
        r#"INSERT INTO {db}.cap VALUES (1, '{"b": [1, 2.50], "a": {"x": null}}', '[1]')"#,
        r#"INSERT INTO {db}.cap VALUES (2, NULL, '{}')"#,
        r#"UPDATE {db}.cap SET j = '"café"' WHERE id = 2"#,
        r#"INSERT INTO {db}.ddl VALUES (1, '[true, false]', '{"k":"v"}', '"s"')"#,
        r#"UPDATE {db}.ddl SET k = '12.5' WHERE id = 1"#,
        "ALTER TABLE {db}.ddl MODIFY j LONGTEXT, MODIFY k LONGTEXT",
    ])
    .await;
    restore.run().await;

    let config = DaemonConfig::new(&queue.exchange);
    run_to_now(&config.write(), &[("BINLOG_RELAY__SOURCE__START", &start)]).await;
    let got = queue.take_at_least(5, Duration::from_secs(10)).await;
    let data: Vec<&str> = got
        .iter()
        .map(|m| &m.body[m.body.find(r#""data":"#).expect("data")..])
        .collect();
    assert_eq!(
        data,
        vec![
            r#""data":{"id":1,"j":{"b": [1, 2.50], "a": {"x": null}},"t":"[1]"}}"#,
            r#""data":{"id":2,"j":null,"t":"{}"}}"#,
            r#""data":{"id":2,"j":"café","t":"{}"},"old":{"j":null}}"#,
            r#""data":{"id":1,"j":[true, false],"k":{"k":"v"},"t":"\"s\""}}"#,
            r#""data":{"id":1,"j":[true, false],"k":12.5,"t":"\"s\""},"old":{"k":{"k":"v"}}}"#,
        ],
        "with binlog_row_metadata={metadata}"
    );
    for m in &got {
        serde_json::from_str::<serde_json::Value>(&m.body).expect("every message is JSON");
    }
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_json_columns_are_embedded_json_with_full_row_metadata() {
    mariadb_json_columns_are_embedded_json("FULL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_json_columns_are_embedded_json_from_the_schema_history() {
    mariadb_json_columns_are_embedded_json("NO_LOG").await;
}
