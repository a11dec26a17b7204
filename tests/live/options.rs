//! The `[output]` options against a live MariaDB: every optional field Maxwell has, in its
//! order, with its names.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_options_add_maxwells_optional_fields() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "opts",
        &[
            "CREATE TABLE {db}.people (id INT, first_name VARCHAR(20), pass_word VARCHAR(20), \
           born DATE, PRIMARY KEY (id))",
        ],
    )
    .await;
    let name = db.name.clone();
    let queue = Queue::bind(&format!("{name}.#")).await;
    let start = db.position().await;
    let insert = format!("INSERT INTO {name}.people VALUES (1, 'Ada', 'secret', '0000-00-00')");
    db.exec(&["SET SESSION sql_mode = ''", &insert]).await;

    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let output = r#"
[output]
binlog_position = true
gtid_position = true
server_id = true
thread_id = true
row_query = true
row_query_max_length = 30
primary_keys = true
primary_key_columns = true
push_timestamp = true
null_zerodates = true
nulls = false
naming_strategy = "underscore_to_camelcase"
exclude_columns = ["pass_word"]
"#;
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(output);
    std::fs::write(&path, text).unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    run_to_now(&path, &[("BINLOG_RELAY__SOURCE__START", &start)]).await;

    let got = queue.take_at_least(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let body = &got[0].body;
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    // MariaDB starts transactions with GTID events, not BEGIN: no thread id.
    assert!(v.get("threadId").is_none(), "{body}");
    // Values that differ per run, checked for what they must be.
    let position = v["position"].as_str().unwrap();
    let start_file = start.rsplit_once(':').unwrap().0;
    assert!(
        position.starts_with(&format!("{start_file}:")),
        "{position}"
    );
    let gtid = v["gtid"].as_str().unwrap();
    assert!(
        gtid.starts_with("0-101-"),
        "MariaDB domain-server-seq: {gtid}"
    );
    let push_ts = v["pushTs"].as_f64().unwrap();
    assert!(
        push_ts >= before.floor() && push_ts < before + 120.0,
        "{push_ts}"
    );
    let push_ts_text = body
        .split("\"pushTs\":")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap();
    // Everything else is exact.
    let expected = format!(
        concat!(
            r#"{{"database":"{name}","table":"people","query":"{query}","type":"insert","ts":{ts},"#,
            r#""xid":{xid},"commit":true,"position":"{position}","gtid":"{gtid}","serverId":101,"#,
            r#""pushTs":{push_ts},"primaryKey":[1],"primaryKeyColumns":["id"],"#,
            r#""data":{{"id":1,"firstName":"Ada"}}}}"#
        ),
        name = name,
        // The statement, cut at row_query_max_length characters.
        query = insert.chars().take(30).collect::<String>(),
        ts = v["ts"],
        xid = v["xid"],
        position = position,
        gtid = gtid,
        push_ts = push_ts_text,
    );
    assert_eq!(body, &expected);
    db.drop_database().await;
}

/// `output.row_query` on a live MariaDB: the server streams the statement behind each row
/// change (its ANNOTATE_ROWS event) only to a replica that asks (dump flag 2), and every
/// row of the statement carries it exactly as the client sent it, comments and all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_query_carries_each_statement_on_a_live_mariadb_stream() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "rowq",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10))"],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    let statements = [
        "INSERT INTO {db}.t VALUES (1, 'a'), (2, 'b')",
        "/* request-id: 7, user: ada */ UPDATE {db}.t SET v = 'c' WHERE id = 1",
        "DELETE FROM {db}.t WHERE id = 2 -- cleanup\n",
        "INSERT INTO {db}.t /* inline */ VALUES (3, 'ü \"q\"')",
    ];
    db.exec(&statements).await;
    let config = DaemonConfig::new(&queue.exchange);
    let path = config.write();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[output]\nrow_query = true\n");
    std::fs::write(&path, text).unwrap();
    run_to_now(&path, &[("BINLOG_RELAY__SOURCE__START", &start)]).await;

    let got = queue.take_at_least(5, Duration::from_secs(10)).await;
    let queries: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
            let query = v["query"]
                .as_str()
                .unwrap_or_else(|| panic!("no query: {}", m.body));
            (v["type"].as_str().unwrap().to_owned(), query.to_owned())
        })
        .collect();
    let sql = |i: usize| statements[i].replace("{db}", &db.name);
    assert_eq!(
        queries,
        vec![
            ("insert".to_owned(), sql(0)),
            ("insert".to_owned(), sql(0)),
            ("update".to_owned(), sql(1)),
            // The server keeps the statement without its trailing whitespace.
            ("delete".to_owned(), sql(2).trim_end().to_owned()),
            ("insert".to_owned(), sql(3)),
        ]
    );
    db.drop_database().await;
}

