//! The offline pipeline harness: `tests/fixtures/binlog/binlog-relay/pipeline.000001`
//! replayed through the real reader, publisher and checkpoint logic
//! (`pipeline::stream::stream`) into in-memory or test sinks and stores, and the rows its
//! SQL (`pipeline.sql`) wrote, as the oracle.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use binlog_relay::Error;
use binlog_relay::checkpoint::{Checkpoint, CheckpointStore};
use binlog_relay::format::{OutputOptions, TransactionsConfig};
use binlog_relay::pipeline::Outcome;
use binlog_relay::pipeline::publisher::Publisher;
use binlog_relay::pipeline::reader::Reader;
use binlog_relay::pipeline::stream::stream;
use binlog_relay::position::{BinlogPosition, FIRST_EVENT_OFFSET};
use binlog_relay::schema::PositionalNames;
use binlog_relay::shutdown::ShutdownSignal;
use binlog_relay::sink::Sink;
use binlog_relay::source::file::BinlogFileEvents;

/// The fixture's file name, which its checkpoints carry.
pub const FILE: &str = "pipeline.000001";

/// Where each of the fixture's five transactions ends (its XID event's end, as
/// `mariadb-binlog` lists them), and how many messages come before that point.
pub const T1_END: u64 = 1096;
pub const T2_END: u64 = 46453;
pub const T3_END: u64 = 47164;
pub const T5_END: u64 = 47816;
pub const ENDS: [(u64, usize); 5] = [
    (T1_END, 3),
    (T2_END, 2003),
    (T3_END, 2013),
    (47531, 2018),
    (T5_END, 2019),
];

/// How many messages precede a checkpoint at `offset` (a transaction end, or before T1).
pub fn messages_before(offset: u64) -> usize {
    ENDS.iter()
        .rev()
        .find(|(end, _)| *end <= offset)
        .map_or(0, |(_, n)| *n)
}

pub fn fixture() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/binlog/binlog-relay/pipeline.000001")
}

/// One row change as a consumer applies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    pub kind: String,
    pub id: i64,
    pub qty: i64,
}

/// The changes `pipeline.sql` made, in binlog order.
pub fn expected_changes() -> Vec<Change> {
    let change = |kind: &str, id: i64, qty: i64| Change {
        kind: kind.into(),
        id,
        qty,
    };
    let mut all = vec![
        change("insert", 1, 10),
        change("insert", 2, 20),
        change("insert", 3, 30),
    ];
    all.extend((4..=2003).map(|id| change("insert", id, id * 10)));
    all.extend((100..=109).map(|id| change("update", id, id * 10 + 1)));
    all.extend((200..=204).map(|id| change("delete", id, id * 10)));
    all.push(change("insert", 5000, 50000));
    all
}

/// The change a message describes.
pub fn change_of(body: &str) -> Change {
    let v: serde_json::Value = serde_json::from_str(body).expect("a JSON message");
    Change {
        kind: v["type"].as_str().expect("type").to_owned(),
        id: v["data"]["id"].as_i64().expect("data.id"),
        qty: v["data"]["qty"].as_i64().expect("data.qty"),
    }
}

/// How a run is set up.
pub struct Setup {
    /// Rows of an open transaction kept in memory, in MiB; 0 puts every row through the
    /// spill file.
    pub memory_limit_mb: u64,
    /// Where the spill file goes (the system's temporary directory when `None`).
    pub spill_dir: Option<PathBuf>,
    /// Bytes per delivery of a committed transaction.
    pub chunk_bytes: usize,
    pub stop_at: Option<BinlogPosition>,
    /// How often the publisher saves a newer confirmed checkpoint.
    pub interval: Duration,
    pub max_in_flight: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            memory_limit_mb: 16,
            spill_dir: None,
            chunk_bytes: 1 << 20,
            stop_at: None,
            interval: Duration::from_secs(3600),
            max_in_flight: 100,
        }
    }
}

/// Streams the fixture from `from` (the start of the file when `None`) through the
/// pipeline into `sink`, checkpointing into `store`, as the daemon would resume.
pub async fn run<S, C>(
    from: Option<&Checkpoint>,
    sink: S,
    store: C,
    setup: &Setup,
    shutdown: ShutdownSignal,
) -> Result<Outcome, Error>
where
    S: Sink + 'static,
    C: CheckpointStore + 'static,
{
    let offset = from.map_or(FIRST_EVENT_OFFSET, |cp| cp.position.offset);
    let events = BinlogFileEvents::open_at(&fixture(), offset).expect("fixture");
    let start = BinlogPosition::new(FILE, offset);
    let limits = TransactionsConfig {
        memory_limit_mb: setup.memory_limit_mb,
        spill_dir: setup.spill_dir.clone(),
    };
    let reader = Reader::new(
        PositionalNames,
        Arc::new(OutputOptions::default()),
        start,
        101,
        setup.stop_at.clone(),
    )
    .with_limits(&limits)
    .with_chunk_bytes(setup.chunk_bytes);
    let publisher = Publisher::new(
        sink,
        store,
        from.cloned(),
        setup.max_in_flight,
        setup.interval,
    );
    stream(events, reader, publisher, shutdown).await
}
