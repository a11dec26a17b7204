//! Secrets stay secret: with a database password (from a file), a broker password (in the
//! URI) and a hash key set, everything binlog-relay prints in a full run at debug level,
//! in `check`, in `positions show`, in failed starts, in `/metrics`, in `config
//! from-maxwell` and in its state files is searched for each secret value.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output() {
    let _guard = SERVER_SETTINGS.read().await;
    let db = TestDb::create(
        "secrets",
        &["CREATE TABLE {db}.person (id INT PRIMARY KEY, nhs VARCHAR(10))"],
    )
    .await;
    let db_user = unique("relay");
    let db_password = format!("dbpw-{}", unique("s"));
    let mq_user = unique("mq");
    let mq_password = format!("mqpw-{}", unique("s"));
    let hash_key = format!("hashkey-{}-0123456789abcdef", unique("k"));
    exec(
        &db.pool,
        &[
            &format!("CREATE USER '{db_user}'@'%' IDENTIFIED BY '{db_password}'"),
            &format!(
                "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '{db_user}'@'%'"
            ),
        ],
    )
    .await;
    service_with("rabbit-add-user", &[&mq_user, &mq_password]);
    let queue = Queue::bind(&format!("{}.#", db.name)).await;
    let start = db.position().await;
    db.exec(&["INSERT INTO {db}.person VALUES (1, '9434765919')"])
        .await;

    let mut config = DaemonConfig::new(&queue.exchange);
    let password_file = config.dir.path().join("db-password");
    std::fs::write(&password_file, format!("{db_password}\n")).expect("password file");
    let (host, port) = services().amqp_authority();
    let mq_uri = format!("amqp://{mq_user}:{mq_password}@{host}:{port}/%2f");
    config.rabbitmq_extra = format!(
        "[masking]\nhash_key_env = \"TEST_HASH_KEY\"\n\
         [[masking.rules]]\ntables = \"{}.person\"\nhash = [\"nhs\"]\n",
        db.name
    );
    let path = config.write();
    let path_text = path.to_string_lossy().into_owned();
    let password_path = password_file.to_string_lossy().into_owned();
    let metrics_port = free_port();
    let listen = format!("127.0.0.1:{metrics_port}");
    let env = [
        ("RUST_LOG", "debug"),
        ("TEST_HASH_KEY", hash_key.as_str()),
        ("BINLOG_RELAY__SOURCE__USER", db_user.as_str()),
        (
            "BINLOG_RELAY__SOURCE__PASSWORD_FILE",
            password_path.as_str(),
        ),
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ("BINLOG_RELAY__SINK__RABBITMQ__URI", mq_uri.as_str()),
    ];

    let mut output = String::new();
    let record = |output: &mut String, what: &str, out: &std::process::Output| {
        output.push_str(&format!("==== {what}\n"));
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        output.push_str(&String::from_utf8_lossy(&out.stderr));
    };
    let finish = |child: tokio::process::Child| output_within(child, Duration::from_secs(90));

    // A full run, at debug level, to the current position.
    let out = finish(spawn_command(
        &["run", "--config", &path_text, "--stop-at", "now"],
        &env,
    ))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    record(&mut output, "run", &out);
    let got = queue.take_at_least(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    output.push_str(&got[0].body);

    // A daemon left running: its metrics, then a stop.
    let child = spawn_command(&["run", "--config", &path_text], &env);
    let mut scrape = None;
    for _ in 0..100 {
        if let Some((200, body)) = http_get(metrics_port, "/metrics").await {
            scrape = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    output.push_str(&scrape.expect("a /metrics scrape"));
    signal(&child, "TERM");
    record(&mut output, "running daemon", &finish(child).await);

    for args in [
        vec!["check", "--config", &path_text],
        vec!["positions", "show", "--config", &path_text],
    ] {
        let out = finish(spawn_command(&args, &env)).await;
        record(&mut output, &args.join(" "), &out);
    }

    // Failed starts: a wrong database password, a wrong broker password.
    let wrong_db = config.dir.path().join("wrong-db-password");
    std::fs::write(&wrong_db, format!("{db_password}x\n")).expect("write");
    let wrong_db = wrong_db.to_string_lossy().into_owned();
    let mut env_wrong_db = env.to_vec();
    env_wrong_db.retain(|(k, _)| *k != "BINLOG_RELAY__SOURCE__PASSWORD_FILE");
    env_wrong_db.push(("BINLOG_RELAY__SOURCE__PASSWORD_FILE", &wrong_db));
    let wrong_mq = format!("amqp://{mq_user}:{mq_password}x@{host}:{port}/%2f");
    let mut env_wrong_mq = env.to_vec();
    env_wrong_mq.retain(|(k, _)| *k != "BINLOG_RELAY__SINK__RABBITMQ__URI");
    env_wrong_mq.push(("BINLOG_RELAY__SINK__RABBITMQ__URI", &wrong_mq));
    for (what, env, refusal) in [
        ("wrong db password", env_wrong_db, "Access denied"),
        (
            "wrong mq password",
            env_wrong_mq,
            "cannot connect to RabbitMQ",
        ),
    ] {
        let mut child = spawn_command(&["run", "--config", &path_text, "--stop-at", "now"], &env);
        // A refused password stops the daemon; give it a moment either way.
        let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
        if status.is_err() {
            signal(&child, "KILL");
        }
        let out = finish(child).await;
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success() && text.contains(refusal),
            "{what}: expected a failed start saying {refusal:?}:\n{text}"
        );
        record(&mut output, what, &out);
    }

    // A Maxwell file with the same secrets, translated without --show-secrets.
    let props = config.dir.path().join("config.properties");
    std::fs::write(
        &props,
        format!(
            "host=127.0.0.1\nuser={db_user}\npassword={db_password}\nproducer=rabbitmq\n\
             rabbitmq_user={mq_user}\nrabbitmq_pass={mq_password}\n"
        ),
    )
    .expect("write");
    let out = finish(spawn_command(
        &["config", "from-maxwell", &props.to_string_lossy()],
        &[],
    ))
    .await;
    assert!(out.status.success());
    record(&mut output, "config from-maxwell", &out);

    // The state files.
    for name in ["position.json", "schema-history.jsonl"] {
        output.push_str(
            &std::fs::read_to_string(config.checkpoint_dir().join(name)).expect("state file"),
        );
    }

    assert!(
        output.len() > 10_000,
        "too little output to mean anything:\n{output}"
    );
    for (name, secret) in [
        ("database password", &db_password),
        ("broker password", &mq_password),
        ("hash key", &hash_key),
    ] {
        assert!(
            !output.contains(secret.as_str()),
            "the {name} appears in the output:\n{output}"
        );
    }

    exec(&db.pool, &[&format!("DROP USER '{db_user}'@'%'")]).await;
    db.drop_database().await;
}