/// Opens Maxwell envelopes (`{"iv":..,"bytes":..}`, one JSON object per line) with Python's
/// `cryptography`, an implementation of AES-CBC independent of the daemon's, as a consumer
/// would: the plaintext of each, in order.
fn open_with_python(key: &str, envelopes: &[serde_json::Value]) -> Vec<String> {
    use std::io::Write;
    const SCRIPT: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
key = sys.argv[1].encode("utf-8")
for line in sys.stdin:
    e = json.loads(line)
    d = Cipher(algorithms.AES(key), modes.CBC(base64.b64decode(e["iv"]))).decryptor()
    padded = d.update(base64.b64decode(e["bytes"])) + d.finalize()
    u = padding.PKCS7(128).unpadder()
    print(json.dumps((u.update(padded) + u.finalize()).decode("utf-8")))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", SCRIPT, key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (scripts/services.sh installs python3-cryptography)");
    let mut stdin = child.stdin.take().unwrap();
    for e in envelopes {
        writeln!(stdin, "{e}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3 could not decrypt");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<String>(l).unwrap())
        .collect()
}

/// `encrypt = data | all` seals messages so that a consumer with the key gets back exactly
/// the message it would have read unencrypted: each run over the same rows is compared
/// with a run in clear, opened with an independent AES implementation. The key comes from
/// a file in one run and from the environment in the other, and is never logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_messages_open_to_the_plain_message_with_an_independent_aes() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "crypt",
        &["CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(40), j JSON)"],
    )
    .await;
    let start = db.position().await;
    db.exec(&[
        r#"INSERT INTO {db}.t VALUES (1, 'Zoë ,"data":{} 😀', '{"data": [1]}'), (2, NULL, NULL)"#,
        "UPDATE {db}.t SET v = 'changed' WHERE id = 1",
        "DELETE FROM {db}.t WHERE id = 2",
    ])
    .await;
    // AES-256 here (32 bytes); the unit tests cover 16 and 24.
    let key = "k3y-for-tests-0123456789abcdefgh";
    let runs = [("none", None), ("data", Some("file")), ("all", Some("env"))];
    let mut received = Vec::new();
    for (mode, key_from) in runs {
        let queue = Queue::bind(&format!("{}.#", db.name)).await;
        let config = DaemonConfig::new(&queue.exchange);
        let path = config.write();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!(
            "\n[output]\nprimary_keys = true\nencrypt = \"{mode}\"\n"
        ));
        let key_file = config.dir.path().join("secret_key");
        let mut env = vec![("BINLOG_RELAY__SOURCE__START", start.as_str())];
        match key_from {
            Some("file") => {
                std::fs::write(&key_file, format!("{key}\n")).unwrap();
                text.push_str(&format!("secret_key_file = \"{}\"\n", key_file.display()));
            }
            Some(_) => env.push(("BINLOG_RELAY__OUTPUT__SECRET_KEY", key)),
            None => {}
        }
        std::fs::write(&path, text).unwrap();
        let done = run_to_now(&path, &env).await;
        assert!(
            !done.stderr.contains(key),
            "the key was logged:\n{}",
            done.stderr
        );
        let got = queue.take_at_least(4, Duration::from_secs(10)).await;
        assert_eq!(got.len(), 4, "{mode}: {got:#?}");
        received.push(got);
    }
    let plain: Vec<&str> = received[0].iter().map(|m| m.body.as_str()).collect();
    assert!(plain[0].contains(r#""j":{"data": [1]}"#), "{}", plain[0]);

    // data: every field before `data` in clear, then the envelope of {"data":..,"old":..}.
    let sealed: Vec<serde_json::Value> = received[1]
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    let envelopes: Vec<serde_json::Value> = sealed.iter().map(|m| m["encrypted"].clone()).collect();
    let opened = open_with_python(key, &envelopes);
    for (((m, clear_message), plain), opened) in received[1]
        .iter()
        .zip(&received[0])
        .zip(&plain)
        .zip(&opened)
    {
        let data_at = plain.find(r#","data":"#).unwrap();
        let clear = &m.body[..m.body.find(r#","encrypted":{"iv":""#).unwrap()];
        assert_eq!(clear, &plain[..data_at], "the fields in clear");
        assert_eq!(opened, &format!("{{{}", &plain[data_at + 1..]));
        // No row value in clear: the fields before the envelope carry none, and the
        // envelope holds only its two base64 fields. (The base64 text itself is not searched
        // for the values: random ciphertext can spell "Zo" by chance, as it once did in CI.)
        assert!(
            !clear.contains("changed") && !clear.contains("Zo"),
            "{clear}"
        );
        let sealed: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        let in_clear: serde_json::Value = serde_json::from_str(&format!("{clear}}}")).unwrap();
        assert_eq!(
            sealed.as_object().unwrap().len(),
            in_clear.as_object().unwrap().len() + 1,
            "nothing follows the envelope: {}",
            m.body
        );
        let envelope = sealed["encrypted"].as_object().unwrap();
        let mut keys: Vec<&str> = envelope.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["bytes", "iv"], "{}", m.body);
        // Routing is by the row, as in clear.
        assert_eq!(m.routing_key, clear_message.routing_key);
    }

    // all: nothing in clear but the envelope; it opens to the whole message.
    let sealed: Vec<serde_json::Value> = received[2]
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    for m in &sealed {
        assert_eq!(m.as_object().unwrap().len(), 1, "{m}");
    }
    let envelopes: Vec<serde_json::Value> = sealed.iter().map(|m| m["encrypted"].clone()).collect();
    let opened = open_with_python(key, &envelopes);
    assert_eq!(opened, plain);
    db.drop_database().await;
}
