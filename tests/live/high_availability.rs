//! Several instances on one config with the database store: the leader killed with SIGKILL
//! over and over, cut off from the database by a silent proxy, and the database restarted
//! under all of them. What a consumer received is checked row by row against what was
//! written (every row, in order per table after dropping repeats), and the takeover times
//! are measured from a leader's death to the next message a new leader had confirmed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::process::Child;

use super::faults::{
    Expected, Workload, check_delivery, collect_all, drain_until_quiet, fault_config, fault_db,
};
use super::proxy::{Mode, Proxy};
use super::support::*;

/// One instance: its process and its HTTP port.
struct Instance {
    child: Child,
    port: u16,
}

/// A pipeline run by several instances: a database, a durable queue, and a config whose
/// state lives in its own database on the server.
struct Cluster {
    db: TestDb,
    queue: Queue,
    config: DaemonConfig,
    path: std::path::PathBuf,
    start: String,
    state_db: String,
}

impl Cluster {
    async fn new(prefix: &str) -> Self {
        let db = fault_db(prefix).await;
        let queue = Queue::durable(&format!("{}.#", db.name)).await;
        let mut config = fault_config(&queue.exchange);
        let state_db = unique("relay_state");
        config.checkpoint_extra = format!(
            "store = \"database\"\ndatabase = \"{state_db}\"\nclient_id = \"{}\"\n",
            db.name
        );
        let path = config.write();
        let start = db.position().await;
        Self {
            db,
            queue,
            config,
            path,
            start,
            state_db,
        }
    }

    fn spawn(&self, env: &[(&str, String)]) -> Instance {
        let port = free_port();
        let mut all = vec![
            ("BINLOG_RELAY__SOURCE__START", self.start.clone()),
            ("BINLOG_RELAY__HTTP__LISTEN", format!("127.0.0.1:{port}")),
        ];
        all.extend(env.iter().map(|(k, v)| (*k, v.clone())));
        let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Instance {
            child: spawn_daemon(&self.path, &[], &refs),
            port,
        }
    }

    async fn clean_up(self) {
        self.queue.delete().await;
        exec(
            &self.db.pool,
            &[&format!("DROP DATABASE IF EXISTS `{}`", self.state_db)],
        )
        .await;
        self.db.drop_database().await;
        drop(self.config);
    }
}

/// An instance's `binlog_relay_leader` and confirmed-message count, if it answers.
async fn role(instance: &Instance) -> Option<(bool, f64)> {
    let (200, body) = http_get(instance.port, "/metrics").await? else {
        return None;
    };
    let leader = metric(&body, "binlog_relay_leader")? == 1.0;
    let confirmed = metric(&body, "binlog_relay_messages_confirmed_total").unwrap_or(0.0);
    Some((leader, confirmed))
}

