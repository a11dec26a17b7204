//! Fault injection against the real services: the daemon killed with SIGKILL over and over,
//! RabbitMQ stopped and started, MariaDB restarted, the binlog rotated, all in the middle of
//! a stream. After each, what a consumer received is checked row by row against what the
//! workload wrote: every (table, primary key, row image) arrived, per table in binlog order,
//! and the only repeats are of rows after the checkpoint a restarted daemon resumed from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::support::*;

/// Rows per insert transaction.
const ROWS_PER_TRANSACTION: usize = 200;
const TABLES: [&str; 2] = ["accounts", "events"];

/// A row change as a consumer can check it: table, type, primary key, row image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Change {
    pub(super) table: String,
    pub(super) kind: String,
    pub(super) id: u64,
    pub(super) data: String,
}

/// What the workload wrote, per table in commit order.
#[derive(Debug, Default)]
pub(super) struct Expected {
    pub(super) per_table: BTreeMap<String, Vec<Change>>,
}

impl Expected {
    pub(super) fn len(&self) -> usize {
        self.per_table.values().map(Vec::len).sum()
    }
}

pub(super) fn image(id: u64, n: u64) -> String {
    serde_json::json!({ "id": id, "val": format!("v{id}"), "n": n }).to_string()
}

/// The workload: insert transactions alternating between the tables; every fifth one is
/// followed by an update of the 50 rows it just wrote. `flush_every` adds FLUSH BINARY LOGS.
#[derive(Debug, Clone, Copy)]
pub(super) struct Workload {
    pub(super) transactions: usize,
    pub(super) flush_every: Option<usize>,
    pub(super) pause: Duration,
}

impl Workload {
    /// Runs transactions `range` in a task of its own, on its own connections, adding to
    /// `expected`.
    pub(super) fn spawn(
        self,
        db: &TestDb,
        range: std::ops::Range<usize>,
        mut expected: Expected,
    ) -> tokio::task::JoinHandle<Result<Expected, mysql_async::Error>> {
        let db = TestDb {
            pool: mysql(),
            name: db.name.clone(),
        };
        tokio::spawn(async move { self.run(&db, range, &mut expected).await.map(|()| expected) })
    }

    /// Runs transactions 0, 1, 2, ... in a task of its own until `stop` is set, at least
    /// `self.transactions` of them and at most four times as many: a fault loop that takes longer than planned (a slow
    /// machine, slow restarts) still finds rows being written at its last fault.
    pub(super) fn spawn_until(
        self,
        db: &TestDb,
        stop: Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<Result<Expected, mysql_async::Error>> {
        let db = TestDb {
            pool: mysql(),
            name: db.name.clone(),
        };
        tokio::spawn(async move {
            let mut expected = Expected::default();
            let mut t = 0;
            // Capped, so a loop that never ends does not write for ever.
            while t < self.transactions
                || (!stop.load(Ordering::Relaxed) && t < self.transactions * 4)
            {
                self.run(&db, t..t + 1, &mut expected).await?;
                t += 1;
            }
            Ok(expected)
        })
    }

    /// Runs transactions `range` and records what they should produce.
    pub(super) async fn run(
        &self,
        db: &TestDb,
        range: std::ops::Range<usize>,
        expected: &mut Expected,
    ) -> Result<(), mysql_async::Error> {
        use mysql_async::prelude::Queryable;
        let mut conn = db.pool.get_conn().await?;
        for t in range {
            let table = TABLES[t % TABLES.len()];
            let first = (t * ROWS_PER_TRANSACTION) as u64 + 1;
            let ids = first..first + ROWS_PER_TRANSACTION as u64;
            let values: Vec<String> = ids
                .clone()
                .map(|id| format!("({id},'v{id}',{id})"))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO {}.{table} (id, val, n) VALUES {}",
                db.name,
                values.join(",")
            ))
            .await?;
            let out = expected.per_table.entry(table.to_owned()).or_default();
            out.extend(ids.clone().map(|id| Change {
                table: table.to_owned(),
                kind: "insert".into(),
                id,
                data: image(id, id),
            }));
            if t % 5 == 4 {
                let last = first + 49;
                conn.query_drop(format!(
                    "UPDATE {}.{table} SET n = n + 1000000 WHERE id BETWEEN {first} AND {last}",
                    db.name
                ))
                .await?;
                out.extend((first..=last).map(|id| Change {
                    table: table.to_owned(),
                    kind: "update".into(),
                    id,
                    data: image(id, id + 1_000_000),
                }));
            }
            if self.flush_every.is_some_and(|n| t % n == n - 1) {
                conn.query_drop("FLUSH BINARY LOGS").await?;
            }
            tokio::time::sleep(self.pause).await;
        }
        Ok(())
    }
}

