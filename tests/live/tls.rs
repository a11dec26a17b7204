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
