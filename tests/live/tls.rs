//! TLS on both connections, against the project MariaDB and RabbitMQ with certificates from
//! a test CA (`scripts/services.sh`): streaming with verify-identity, the errors for a wrong
//! CA and a wrong name, and a plain-text server refused in a verifying mode.

use std::time::Duration;

use super::support::*;

/// Environment for a daemon that reaches both servers by TLS, verifying their names.
fn tls_env() -> Vec<(String, String)> {
    let file = |name: &str| services().tls_file(name);
    vec![
        ("BINLOG_RELAY__SOURCE__HOST".into(), "localhost".into()),
        (
            "BINLOG_RELAY__SOURCE__TLS__MODE".into(),
            "verify-identity".into(),
        ),
        ("BINLOG_RELAY__SOURCE__TLS__CA_FILE".into(), file("ca.pem")),
        (
            "BINLOG_RELAY__SINK__RABBITMQ__URI".into(),
            format!(
                "amqps://guest:guest@localhost:{}/%2f",
                services().amqps_port
            ),
        ),
        (
            "BINLOG_RELAY__SINK__RABBITMQ__TLS__CA_FILE".into(),
            file("ca.pem"),
        ),
    ]
}

/// Runs the daemon to the server's current position and returns how it ended.
async fn run(config: &DaemonConfig, env: &[(String, String)]) -> Finished {
    let child = spawn_daemon(&config.write(), &["--stop-at", "now"], &refs(env));
    wait(child, Duration::from_secs(90)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_tls_verifying_both_servers_with_a_client_certificate() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create("tls", &["CREATE TABLE {db}.t (id INT PRIMARY KEY)"]).await;
    // An account the server admits only over TLS with a certificate from the test CA.
    let user = unique("x509");
    exec(
        &db.pool,
        &[
            &format!("CREATE USER '{user}'@'%' REQUIRE X509"),
            &format!("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '{user}'@'%'"),
        ],
    )
    .await;
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    db.exec(&["INSERT INTO {db}.t VALUES (1), (2)"]).await;

    let file = |name: &str| services().tls_file(name);
    let config = DaemonConfig::new(&queue.exchange);
    let env = with(
        tls_env(),
        &[
            ("BINLOG_RELAY__SOURCE__START", start.clone()),
            ("BINLOG_RELAY__SOURCE__USER", user.clone()),
            (
                "BINLOG_RELAY__SOURCE__TLS__CLIENT_CERT_FILE",
                file("client.pem"),
            ),
            (
                "BINLOG_RELAY__SOURCE__TLS__CLIENT_KEY_FILE",
                file("client.key"),
            ),
            (
                "BINLOG_RELAY__SINK__RABBITMQ__TLS__CLIENT_CERT_FILE",
                file("client.pem"),
            ),
            (
                "BINLOG_RELAY__SINK__RABBITMQ__TLS__CLIENT_KEY_FILE",
                file("client.key"),
            ),
        ],
    );
    // Followed live, so the broker connection is open to be looked at: the test broker asks
    // for a client certificate but does not insist, so what it saw is the proof it was sent.
    let daemon = spawn_daemon(&config.write(), &[], &refs(&env));
    let got = queue.take_at_least(2, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let peers = rabbitmqctl(&["list_connections", "ssl", "peer_cert_subject"]);
    signal(&daemon, "TERM");
    let done = wait(daemon, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(!done.stderr.contains("plain text"), "{}", done.stderr);
    assert!(
        peers
            .lines()
            .any(|l| l.starts_with("true") && l.contains("binlog-relay client")),
        "no TLS connection with the client certificate: {peers}"
    );

    // Without the client certificate the same account is refused by the server.
    let env = with(
        tls_env(),
        &[
            ("BINLOG_RELAY__SOURCE__START", start),
            ("BINLOG_RELAY__SOURCE__USER", user.clone()),
        ],
    );
    let config = DaemonConfig::new(&queue.exchange);
    let done = run(&config, &env).await;
    assert_ne!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("Access denied"), "{}", done.stderr);

    exec(&db.pool, &[&format!("DROP USER '{user}'@'%'")]).await;
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_or_a_wrong_name_is_refused_with_a_clear_error() {
    let _guard = SERVER_SETTINGS.read().await;
    let file = |name: &str| services().tls_file(name);
    let amqps_port = services().amqps_port;
    let config = DaemonConfig::new(&unique("x"));
    // (case, variables changed, what the error must say)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "database, another CA",
            vec![("BINLOG_RELAY__SOURCE__TLS__CA_FILE", file("other-ca.pem"))],
            "TLS to MySQL/MariaDB at localhost",
        ),
        (
            // The certificate names localhost, not 127.0.0.1.
            "database, another name",
            vec![("BINLOG_RELAY__SOURCE__HOST", "127.0.0.1".into())],
            "TLS to MySQL/MariaDB at 127.0.0.1",
        ),
        (
            "broker, another CA",
            vec![(
                "BINLOG_RELAY__SINK__RABBITMQ__TLS__CA_FILE",
                file("other-ca.pem"),
            )],
            "TLS to RabbitMQ at localhost",
        ),
        (
            "broker, another name",
            vec![(
                "BINLOG_RELAY__SINK__RABBITMQ__URI",
                format!("amqps://guest:guest@127.0.0.1:{amqps_port}/%2f"),
            )],
            "TLS to RabbitMQ at 127.0.0.1",
        ),
    ];
    for (case, changes, expected) in cases {
        let done = run(&config, &with(tls_env(), &changes)).await;
        assert_eq!(done.code, Some(1), "{case}: {}", done.stderr);
        assert!(
            done.stderr.contains(expected) && done.stderr.contains("ca_file"),
            "{case}: expected {expected:?} in\n{}",
            done.stderr
        );
        // Refused at once: a certificate problem is not retried.
        assert!(!done.stderr.contains("resuming"), "{case}: {}", done.stderr);
    }

    // verify-ca checks the CA: the test CA passes, another fails. (It should not check the
    // name; mysql_async 0.37.1 still does, blackbeam/mysql_async#404, so it is not tested
    // with a mismatched name here.)
    let verify_ca = |ca: &str| {
        with(
            tls_env(),
            &[
                ("BINLOG_RELAY__SOURCE__TLS__MODE", "verify-ca".into()),
                ("BINLOG_RELAY__SOURCE__TLS__CA_FILE", file(ca)),
            ],
        )
    };
    let done = run(&config, &verify_ca("ca.pem")).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let done = run(&config, &verify_ca("other-ca.pem")).await;
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("TLS to MySQL/MariaDB"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_text_server_is_refused_in_a_verifying_mode() {
    let _guard = SERVER_SETTINGS.read().await;
    // A second MariaDB with neither binlog nor TLS.
    let port = nobinlog_up().to_string();
    let config = DaemonConfig::new(&unique("x"));
    for mode in ["required", "verify-ca", "verify-identity"] {
        let done = run(
            &config,
            &with(
                tls_env(),
                &[
                    ("BINLOG_RELAY__SOURCE__PORT", port.clone()),
                    ("BINLOG_RELAY__SOURCE__TLS__MODE", mode.into()),
                    // `required` encrypts without verifying, so it takes no CA.
                    (
                        "BINLOG_RELAY__SOURCE__TLS__CA_FILE",
                        if mode == "required" {
                            String::new()
                        } else {
                            services().tls_file("ca.pem")
                        },
                    ),
                ],
            ),
        )
        .await;
        assert_eq!(done.code, Some(1), "{mode}: {}", done.stderr);
        assert!(
            done.stderr.contains(&format!(
                "offers no TLS, and source.tls.mode = \"{mode}\" refuses plain text"
            )),
            "{mode}: {}",
            done.stderr
        );
    }
    // `preferred` goes on in plain text and says so; this server then fails the binlog check.
    let done = run(
        &config,
        &with(
            tls_env(),
            &[
                ("BINLOG_RELAY__SOURCE__PORT", port.clone()),
                ("BINLOG_RELAY__SOURCE__TLS__MODE", "preferred".into()),
                ("BINLOG_RELAY__SOURCE__TLS__CA_FILE", String::new()),
            ],
        ),
    )
    .await;
    assert!(
        done.stderr
            .contains("offers no TLS; connecting in plain text"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("log_bin=OFF"), "{}", done.stderr);

    // An amqps:// URI pointed at the broker's plain-text port fails the handshake.
    let (_, plain_port) = services().amqp_authority();
    let done = run(
        &config,
        &with(
            tls_env(),
            &[(
                "BINLOG_RELAY__SINK__RABBITMQ__URI",
                format!("amqps://guest:guest@localhost:{plain_port}/%2f"),
            )],
        ),
    )
    .await;
    assert_ne!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("TLS to RabbitMQ at localhost"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_tls_in_use() {
    let _guard = SERVER_SETTINGS.read().await;
    let config = DaemonConfig::new(&unique("x"));
    let path = config.write();
    let path = path.to_string_lossy();
    let check = |env: Vec<(String, String)>| {
        let path = path.clone().into_owned();
        async move {
            let child = spawn_command(&["check", "--config", &path], &refs(&env));
            let out = output_within(child, Duration::from_secs(60)).await;
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let out = check(tls_env()).await;
    assert!(
        out.contains("ok   tls: TLSv1.") && out.contains("verify-identity"),
        "{out}"
    );
    assert!(out.contains("ok   broker: connected"), "{out}");
    let out = check(with(
        tls_env(),
        &[
            ("BINLOG_RELAY__SOURCE__TLS__MODE", "disabled".into()),
            ("BINLOG_RELAY__SOURCE__TLS__CA_FILE", String::new()),
        ],
    ))
    .await;
    assert!(out.contains("ok   tls: off"), "{out}");
}

/// A machine in the middle that takes TLS out of the server's greeting (clears
/// CLIENT_SSL in its capability flags) and relays the rest, counting the bytes the client
/// sends: the downgrade attack that `preferred` falls for.
struct TlsStripper {
    port: u16,
    client_bytes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for TlsStripper {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TlsStripper {
    async fn start(server_port: u16) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client_bytes = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (counted, accepted) = (client_bytes.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(("127.0.0.1", server_port))
                        .await
                        .unwrap();
                    // The greeting: 3-byte length, sequence, then protocol version, the
                    // NUL-terminated server version, thread id (4), scramble (8), filler (1)
                    // and the low two bytes of the capability flags.
                    let mut header = [0u8; 4];
                    server.read_exact(&mut header).await.unwrap();
                    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
                    let mut greeting = vec![0u8; len];
                    server.read_exact(&mut greeting).await.unwrap();
                    let version_end = 1 + greeting[1..].iter().position(|&b| b == 0).unwrap();
                    let flags = version_end + 1 + 4 + 8 + 1;
                    const CLIENT_SSL: u16 = 0x0800;
                    let caps = u16::from_le_bytes([greeting[flags], greeting[flags + 1]]);
                    assert_ne!(caps & CLIENT_SSL, 0, "the project MariaDB offers TLS");
                    greeting[flags..flags + 2].copy_from_slice(&(caps & !CLIENT_SSL).to_le_bytes());
                    client.write_all(&header).await.unwrap();
                    client.write_all(&greeting).await.unwrap();
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    });
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = client_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        counted.fetch_add(n, Ordering::SeqCst);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self {
            port,
            client_bytes,
            connections,
            accept,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_stripped_or_unverifiable_server_is_refused_before_the_login() {
    use std::sync::atomic::Ordering;
    let _guard = SERVER_SETTINGS.read().await;
    let mut config = DaemonConfig::new(&unique("x"));
    // No [source.tls] settings: the default mode.
    config.source_tls = String::new();

    // A downgrade in the middle: the server's TLS offer is taken out of its greeting.
    let stripper = TlsStripper::start(services().mysql_port).await;
    let done = run(
        &config,
        &[(
            "BINLOG_RELAY__SOURCE__PORT".to_owned(),
            stripper.port.to_string(),
        )],
    )
    .await;
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains(
            "offers no TLS, and source.tls.mode = \"verify-identity\" refuses plain text, so the login was not sent"
        ),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("source.tls.ca_file"),
        "{}",
        done.stderr
    );
    assert!(stripper.connections.load(Ordering::SeqCst) >= 1);
    // Not one byte from the client: no login, no password hash, no query in plain text.
    assert_eq!(stripper.client_bytes.load(Ordering::SeqCst), 0);

    // The real server, whose certificate comes from a CA the daemon was not given (as a
    // self-signed one would): refused, and the error says both ways forward.
    let done = run(&config, &[]).await;
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("TLS to MySQL/MariaDB at 127.0.0.1")
            && done.stderr.contains("Set source.tls.ca_file")
            && done.stderr.contains("mode = \"required\""),
        "{}",
        done.stderr
    );

    // `preferred` is the mode that falls for the stripper: it says so, at start-up and
    // when it falls back.
    let done = run(
        &config,
        &[
            (
                "BINLOG_RELAY__SOURCE__PORT".to_owned(),
                stripper.port.to_string(),
            ),
            (
                "BINLOG_RELAY__SOURCE__TLS__MODE".to_owned(),
                "preferred".to_owned(),
            ),
        ],
    )
    .await;
    assert!(
        done.stderr
            .contains("source.tls.mode = \"preferred\" accepts any certificate"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("offers no TLS; connecting in plain text"),
        "{}",
        done.stderr
    );
}