pub(super) async fn fault_db(prefix: &str) -> TestDb {
    let ddl: Vec<String> = TABLES
        .iter()
        .map(|t| {
            format!("CREATE TABLE {{db}}.{t} (id BIGINT PRIMARY KEY, val VARCHAR(40), n BIGINT)")
        })
        .collect();
    let refs: Vec<&str> = ddl.iter().map(String::as_str).collect();
    TestDb::create(prefix, &refs).await
}

/// A daemon whose messages survive a broker restart: durable exchange and queue, persistent
/// messages, and the binlog position in every message for the resume check.
pub(super) fn fault_config(exchange: &str) -> DaemonConfig {
    let mut config = DaemonConfig::new(exchange);
    config.rabbitmq_extra = "exchange_durable = true\npersistent = true\nmax_in_flight = 200\n\
         [reconnect]\ninitial_delay_ms = 100\nmax_delay_ms = 1000\n\
         [output]\nbinlog_position = true\n"
        .into();
    config
}

/// A message body, parsed.
pub(super) fn change_of(m: &Received) -> (Change, String) {
    let v: serde_json::Value = serde_json::from_str(&m.body).expect("message is JSON");
    let data = v["data"].to_string();
    let change = Change {
        table: v["table"].as_str().expect("table").to_owned(),
        kind: v["type"].as_str().expect("type").to_owned(),
        id: v["data"]["id"].as_u64().expect("data.id"),
        data,
    };
    (change, v["position"].as_str().expect("position").to_owned())
}

/// `file:offset` as a comparable pair.
pub(super) fn position_key(p: &str) -> (String, u64) {
    let (file, offset) = p.rsplit_once(':').expect("FILE:POS");
    (file.to_owned(), offset.parse().expect("offset"))
}

/// Where the first table map of `db` at or after `from` is, read from the server's binlog:
/// a checkpoint before it is before that transaction, whatever other tests wrote between.
async fn first_table_map_of(db: &TestDb, from: &(String, u64)) -> (String, u64) {
    use mysql_async::prelude::Queryable;
    let mut conn = db.pool.get_conn().await.expect("mysql connection");
    let files: Vec<mysql_async::Row> = conn.query("SHOW BINARY LOGS").await.expect("logs");
    let wanted = format!("({}.", db.name);
    for file in files.iter().filter_map(|r| r.get::<String, _>(0)) {
        if file < from.0 {
            continue;
        }
        let start = if file == from.0 { from.1 } else { 4 };
        let events: Vec<mysql_async::Row> = conn
            .query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {start}"))
            .await
            .expect("binlog events");
        for event in events {
            let (Some(pos), Some(kind), Some(info)) = (
                event.get::<u64, _>(1),
                event.get::<String, _>(2),
                event.get::<String, _>(5),
            ) else {
                continue;
            };
            if kind == "Table_map" && info.contains(&wanted) {
                return (file, pos);
            }
        }
    }
    panic!("no table map of {} after {from:?}", db.name)
}

/// The no-loss check. `received` is everything the queue delivered, in order. Returns the
/// number of repeated messages.
pub(super) fn check_delivery(expected: &Expected, received: &[Received], restarts: usize) -> usize {
    let mut order: HashMap<&Change, usize> = HashMap::new();
    for changes in expected.per_table.values() {
        for (i, c) in changes.iter().enumerate() {
            order.insert(c, i);
        }
    }
    // Every change arrived, and nothing the workload did not write.
    let got: BTreeSet<Change> = received.iter().map(|m| change_of(m).0).collect();
    let want: BTreeSet<Change> = expected.per_table.values().flatten().cloned().collect();
    let missing: Vec<&Change> = want.difference(&got).take(5).collect();
    let unexpected: Vec<&Change> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{} of {} changes missing (first: {missing:?}); unexpected: {unexpected:?}",
        want.difference(&got).count(),
        want.len()
    );
    // Per table, each change arrives for the first time right after the one before it:
    // a restart may go back and repeat, never skip ahead.
    let mut next: HashMap<String, usize> = HashMap::new();
    let mut previous: HashMap<String, usize> = HashMap::new();
    let mut jumps_back: HashMap<String, usize> = HashMap::new();
    for m in received {
        let (change, _) = change_of(m);
        let i = order[&change];
        let want_next = next.entry(change.table.clone()).or_insert(0);
        assert!(
            i <= *want_next,
            "{}: change #{i} ({change:?}) arrived before #{want_next}",
            change.table
        );
        if i == *want_next {
            *want_next += 1;
        }
        if let Some(p) = previous.insert(change.table.clone(), i)
            && i != p + 1
        {
            *jumps_back.entry(change.table.clone()).or_insert(0) += 1;
        }
    }
    for (table, jumps) in &jumps_back {
        assert!(
            *jumps <= restarts,
            "{table}: the stream went back {jumps} times, but the daemon restarted only {restarts} times"
        );
    }
    received.len() - got.len()
}