/// Waits until one instance leads and has had a message confirmed; its index, and when.
async fn leader_with_a_confirmed_message(
    instances: &[Instance],
    timeout: Duration,
) -> Option<(usize, Instant)> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        for (i, instance) in instances.iter().enumerate() {
            if let Some((true, confirmed)) = role(instance).await
                && confirmed > 0.0
            {
                return Some((i, Instant::now()));
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

/// How many instances say they lead.
async fn leaders(instances: &[Instance]) -> usize {
    let mut n = 0;
    for instance in instances {
        if let Some((true, _)) = role(instance).await {
            n += 1;
        }
    }
    n
}

async fn stop_all(instances: Vec<Instance>) -> Vec<Finished> {
    let mut done = Vec::new();
    for instance in &instances {
        signal(&instance.child, "TERM");
    }
    for instance in instances {
        done.push(wait(instance.child, Duration::from_secs(45)).await);
    }
    done
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_killed_20_times_under_three_instances_loses_nothing() {
    let _shared = SERVER_SETTINGS.read().await;
    let cluster = Cluster::new("ha_kill").await;
    let mut instances: Vec<Instance> = (0..3).map(|_| cluster.spawn(&[])).collect();

    // At least 400 transactions of 200 rows (80,000 inserts and 4,000 updates) written
    // steadily, and more until the last kill, so every takeover has new rows to publish.
    let workload = Workload {
        transactions: 400,
        flush_every: Some(97),
        pause: Duration::from_millis(60),
    };
    let stop_writing = Arc::new(AtomicBool::new(false));
    let writer = workload.spawn_until(&cluster.db, stop_writing.clone());

    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut takeovers = Vec::new();
    let (mut leader, _) = leader_with_a_confirmed_message(&instances, Duration::from_secs(60))
        .await
        .expect("no instance led within 60 s");
    for kill in 1..=20 {
        tokio::time::sleep(Duration::from_millis(rng.u64(200..900))).await;
        assert_eq!(
            leaders(&instances).await,
            1,
            "kill {kill}: not exactly one leader"
        );
        signal(&instances[leader].child, "KILL");
        let killed_at = Instant::now();
        let dead = std::mem::replace(&mut instances[leader], cluster.spawn(&[]));
        let done = wait(dead.child, Duration::from_secs(10)).await;
        assert_eq!(done.code, None, "kill {kill}: killed by a signal");
        let (next, at) = leader_with_a_confirmed_message(&instances, Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("kill {kill}: no instance took over (seed {seed})"));
        takeovers.push(at - killed_at);
        leader = next;
    }
    stop_writing.store(true, Ordering::Relaxed);
    let expected = writer.await.expect("writer task").expect("workload");
    assert!(expected.len() >= 84_000, "{}", expected.len());
    let received = collect_all(&cluster.queue, &expected, &[], Duration::from_secs(180)).await;
    let mut received = received;
    let done = stop_all(instances).await;
    received.extend(drain_until_quiet(&cluster.queue, Duration::from_millis(500)).await);
    for d in &done {
        assert_eq!(d.code, Some(0), "{}", d.stderr);
    }
    let repeats = check_delivery(&expected, &received, 20);

    takeovers.sort();
    let (med, worst) = (median(&takeovers), takeovers[takeovers.len() - 1]);
    eprintln!(
        "kill -9 of the leader x20 (seed {seed}): {} messages for {} changes, {repeats} repeated; death to next confirmed message: median {med:?}, worst {worst:?}, all {takeovers:?}",
        received.len(),
        expected.len()
    );
    assert!(med <= Duration::from_secs(5), "median takeover {med:?}");
    assert!(worst <= Duration::from_secs(15), "worst takeover {worst:?}");
    cluster.clean_up().await;
}

/// How the leader loses its lock session while its process and binlog stream live on.
#[derive(Debug, Clone, Copy)]
enum LockLoss {
    /// A loopback proxy stops passing its bytes: the server frees the lock one lease later.
    Silent,
    /// `KILL` on the server: the lock is free at once.
    Killed,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_database_publishes_nothing_after_the_takeover() {
    cut_off_leader(LockLoss::Silent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lock_session_is_killed_publishes_nothing_after_the_takeover() {
    cut_off_leader(LockLoss::Killed).await;
}

/// The leader loses its lock session while rows keep coming; a standby takes over, and in
/// the queue nothing from the old leader follows the new leader's first message.
async fn cut_off_leader(loss: LockLoss) {
    let _shared = SERVER_SETTINGS.read().await;
    let cluster = Cluster::new("ha_cut_off").await;
    // The leader-to-be reaches the database through a proxy, and publishes to its own
    // exchange, bound to the same queue: the consumer can tell its messages from the
    // others'.
    let proxy = Proxy::start(("127.0.0.1".into(), services().mysql_port)).await;
    let own_exchange = unique("x_cut_off");
    cluster
        .queue
        .bind_exchange(&own_exchange, &format!("{}.#", cluster.db.name))
        .await;
    let cut_off = cluster.spawn(&[
        ("BINLOG_RELAY__SOURCE__PORT", proxy.port.to_string()),
        (
            "BINLOG_RELAY__SINK__RABBITMQ__EXCHANGE",
            own_exchange.clone(),
        ),
        // Checkpoint writes would reveal a lost session within 100 ms (the tests' interval):
        // with the default interval, the keeper's pings are what notices.
        ("BINLOG_RELAY__CHECKPOINT__INTERVAL_MS", "1000".into()),
    ]);
    let workload = Workload {
        transactions: 60,
        flush_every: None,
        pause: Duration::from_millis(100),
    };
    let mut expected = Expected::default();
    workload
        .run(&cluster.db, 0..5, &mut expected)
        .await
        .expect("write");
    let first = [cut_off];
    leader_with_a_confirmed_message(&first, Duration::from_secs(60))
        .await
        .expect("the first instance did not lead");
    let [cut_off] = first;
    let mut instances = vec![cluster.spawn(&[]), cluster.spawn(&[])];

    // Rows keep coming while the leader loses its lock session.
    let writer = workload.spawn(&cluster.db, 5..workload.transactions, expected);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Only the lock session is hit: the binlog stream keeps flowing to the old leader, so
    // without fencing it would go on publishing the rows written from now on.
    let hit = Instant::now();
    match loss {
        // Its first connection through the proxy is the lock session. New connections
        // are cut off too (else it could win its own lock back the moment the server
        // frees it); the binlog stream, already open, keeps flowing.
        LockLoss::Silent => proxy.cut_one_and_new(1),
        LockLoss::Killed => {
            use mysql_async::prelude::Queryable;
            let mut conn = cluster.db.pool.get_conn().await.expect("connection");
            let id: Option<u64> = conn
                .query_first(format!(
                    "SELECT leader_connection FROM `{}`.checkpoints",
                    cluster.state_db
                ))
                .await
                .expect("leader row");
            conn.query_drop(format!("KILL {}", id.expect("a leader connection")))
                .await
                .expect("KILL");
        }
    }
    let Some((_, took_over)) =
        leader_with_a_confirmed_message(&instances, Duration::from_secs(60)).await
    else {
        instances.push(cut_off);
        let logs: String = stop_all(instances)
            .await
            .iter()
            .map(|d| d.stderr.clone())
            .collect();
        panic!("{loss:?}: no standby took over\n{logs}");
    };
    eprintln!(
        "{loss:?} lock session: a standby had a message confirmed {:?} later",
        took_over - hit
    );
    let expected = writer.await.expect("writer task").expect("workload");
    let received = collect_all(&cluster.queue, &expected, &[], Duration::from_secs(120)).await;

    // In the queue, nothing from the cut-off leader comes after the first message of the
    // new one: it stopped publishing before the takeover.
    let first_new = received
        .iter()
        .position(|m| m.exchange == cluster.queue.exchange)
        .expect("the new leader published");
    let late: Vec<_> = received[first_new..]
        .iter()
        .filter(|m| m.exchange == own_exchange)
        .collect();
    assert!(
        late.is_empty(),
        "{loss:?}: {} messages from the cut-off leader after the takeover",
        late.len()
    );
    let before = received[..first_new].len();
    check_delivery(&expected, &received, 2);

    // The cut-off instance no longer leads, has wound its run down (while its lock's
    // session is still silent: nothing waits on it), and says why in its log.
    let stood_down = |scrape: &str| {
        metric(scrape, "binlog_relay_leader_changes_total{change=\"lost\"}").unwrap_or(0.0) >= 1.0
    };
    // Within a few leases of the hit: nothing in the wind-down waits on the dead session.
    let deadline = hit + Duration::from_secs(30);
    // Scraped at least once, however long collecting the messages took.
    let mut scrape = loop {
        let scrape = http_get(cut_off.port, "/metrics")
            .await
            .map(|r| r.1)
            .unwrap_or_default();
        if stood_down(&scrape) || Instant::now() >= deadline {
            break scrape;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if scrape.is_empty() {
        // Not answering at all is its own failure; one more try names it.
        scrape = http_get(cut_off.port, "/metrics")
            .await
            .map(|r| r.1)
            .unwrap_or_else(|| "(no answer from /metrics)".into());
    }
    if !stood_down(&scrape) {
        let finished = stop_all(vec![cut_off]).await;
        panic!(
            "the cut-off leader did not stand down:\n{scrape}\n{}",
            finished[0].stderr
        );
    }
    assert_eq!(role(&cut_off).await.map(|r| r.0), Some(false));
    proxy.set(Mode::Relay);
    instances.push(cut_off);
    let all = stop_all(instances).await;
    let logs: String = all.iter().map(|d| d.stderr.as_str()).collect();
    assert!(logs.contains("stood down"), "{logs}");
    eprintln!("{loss:?}: {before} messages from the first leader, none after the takeover");
    cluster.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_restart_under_three_instances_leaves_one_leader_and_loses_nothing() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let mut cluster = Cluster::new("ha_restart").await;
    let instances: Vec<Instance> = (0..3).map(|_| cluster.spawn(&[])).collect();
    let workload = Workload {
        transactions: 40,
        flush_every: None,
        pause: Duration::from_millis(20),
    };
    let mut expected = Expected::default();
    workload
        .run(&cluster.db, 0..20, &mut expected)
        .await
        .expect("write");
    leader_with_a_confirmed_message(&instances, Duration::from_secs(60))
        .await
        .expect("no leader before the restart");
    service("mariadb-restart");
    cluster.db.pool = mysql();
    workload
        .run(&cluster.db, 20..40, &mut expected)
        .await
        .expect("write after the restart");
    let received = collect_all(&cluster.queue, &expected, &[], Duration::from_secs(120)).await;
    // Settled: exactly one leader.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(leaders(&instances).await, 1);
    let done = stop_all(instances).await;
    for d in &done {
        assert_eq!(d.code, Some(0), "{}", d.stderr);
    }
    let repeats = check_delivery(&expected, &received, 3);
    eprintln!(
        "mariadb restart under three instances: {} messages for {} changes, {repeats} repeated",
        received.len(),
        expected.len()
    );
    cluster.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_store_keeps_the_store_contract_and_its_writes_are_fenced() {
    use binlog_relay::checkpoint::CheckpointStore;
    use binlog_relay::schema::history::HistoryStore;
    let _shared = SERVER_SETTINGS.read().await;
    let cluster = Cluster::new("ha_contract").await;
    let config =
        binlog_relay::config::Config::load_with_env(Some(&cluster.path), []).expect("config");
    let source = binlog_relay::source::BinlogSource::new(&config.source);
    let mut contender = binlog_relay::source::lease::Contender::connect(
        &source,
        config.checkpoint.lease_settings(),
    )
    .await
    .expect("connect");
    assert!(
        contender
            .try_acquire(Duration::from_secs(1))
            .await
            .expect("lock")
    );
    let lease = contender.into_lease();
    let state = binlog_relay::pipeline::state::State::database(&config, lease.clone())
        .await
        .expect("tables");
    let mut checkpoints = state.checkpoint_store().expect("store");
    let mut history = state.history_store();
    // The same checks the file and memory stores pass, called from async code as the
    // pipeline calls them.
    binlog_relay::checkpoint::contract(&mut checkpoints);
    binlog_relay::schema::history::contract(&mut history);
    let saved = checkpoints.load().expect("load");
    // Damaged rows are reported as such, naming where they are.
    exec(
        &cluster.db.pool,
        &[
            &format!(
                "UPDATE `{}`.checkpoints SET checkpoint = '{{not json'",
                cluster.state_db
            ),
            &format!(
                "UPDATE `{}`.schema_history SET body = '[' WHERE seq = 1",
                cluster.state_db
            ),
        ],
    )
    .await;
    let damaged = checkpoints.load().expect_err("a damaged checkpoint");
    assert!(
        damaged.to_string().contains("not a valid checkpoint")
            && damaged.to_string().contains(&cluster.state_db),
        "{damaged}"
    );
    let damaged = history.load().expect_err("a damaged history");
    assert!(damaged.to_string().contains("schema_history"), "{damaged}");
    // Once the lock is given up, nothing more is written through it.
    lease.release().await;
    let cp = saved.unwrap_or_else(|| {
        binlog_relay::checkpoint::Checkpoint::new(
            binlog_relay::position::BinlogPosition::new("bin.000009", 4),
            1,
            None,
        )
    });
    let refused = checkpoints.save(&cp);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("no longer holds the leader lock")),
        "{refused:?}"
    );
    source.close().await;
    cluster.clean_up().await;
}

/// A write stuck on the lock's session (a silent network, a wedged server) must not hold
/// the leader's stand-down up until the query timeout: once the keeper declares the lease
/// lost, the write gives up with `Lost`, and releasing the lease asks the dead session
/// nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_stuck_on_the_lock_session_gives_up_when_the_lease_does() {
    use futures_util::FutureExt;
    use mysql_async::prelude::Queryable;
    let _shared = SERVER_SETTINGS.read().await;
    let cluster = Cluster::new("ha_stuck").await;
    let config =
        binlog_relay::config::Config::load_with_env(Some(&cluster.path), []).expect("config");
    assert_eq!(
        config.source.query_timeout_ms, 20_000,
        "the default query timeout"
    );
    let source = binlog_relay::source::BinlogSource::new(&config.source);
    let mut settings = config.checkpoint.lease_settings();
    // The shortest lease allowed: the keeper gives up after one second without an answer.
    settings.lease = Duration::from_secs(2);
    let mut contender = binlog_relay::source::lease::Contender::connect(&source, settings)
        .await
        .expect("connect");
    assert!(
        contender
            .try_acquire(Duration::from_secs(1))
            .await
            .expect("lock")
    );
    let lease = contender.into_lease();
    let began = Instant::now();
    // Holds the session (and so the keeper's pings) for longer than the query timeout.
    let stuck = lease
        .fenced(|conn, _| {
            async move {
                conn.query_drop("DO SLEEP(60)")
                    .await
                    .map_err(binlog_relay::source::lease::LeaseError::Query)
            }
            .boxed()
        })
        .await;
    let gave_up = began.elapsed();
    assert!(
        matches!(
            stuck,
            Err(binlog_relay::source::lease::LeaseError::Lost { .. })
        ),
        "{stuck:?}"
    );
    assert!(lease.is_lost());
    // Well before the 20 s query timeout: at the keeper's verdict, one second in.
    assert!(
        gave_up < Duration::from_secs(10),
        "gave up after {gave_up:?}"
    );
    let released = Instant::now();
    lease.release().await;
    assert!(
        released.elapsed() < Duration::from_secs(2),
        "release took {:?}",
        released.elapsed()
    );
    eprintln!("a stuck write gave up after {gave_up:?}");
    source.close().await;
    cluster.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_checkpoint_moves_into_the_database_store_and_the_commands_follow_it() {
    let _shared = SERVER_SETTINGS.read().await;
    let cluster = Cluster::new("ha_move").await;
    let mut expected = Expected::default();
    let workload = Workload {
        transactions: 4,
        flush_every: None,
        pause: Duration::ZERO,
    };
    workload
        .run(&cluster.db, 0..2, &mut expected)
        .await
        .expect("write");
    // One instance on files first.
    let files = [
        ("BINLOG_RELAY__CHECKPOINT__STORE", "file"),
        ("BINLOG_RELAY__SOURCE__START", cluster.start.as_str()),
    ];
    let done = run_to_now(&cluster.path, &files).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let on_file = cluster.config.checkpoint();
    let mut received = drain_until_quiet(&cluster.queue, Duration::from_millis(300)).await;

    // Refused until the config says where to copy to; then copied in one command.
    let (code, out) = relay_command(
        &cluster.path,
        &["positions", "copy-to-database"],
        &files[..1],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("checkpoint.store"), "{out}");
    let (code, out) = relay_command(&cluster.path, &["positions", "copy-to-database"], &[]).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = relay_command(&cluster.path, &["positions", "show"], &[]).await;
    assert_eq!(code, 0, "{out}");
    let file = on_file["position"]["file"].as_str().expect("file");
    let offset = on_file["position"]["offset"].as_u64().expect("offset");
    assert!(
        out.contains(&format!("checkpoint: {file}:{offset}")),
        "{out}"
    );
    let (_, out) = relay_command(&cluster.path, &["positions", "copy-to-database"], &[]).await;
    assert!(out.contains("already has a checkpoint"), "{out}");

    // check: the store's grants and a free lock; then, with an instance running, its holder,
    // and the commands that write the state refuse to.
    let (_, out) = relay_command(&cluster.path, &["check"], &[]).await;
    assert!(out.contains("ok   state grants"), "{out}");
    assert!(out.contains("is free"), "{out}");
    let running = cluster.spawn(&[]);
    let first = [running];
    leader_with_a_confirmed_message(&first, Duration::from_secs(30)).await;
    let (_, out) = relay_command(&cluster.path, &["check"], &[]).await;
    assert!(out.contains("held by pid"), "{out}");
    let (code, out) = relay_command(
        &cluster.path,
        &["positions", "set", &format!("{file}:{offset}")],
        &[],
    )
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("an instance of this pipeline is running"),
        "{out}"
    );
    let (code, out) = relay_command(&cluster.path, &["schema", "recapture"], &[]).await;
    assert_eq!(code, 2, "{out}");

    // The instance resumed from the copied checkpoint: rows written now arrive, the ones
    // before it do not come again.
    workload
        .run(&cluster.db, 2..4, &mut expected)
        .await
        .expect("write");
    received.extend(
        collect_all(
            &cluster.queue,
            &expected,
            &received,
            Duration::from_secs(60),
        )
        .await,
    );
    let done = stop_all(Vec::from(first)).await;
    assert_eq!(done[0].code, Some(0), "{}", done[0].stderr);
    received.extend(drain_until_quiet(&cluster.queue, Duration::from_millis(300)).await);
    assert_eq!(
        check_delivery(&expected, &received, 0),
        0,
        "repeats after the move"
    );
    // Stopped: recapture works on the database store.
    let (code, out) = relay_command(&cluster.path, &["schema", "recapture"], &[]).await;
    assert_eq!(code, 0, "{out}");
    cluster.clean_up().await;
}