/// Takes messages until the queue stays empty for `quiet`.
pub(super) async fn drain_until_quiet(queue: &Queue, quiet: Duration) -> Vec<Received> {
    let mut all = Vec::new();
    let mut idle_since = std::time::Instant::now();
    while idle_since.elapsed() < quiet {
        let got = queue.drain().await;
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            all.extend(got);
            idle_since = std::time::Instant::now();
        }
    }
    all
}

/// Takes messages until every expected change not among `already` arrived (or the timeout
/// passes).
pub(super) async fn collect_all(
    queue: &Queue,
    expected: &Expected,
    already: &[Received],
    timeout: Duration,
) -> Vec<Received> {
    let want: BTreeSet<Change> = expected.per_table.values().flatten().cloned().collect();
    let deadline = std::time::Instant::now() + timeout;
    let mut all: Vec<Received> = Vec::new();
    let mut seen: BTreeSet<Change> = already.iter().map(|m| change_of(m).0).collect();
    while seen.len() < want.len() && std::time::Instant::now() < deadline {
        let got = queue.drain().await;
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seen.extend(got.iter().map(|m| change_of(m).0));
        all.extend(got);
    }
    all
}

/// One fault test's world: its database, a durable queue, and a daemon configuration that
/// starts where the database's history begins.
struct Scenario {
    db: TestDb,
    queue: Queue,
    config: DaemonConfig,
    path: std::path::PathBuf,
    start: String,
    /// The daemon's `/metrics` port.
    port: u16,
}

impl Scenario {
    async fn new(prefix: &str) -> Self {
        let db = fault_db(prefix).await;
        let queue = Queue::durable(&format!("{}.#", db.name)).await;
        let config = fault_config(&queue.exchange);
        let path = config.write();
        let start = db.position().await;
        Self {
            db,
            queue,
            config,
            path,
            start,
            port: free_port(),
        }
    }

    /// Starts the daemon (no `--stop-at`), with extra environment.
    fn spawn(&self, env: &[(&str, &str)]) -> tokio::process::Child {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut all = vec![
            ("BINLOG_RELAY__SOURCE__START", self.start.as_str()),
            ("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()),
        ];
        all.extend_from_slice(env);
        spawn_daemon(&self.path, &[], &all)
    }

    /// The daemon's messages awaiting confirmation now (0 when it does not answer).
    async fn in_flight(&self) -> f64 {
        match http_get(self.port, "/metrics").await {
            Some((200, body)) => metric(&body, "binlog_relay_in_flight_messages").unwrap_or(0.0),
            _ => 0.0,
        }
    }

    /// Waits until the daemon has messages awaiting confirmation, so a fault lands with
    /// messages in flight; returns how many.
    async fn wait_in_flight(&self) -> f64 {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let n = self.in_flight().await;
            if n > 0.0 {
                return n;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no message was in flight within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Checks that the daemon is still running after the fault and reconnected, stops it,
    /// and checks that everything expected arrived. Returns the number of repeats.
    async fn rode_it_out(
        &self,
        child: tokio::process::Child,
        expected: &Expected,
        fault: &str,
    ) -> usize {
        let received = collect_all(&self.queue, expected, &[], Duration::from_secs(60)).await;
        let mut child = child;
        assert!(
            child.try_wait().expect("daemon status").is_none(),
            "{fault}: the daemon exited instead of reconnecting"
        );
        signal(&child, "TERM");
        let done = wait(child, Duration::from_secs(30)).await;
        assert_eq!(done.code, Some(0), "{}", done.stderr);
        assert!(
            done.stderr.contains("connection lost; resuming"),
            "{fault}: no reconnect was logged:\n{}",
            done.stderr
        );
        let repeats = check_delivery(expected, &received, 10);
        eprintln!(
            "{fault}: {} messages for {} changes, {repeats} repeated",
            received.len(),
            expected.len()
        );
        repeats
    }

    async fn clean_up(self) {
        self.queue.delete().await;
        self.db.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kill_9s_during_50k_rows_lose_nothing() {
    let _shared = SERVER_SETTINGS.read().await;
    let world = Scenario::new("faults_kill").await;
    let Scenario {
        db,
        queue,
        config,
        path,
        start,
        ..
    } = &world;
    let env = [("BINLOG_RELAY__SOURCE__START", start.as_str())];

    // At least 250 transactions of 200 rows (50,000 inserts, plus 2,500 updates) over
    // several seconds, and more until the tenth kill.
    let workload = Workload {
        transactions: 250,
        flush_every: None,
        pause: Duration::from_millis(25),
    };
    let stop_writing = Arc::new(AtomicBool::new(false));
    let writer = workload.spawn_until(db, stop_writing.clone());

    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut received = Vec::new();
    let mut kills = 0;
    let mut mid_stream = 0;
    let mut in_start = 0;
    let mut last_checkpoint: Option<(String, u64)> = None;
    while kills < 10 {
        // The 4th and 8th incarnations are killed during their start (connecting, checking
        // the server, capturing the schema), before they are ready.
        if kills % 4 == 3 {
            let child = spawn_daemon(path, &[], &env);
            tokio::time::sleep(Duration::from_millis(rng.u64(0..300))).await;
            signal(&child, "KILL");
            let done = wait(child, Duration::from_secs(10)).await;
            assert_eq!(done.code, None, "killed by a signal, seed {seed}");
            kills += 1;
            in_start += 1;
            continue;
        }
        // The others a random while after they are ready, not during a start that, on a
        // loaded machine, can outlast the whole random delay: the kill lands on a stream in
        // motion, after the first checkpoint is saved.
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut env = env.to_vec();
        env.push(("BINLOG_RELAY__HTTP__LISTEN", listen.as_str()));
        let mut child = spawn_daemon(path, &[], &env);
        let ready_by = std::time::Instant::now() + Duration::from_secs(60);
        while !matches!(http_get(port, "/readyz").await, Some((200, _))) {
            // An incarnation that exits, or never gets ready, fails with its own log.
            let exited = child.try_wait().ok().flatten().is_some();
            if exited || std::time::Instant::now() > ready_by {
                let done = wait(child, Duration::from_secs(10)).await;
                panic!(
                    "incarnation {} was not ready (exited: {exited}, seed {seed}):\n{}",
                    kills + 1,
                    done.stderr
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(150..700))).await;
        signal(&child, "KILL");
        let done = wait(child, Duration::from_secs(10)).await;
        assert_eq!(done.code, None, "killed by a signal, seed {seed}");
        kills += 1;
        // What this incarnation published; anything later comes from the next one.
        let batch = drain_until_quiet(queue, Duration::from_millis(300)).await;
        if let Some(resumed_from) = &last_checkpoint {
            for m in &batch {
                let (change, position) = change_of(m);
                assert!(
                    position_key(&position) >= *resumed_from,
                    "after restart {kills}, {change:?} at {position} comes before the checkpoint {resumed_from:?} it resumed from (seed {seed})"
                );
            }
        }
        let cp = config.checkpoint();
        let now = (
            cp["position"]["file"].as_str().expect("file").to_owned(),
            cp["position"]["offset"].as_u64().expect("offset"),
        );
        // Mid-stream: this incarnation published messages its checkpoint does not cover,
        // which the next one must send again.
        if batch.iter().any(|m| position_key(&change_of(m).1) > now) {
            mid_stream += 1;
        }
        received.extend(batch);
        if let Some(before) = &last_checkpoint {
            assert!(
                now >= *before,
                "the checkpoint went back from {before:?} to {now:?}"
            );
        }
        last_checkpoint = Some(now);
    }
    stop_writing.store(true, Ordering::Relaxed);
    let expected = writer.await.expect("writer task").expect("workload");
    assert!(expected.len() >= 52_500, "{}", expected.len());

    // The last incarnation runs to the end of the workload and stops there.
    run_to_now(path, &env).await;
    let rest = drain_until_quiet(queue, Duration::from_millis(300)).await;
    if let Some(resumed_from) = &last_checkpoint {
        for m in &rest {
            let (change, position) = change_of(m);
            assert!(
                position_key(&position) >= *resumed_from,
                "after the last restart, {change:?} at {position} precedes the checkpoint {resumed_from:?}"
            );
        }
    }
    received.extend(rest);
    let repeats = check_delivery(&expected, &received, kills);
    eprintln!(
        "kill -9 x{kills} (seed {seed}): {in_start} during a start, {mid_stream} with messages past the checkpoint; {} messages for {} changes, {repeats} repeated",
        received.len(),
        expected.len()
    );
    // The kills after a start hit a stream in motion, not an idle daemon: most left
    // published messages the checkpoint did not cover, and those came again.
    assert!(
        mid_stream * 2 >= kills - in_start,
        "only {mid_stream} of {} kills after a start landed mid-stream (seed {seed})",
        kills - in_start
    );
    assert!(repeats > 0, "no message was ever repeated (seed {seed})");
    world.clean_up().await;
}

/// Writes 60 transactions with a service fault after the first 22: `stop` runs then, and
/// `restart` (when given) after 18 more, written while the service was away. The fault
/// lands with messages in flight: the broker's memory alarm holds the last two
/// transactions' confirmations until the fault has hit. The daemon runs throughout and
/// must lose nothing.
async fn ride_out(prefix: &str, fault: &str, stop: &str, restart: Option<&'static str>) {
    let _exclusive = SERVER_SETTINGS.write().await;
    let mut world = Scenario::new(prefix).await;
    let child = world.spawn(&[]);
    let workload = Workload {
        transactions: 60,
        flush_every: Some(7),
        pause: Duration::from_millis(10),
    };
    let mut expected = Expected::default();
    let write = async |world: &Scenario, range, expected: &mut Expected| {
        workload
            .run(&world.db, range, expected)
            .await
            .expect("write");
    };
    write(&world, 0..20, &mut expected).await;
    service("rabbit-block");
    // Cleared even if an assertion fails first, so later tests do not find the alarm on.
    let unblock = RunOnDrop::new("rabbit-unblock");
    write(&world, 20..22, &mut expected).await;
    let in_flight = world.wait_in_flight().await;
    service(stop);
    // Restarted even if a write fails first, so later tests find the service up.
    if let Some(restart) = restart.map(RunOnDrop::new) {
        write(&world, 22..40, &mut expected).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        restart.run();
    }
    unblock.run();
    eprintln!("{fault}: {in_flight} messages in flight when it hit");
    // The test's own connections died with the service.
    world.db.pool = mysql();
    world.queue = world.queue.reopen().await;
    let rest = if restart.is_some() { 40..60 } else { 22..60 };
    write(&world, rest, &mut expected).await;
    world.rode_it_out(child, &expected, fault).await;
    world.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_stays_behind_messages_the_broker_never_confirmed() {
    // The broker connection runs through a proxy that then swallows everything: the
    // daemon publishes, nothing is confirmed (or even stored). Its checkpoint, saved every
    // 100 ms, must stay before those messages; killed, its successor must send them.
    let _shared = SERVER_SETTINGS.read().await;
    let world = Scenario::new("faults_unconfirmed").await;
    let proxy = super::proxy::Proxy::start(services().amqp_authority()).await;
    let through_proxy = services().amqp_uri.replace(
        &format!(":{}/", services().amqp_authority().1),
        &format!(":{}/", proxy.port),
    );
    // Heartbeats and the confirm timeout would end the swallowed connection after 10 s
    // (tests/live/liveness.rs tests that); here the checkpoint is watched meanwhile. Only
    // this test's rows are published: other tests' rows, written meanwhile, would fill the
    // window before this test's transaction.
    let only_ours = format!("exclude: *.*, include: {}.*", world.db.name);
    let env = [
        ("BINLOG_RELAY__FILTER__RULES", only_ours.as_str()),
        ("BINLOG_RELAY__SINK__RABBITMQ__URI", through_proxy.as_str()),
        ("BINLOG_RELAY__SINK__RABBITMQ__HEARTBEAT_SECS", "120"),
        ("BINLOG_RELAY__SINK__RABBITMQ__CONFIRM_TIMEOUT_MS", "120000"),
    ];
    let child = world.spawn(&env);
    let workload = Workload {
        transactions: 12,
        flush_every: None,
        pause: Duration::ZERO,
    };
    let mut expected = Expected::default();
    workload
        .run(&world.db, 0..6, &mut expected)
        .await
        .expect("write");
    let first = collect_all(&world.queue, &expected, &[], Duration::from_secs(30)).await;
    assert_eq!(first.len(), expected.len());

    let published = |body: &str| {
        ["insert", "update"]
            .iter()
            .map(|kind| {
                metric(
                    body,
                    &format!("binlog_relay_messages_published_total{{type=\"{kind}\"}}"),
                )
                .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    let scrape = || async {
        match http_get(world.port, "/metrics").await {
            Some((200, body)) => body,
            _ => String::new(),
        }
    };
    proxy.set(super::proxy::Mode::Blackhole);
    let before = position_key(&world.db.position().await);
    let published_before = published(&scrape().await);
    let mut later = Expected::default();
    workload
        .run(&world.db, 6..12, &mut later)
        .await
        .expect("write");
    // The first new transaction's messages were all handed to the (swallowing) broker:
    // the window (max_in_flight 200) holds one transaction of 200 rows.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while published(&scrape().await) < published_before + ROWS_PER_TRANSACTION as f64 {
        if std::time::Instant::now() > deadline {
            signal(&child, "KILL");
            let done = wait(child, Duration::from_secs(10)).await;
            panic!(
                "the first new transaction was not published:\n{}",
                done.stderr
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (table, changes) in later.per_table {
        expected.per_table.entry(table).or_default().extend(changes);
    }
    let in_flight = world.in_flight().await;
    // Many checkpoint intervals, with transactions published and none confirmed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cp = world.config.checkpoint();
    let saved = (
        cp["position"]["file"].as_str().expect("file").to_owned(),
        cp["position"]["offset"].as_u64().expect("offset"),
    );
    // Other tests' transactions (filtered out) may be checkpointed, up to this test's first
    // unconfirmed one.
    let first_unconfirmed = first_table_map_of(&world.db, &before).await;
    assert!(
        saved < first_unconfirmed,
        "the checkpoint {saved:?} moved past {first_unconfirmed:?}, inside the first of {in_flight} unconfirmed messages' transactions"
    );
    signal(&child, "KILL");
    let _ = wait(child, Duration::from_secs(10)).await;
    proxy.set(super::proxy::Mode::Relay);

    // The next start, straight to the broker, sends what was never confirmed.
    run_to_now(
        &world.path,
        &[("BINLOG_RELAY__SOURCE__START", world.start.as_str())],
    )
    .await;
    let rest = collect_all(&world.queue, &expected, &first, Duration::from_secs(30)).await;
    let received: Vec<Received> = first.into_iter().chain(rest).collect();
    check_delivery(&expected, &received, 1);
    world.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_killed_hard_with_messages_in_flight_loses_nothing() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let mut world = Scenario::new("faults_kill_broker").await;
    let child = world.spawn(&[]);
    let workload = Workload {
        transactions: 40,
        flush_every: None,
        pause: Duration::from_millis(10),
    };
    let mut expected = Expected::default();
    workload
        .run(&world.db, 0..10, &mut expected)
        .await
        .expect("write");
    let node_pid = service_output_line("rabbit-pid");
    // A burst of persistent messages, whose confirmations wait for the broker's disk; the
    // node dies with some of them unconfirmed.
    let burst = {
        let db = TestDb {
            pool: mysql(),
            name: world.db.name.clone(),
        };
        tokio::spawn(async move {
            let mut expected = Expected::default();
            let burst = Workload {
                transactions: 40,
                flush_every: None,
                pause: Duration::ZERO,
            };
            burst
                .run(&db, 10..20, &mut expected)
                .await
                .map(|()| expected)
        })
    };
    // Killed the moment messages are seen in flight: no CLI start-up in between.
    let in_flight = world.wait_in_flight().await;
    // Started again even if an assertion fails first, so later tests find the broker up.
    let restart = RunOnDrop::new("rabbit-start");
    let killed = std::process::Command::new("kill")
        .args(["-9", &node_pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let burst = burst.await.expect("burst task").expect("burst");
    for (table, changes) in burst.per_table {
        expected.per_table.entry(table).or_default().extend(changes);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    restart.run();
    world.queue = world.queue.reopen().await;
    workload
        .run(&world.db, 20..40, &mut expected)
        .await
        .expect("write");
    eprintln!("kill -9 of the broker: {in_flight} messages in flight when it died");
    world.rode_it_out(child, &expected, "broker kill -9").await;
    world.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_stopping_mid_stream_loses_nothing_and_the_daemon_rides_it_out() {
    ride_out(
        "faults_broker",
        "broker stop/start",
        "rabbit-stop",
        Some("rabbit-start"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_restarting_mid_stream_loses_nothing_and_the_daemon_rides_it_out() {
    ride_out("faults_db", "MariaDB restart", "mariadb-restart", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_broker_pauses_publishing_and_is_logged() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let world = Scenario::new("faults_blocked").await;
    let (db, queue) = (&world.db, &world.queue);
    let child = world.spawn(&[]);
    let workload = Workload {
        transactions: 4,
        flush_every: None,
        pause: Duration::ZERO,
    };
    let mut expected = Expected::default();
    workload.run(db, 0..2, &mut expected).await.expect("write");
    let first = collect_all(queue, &expected, &[], Duration::from_secs(30)).await;
    assert_eq!(first.len(), expected.len());

    service("rabbit-block");
    // Cleared even if an assertion fails first, so later tests do not find the alarm on.
    let unblock = RunOnDrop::new("rabbit-unblock");
    workload.run(db, 2..4, &mut expected).await.expect("write");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = queue.drain().await;
    unblock.run();
    assert!(
        during.is_empty(),
        "{} messages got through a blocked connection",
        during.len()
    );
    let rest = collect_all(queue, &expected, &first, Duration::from_secs(30)).await;
    let received: Vec<Received> = first.into_iter().chain(rest).collect();

    let mut child = child;
    assert!(child.try_wait().expect("daemon status").is_none());
    signal(&child, "TERM");
    let done = wait(child, Duration::from_secs(30)).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("RabbitMQ blocked publishing")
            && done.stderr.contains("blocked_total=1"),
        "the block was not logged and counted:\n{}",
        done.stderr
    );
    assert_eq!(check_delivery(&expected, &received, 0), 0);
    world.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_cannot_finish_ends_at_the_deadline_or_on_a_second_signal() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let world = Scenario::new("faults_deadline").await;
    let Scenario {
        db,
        queue,
        config,
        path,
        start,
        ..
    } = &world;
    let env = [
        ("BINLOG_RELAY__SOURCE__START", start.as_str()),
        ("BINLOG_RELAY__SHUTDOWN__DEADLINE_MS", "1500"),
    ];
    let workload = Workload {
        transactions: 1,
        flush_every: None,
        pause: Duration::ZERO,
    };
    let mut expected = Expected::default();

    // The broker takes messages but never confirms them while its memory alarm is on.
    service("rabbit-block");
    // Cleared even if an assertion fails first, so later tests do not find the alarm on.
    let unblock = RunOnDrop::new("rabbit-unblock");
    let child = spawn_daemon(path, &[], &env);
    workload.run(db, 0..1, &mut expected).await.expect("write");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopping = std::time::Instant::now();
    signal(&child, "TERM");
    let deadline = wait(child, Duration::from_secs(20)).await;
    let took = stopping.elapsed();

    let child = spawn_daemon(path, &[], &env);
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&child, "TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "TERM");
    let second = wait(child, Duration::from_secs(5)).await;
    unblock.run();

    assert_eq!(deadline.code, Some(1), "{}", deadline.stderr);
    assert!(
        deadline.stderr.contains("the shutdown deadline passed"),
        "{}",
        deadline.stderr
    );
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    assert_eq!(second.code, Some(1), "{}", second.stderr);
    assert!(
        second.stderr.contains("a second signal arrived"),
        "{}",
        second.stderr
    );
    // Nothing was confirmed, so the checkpoint is still where the daemon started.
    assert_eq!(
        format!(
            "{}:{}",
            config.checkpoint()["position"]["file"]
                .as_str()
                .expect("file"),
            config.checkpoint()["position"]["offset"]
        ),
        *start
    );
    // The two stopped runs' publishes sat unread in the blocked broker's sockets; once it
    // unblocks, it may route them, interleaved with each other. Let that settle and set it
    // aside: the claim here is about the next start alone.
    let settle_until = std::time::Instant::now() + Duration::from_secs(15);
    let mut quiet_since = std::time::Instant::now();
    while std::time::Instant::now() < settle_until && quiet_since.elapsed() < Duration::from_secs(2)
    {
        if !queue.drain().await.is_empty() {
            quiet_since = std::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And the next start sends the whole transaction, once, in order: every change, no
    // repeat, nothing else.
    run_to_now(path, &env).await;
    let received = collect_all(queue, &expected, &[], Duration::from_secs(30)).await;
    assert_eq!(check_delivery(&expected, &received, 0), 0);
    assert_eq!(received.len(), expected.len());
    world.clean_up().await;
}

/// The source's `@@gtid_binlog_pos`.
async fn gtid_binlog_pos(db: &TestDb) -> String {
    use mysql_async::prelude::Queryable;
    let mut conn = db.pool.get_conn().await.expect("connection");
    conn.query_first("SELECT @@gtid_binlog_pos")
        .await
        .expect("gtid_binlog_pos")
        .expect("a value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_gtid_mode_a_checkpoint_follows_the_source_to_another_server() {
    let _exclusive = SERVER_SETTINGS.write().await;
    let world = Scenario::new("faults_gtid").await;
    let Scenario {
        db,
        queue,
        config,
        path,
        start,
        ..
    } = &world;
    let workload = Workload {
        transactions: 10,
        flush_every: Some(3),
        pause: Duration::ZERO,
    };
    let mut expected = Expected::default();
    workload.run(db, 0..5, &mut expected).await.expect("write");
    run_to_now(path, &[("BINLOG_RELAY__SOURCE__START", start)]).await;
    // The checkpoint names the same point by GTID as the server does.
    assert_eq!(
        config.checkpoint()["gtid_position"].as_str(),
        Some(gtid_binlog_pos(db).await.as_str())
    );

    // "Failover": the source now answers with another server_id, and writes GTIDs of its
    // own, as a promoted replica would.
    exec(&db.pool, &["SET GLOBAL server_id = 102"]).await;
    // Put back even if an assertion fails first: later tests expect server 101.
    let restore = ExecOnDrop::new("SET GLOBAL server_id = 101");
    workload.run(db, 5..10, &mut expected).await.expect("write");
    let refused = wait(
        spawn_daemon(path, &["--stop-at", "now"], &[]),
        Duration::from_secs(60),
    )
    .await;
    let followed = wait(
        spawn_daemon(
            path,
            &["--stop-at", "now"],
            &[("BINLOG_RELAY__SOURCE__GTID_MODE", "true")],
        ),
        Duration::from_secs(60),
    )
    .await;
    let after = config.checkpoint();
    let server_gtid = gtid_binlog_pos(db).await;
    restore.run().await;

    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("server_id 101") && refused.stderr.contains("source.gtid_mode"),
        "{}",
        refused.stderr
    );
    assert_eq!(followed.code, Some(0), "{}", followed.stderr);
    assert!(
        followed
            .stderr
            .contains("continuing from the same GTID position"),
        "{}",
        followed.stderr
    );
    assert_eq!(after["server_id"], 102);
    assert_eq!(after["gtid_position"].as_str(), Some(server_gtid.as_str()));
    // Every row exactly once: nothing before the GTID position was sent again.
    let received = collect_all(queue, &expected, &[], Duration::from_secs(30)).await;
    assert_eq!(check_delivery(&expected, &received, 0), 0);
    assert_eq!(received.len(), expected.len());
    world.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_stop_the_daemon_instead_of_retrying_forever() {
    let _shared = SERVER_SETTINGS.read().await;
    let queue = Queue::bind("nothing.#").await;
    let config = fault_config(&queue.exchange);
    let path = config.write();
    let wrong = services().amqp_uri.replace("guest:guest@", "guest:wrong@");
    let started = std::time::Instant::now();
    let done = wait(
        spawn_daemon(&path, &[], &[("BINLOG_RELAY__SINK__RABBITMQ__URI", &wrong)]),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(done.code, Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("ACCESS_REFUSED"), "{}", done.stderr);
    assert!(
        !done.stderr.contains("connection lost; resuming"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("guest:wrong"),
        "the password was logged"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
