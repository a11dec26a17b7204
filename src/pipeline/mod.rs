//! The pipeline: wires source → schema → decode → format → sink → checkpoint together and
//! runs it until it is told to stop, reaches `--stop-at`, or fails.
//!
//! Two tasks joined by a bounded channel: the [`reader`] reads and renders transactions, the
//! [`publisher`] publishes them, awaits confirms and writes the checkpoint. The bound means a
//! slow broker slows the binlog reader instead of growing memory.

pub mod failover;
pub mod positions;
pub mod publisher;
pub mod reader;
pub mod replay;
pub mod schema_start;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::checkpoint::{Checkpoint, CheckpointStore, FileStore};
use crate::config::Config;
use crate::error::Error;
use crate::format::Batch;
use crate::metrics::METRICS;
use crate::position::BinlogPosition;
use crate::schema::history::FileHistoryStore;
use crate::shutdown::ShutdownSignal;
use crate::sink::rabbitmq::RabbitmqSink;
use crate::sink::stdout::StdoutSink;
use crate::sink::{Sink, SinkKind};
use crate::source::gtid::GtidState;
use crate::source::{BinlogSource, StartFrom};

/// Deliveries waiting for the publisher. Each holds at most about [`CHUNK_BYTES`] of
/// messages (or one larger message), so this bounds the memory between the two tasks.
const CHANNEL_CAPACITY: usize = 16;
/// A committed transaction larger than this goes to the publisher in several deliveries.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Messages of one committed transaction (possibly none) and where the binlog stands after
/// it. A large transaction comes in several deliveries; only the last one ends it.
#[derive(Debug)]
pub struct Delivery {
    pub batch: Batch,
    pub end: Checkpoint,
    /// Index in the transaction of the batch's first message.
    pub first_index: usize,
    /// This delivery completes the transaction: the checkpoint may move to `end` once its
    /// messages and all before are confirmed.
    pub last: bool,
}

impl Delivery {
    /// A whole transaction in one delivery.
    pub fn whole(batch: Batch, end: Checkpoint) -> Self {
        Self {
            batch,
            end,
            first_index: 0,
            last: true,
        }
    }
}

/// Where `--stop-at` asks the daemon to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopAt {
    /// The server's position when the daemon starts.
    Now,
    At(BinlogPosition),
}

/// How a run ended without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything up to the `--stop-at` position is published, confirmed and checkpointed.
    ReachedStop(Checkpoint),
    /// Stopped on request; the checkpoint is the last fully confirmed transaction.
    Stopped(Option<Checkpoint>),
}

/// Runs the daemon with the configured sink until it is told to stop, reaches `--stop-at`,
/// or meets an error the operator must fix. A lost connection to the broker or the database
/// is not such an error: the run ends as on any error (what is confirmed is checkpointed),
/// and after a pause a new run resumes from the checkpoint, re-sending what was unconfirmed.
pub async fn run(
    config: &Config,
    stop_at: Option<StopAt>,
    shutdown: ShutdownSignal,
) -> Result<Outcome, Error> {
    let mut stop_at = stop_at;
    let mut pauses = crate::reconnect::Pauses::new(&config.reconnect);
    loop {
        let began = std::time::Instant::now();
        let result = run_once(config, &mut stop_at, shutdown.clone()).await;
        METRICS.disconnected();
        let error = match result {
            Err(e) if e.is_transient() && shutdown.is_triggered() => {
                // Asked to stop while a connection was down: what is confirmed is saved.
                warn!(error = %e, "stopped while a connection was lost");
                return stopped(config);
            }
            Err(e) if e.is_transient() => e,
            done => return done,
        };
        let side = error.lost_side().unwrap_or("source");
        METRICS.reconnects.with_label_values(&[side]).inc();
        let pause = pauses.next(began.elapsed());
        warn!(
            error = %error,
            lost = side,
            retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
            "connection lost; resuming from the last confirmed checkpoint after a pause"
        );
        let mut wait = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = wait.wait() => return stopped(config),
        }
    }
}

/// A stop between runs: the checkpoint the last run saved.
fn stopped(config: &Config) -> Result<Outcome, Error> {
    let saved = FileStore::open(&config.checkpoint.dir)?.load()?;
    Ok(Outcome::Stopped(saved))
}

/// One run: connects the sink and the source, and runs until either fails or it ends.
/// `--stop-at now` is pinned to a position on the first run that reads it, so a resumed run
/// stops at the same place.
async fn run_once(
    config: &Config,
    stop_at: &mut Option<StopAt>,
    shutdown: ShutdownSignal,
) -> Result<Outcome, Error> {
    if matches!(stop_at, Some(StopAt::Now)) {
        let source = BinlogSource::new(&config.source);
        let now = source.current_position().await;
        source.close().await;
        *stop_at = Some(StopAt::At(now?));
    }
    let store = FileStore::open(&config.checkpoint.dir)?;
    match config.sink.kind {
        SinkKind::Rabbitmq => {
            let sink = RabbitmqSink::connect(&config.sink.rabbitmq).await?;
            METRICS.sink_connected.set(1);
            run_with(config, stop_at.clone(), shutdown, sink, store).await
        }
        SinkKind::Stdout => {
            METRICS.sink_connected.set(1);
            run_with(config, stop_at.clone(), shutdown, StdoutSink::new(), store).await
        }
    }
}

/// Runs the daemon with a given sink and checkpoint store (tests pass doubles).
pub async fn run_with<S, C>(
    config: &Config,
    stop_at: Option<StopAt>,
    shutdown: ShutdownSignal,
    sink: S,
    mut store: C,
) -> Result<Outcome, Error>
where
    S: Sink + 'static,
    C: CheckpointStore + 'static,
{
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    METRICS.source_connected.set(1);
    info!(version = %server.version, server_id = server.server_id, "source server checked");

    let saved = match store.load()? {
        Some(cp) if config.source.gtid_mode && check_same_server(&cp, &server).is_err() => {
            Some(failover::follow(config, &source, &server, cp, &mut store).await?)
        }
        other => other,
    };
    let mut start_checkpoint;
    let start = match &saved {
        Some(cp) => {
            check_same_server(cp, &server)?;
            source.check_available(&cp.position).await?;
            info!(position = %cp.position, "resuming from checkpoint");
            start_checkpoint = cp.clone();
            cp.position.clone()
        }
        None => {
            let start = match &config.source.start {
                StartFrom::Latest => source.current_position().await?,
                StartFrom::Earliest => source.earliest_position().await?,
                StartFrom::At(p) => p.clone(),
                StartFrom::Maxwell(store) => {
                    match source.maxwell_position(store, server.server_id).await? {
                        Some(p) => {
                            source.check_available(&p).await?;
                            info!(position = %p, client_id = %store.client_id, "continuing where Maxwell stopped");
                            p
                        }
                        None => {
                            info!(database = %store.database, "no Maxwell state on the source server; starting at its current position");
                            source.current_position().await?
                        }
                    }
                }
            };
            // Saved once the schema for it is captured, below.
            start_checkpoint = Checkpoint {
                position: start.clone(),
                gtid: None,
                server_id: server.server_id,
                gtid_position: None,
                server_uuid: server.server_uuid.clone(),
            };
            info!(position = %start, from = %config.source.start, "no checkpoint; starting");
            start
        }
    };
    // The GTID position (MariaDB) or executed GTID set (MySQL) is followed alongside the
    // file and offset, so the checkpoint names its point in a form every server of the
    // topology knows (source.gtid_mode). Taken before the stream opens: finding the MySQL
    // set reads the binlog on a connection registered with the same replica server_id.
    let saved_gtids = saved
        .as_ref()
        .and_then(|cp| cp.gtid_position.as_deref())
        .and_then(|text| GtidState::parse(text, &server));
    let gtids = match saved_gtids {
        Some(state) => Some(state),
        None => source.gtids_at(&start, &server).await?,
    };
    if saved.is_none() {
        start_checkpoint.gtid_position = gtids.as_ref().map(ToString::to_string);
    }

    // Before the stream opens: a first capture reads ahead in the binlog on a connection
    // that registers with the same replica server_id, and the server allows one at a time.
    let mut schema = schema_start::open(&source, &server, &start, saved.is_some(), || {
        FileHistoryStore::new(&config.checkpoint.dir)
    })
    .await?;
    let filter = std::sync::Arc::new(config.filter.compile()?);
    let blacklist = filter.clone();
    schema.untrack(Box::new(move |db, table| {
        blacklist.is_blacklisted(db, table)
    }));
    if saved.is_none() {
        // Record the starting point at once, as Maxwell does: a crash before the first
        // transaction must not turn "latest" into a later position on restart. Only now,
        // with the schema history for it on disk: a checkpoint always has its history.
        store.save(&start_checkpoint)?;
        METRICS.checkpoint_saved(&start_checkpoint.position);
    }
    let stop_at = match stop_at {
        None => None,
        Some(StopAt::Now) => Some(source.current_position().await?),
        Some(StopAt::At(p)) => {
            let now = source.current_position().await?;
            if !now.reached(&p) {
                warn!(stop_at = %p, server_position = %now, "the stop position is beyond what the server has written; waiting until it gets there");
            }
            Some(p)
        }
    };
    if let Some(stop) = &stop_at
        && start.reached(stop)
    {
        info!(position = %start, stop_at = %stop, "already at the stop position");
        sink.close().await;
        source.close().await;
        return Ok(Outcome::ReachedStop(start_checkpoint));
    }

    let events = source.stream_from(&start, &server).await?;
    METRICS.streaming.set(1);
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let masking = config.masking.compile(|name| std::env::var(name).ok())?;
    if !masking.is_empty() {
        for problem in masking.unmatched(known_tables(schema.catalog())) {
            warn!("{problem}; check the names in [masking]");
        }
    }
    let options = config
        .output
        .compile_with(masking)
        .map_err(crate::error::Error::Config)?;
    let reader = reader::Reader::new(
        schema,
        std::sync::Arc::new(options),
        start,
        server.server_id,
        stop_at,
    )
    .with_limits(&config.transactions)
    .with_server_uuid(server.server_uuid.clone())
    .with_filter(filter)
    .with_gtids(gtids);
    let reader_task = tokio::spawn(reader.run(events, tx, shutdown.clone()));
    let publisher = publisher::Publisher::new(
        sink,
        store,
        Some(start_checkpoint),
        config.sink.rabbitmq.max_in_flight,
        std::time::Duration::from_millis(config.checkpoint.interval_ms),
    );
    let published = publisher.run(rx, shutdown).await;
    let read = reader_task
        .await
        .map_err(|e| Error::Task(format!("binlog reader: {e}")))?;
    source.close().await;

    // The reader's error explains a publisher that merely saw its input end, and vice versa.
    let reached_stop = read?;
    let checkpoint = published?;
    if reached_stop {
        let cp = checkpoint.ok_or_else(|| Error::Task("no checkpoint at stop".into()))?;
        info!(position = %cp.position, "reached the stop position; everything before it is confirmed");
        Ok(Outcome::ReachedStop(cp))
    } else {
        Ok(Outcome::Stopped(checkpoint))
    }
}

/// Refuses a checkpoint taken on another server: its binlog positions mean nothing here.
/// The server_id must match, and the server_uuid too when both sides have one (MySQL).
pub fn check_same_server(cp: &Checkpoint, server: &crate::source::ServerInfo) -> Result<(), Error> {
    let uuid_differs = matches!(
        (&cp.server_uuid, &server.server_uuid),
        (Some(a), Some(b)) if a != b
    );
    if cp.server_id != server.server_id || uuid_differs {
        let describe = |id: u32, uuid: &Option<String>| match uuid {
            Some(u) => format!("server_id {id}, server_uuid {u}"),
            None => format!("server_id {id}"),
        };
        return Err(Error::ServerChanged {
            checkpoint: describe(cp.server_id, &cp.server_uuid),
            server: describe(server.server_id, &server.server_uuid),
        });
    }
    Ok(())
}

/// What `binlog-relay schema recapture` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recaptured {
    /// The position the new history starts at: the checkpoint's.
    pub position: BinlogPosition,
    pub tables: usize,
    /// Tables still unknown at that position (changed between it and the capture).
    pub unknown: usize,
}

/// Replaces the schema history with a new capture valid from the checkpoint. The operator's
/// way out when a table is unknown.
pub async fn recapture(config: &Config, trust_current: bool) -> Result<Recaptured, Error> {
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    let store = FileStore::open(&config.checkpoint.dir)?;
    let position = match store.load()? {
        Some(cp) => {
            check_same_server(&cp, &server)?;
            cp.position
        }
        None => return Err(Error::NoCheckpointToRecapture),
    };
    let tracked = schema_start::capture_for(
        &source,
        &server,
        &position,
        FileHistoryStore::new(&config.checkpoint.dir),
        trust_current,
    )
    .await?;
    source.close().await;
    let catalog = tracked.catalog();
    let entries = catalog.databases.values().flat_map(|d| d.tables.values());
    let (mut tables, mut unknown) = (0, 0);
    for entry in entries {
        tables += 1;
        if matches!(entry, crate::schema::catalog::TableEntry::Unknown { .. }) {
            unknown += 1;
        }
    }
    Ok(Recaptured {
        position,
        tables,
        unknown,
    })
}

/// Each known table's database, name and column names, for start-up checks.
fn known_tables(
    catalog: &crate::schema::catalog::Catalog,
) -> impl Iterator<Item = (&str, &str, Vec<&str>)> + Clone {
    catalog.databases.iter().flat_map(|(db, database)| {
        database
            .tables
            .iter()
            .filter_map(move |(name, entry)| match entry {
                crate::schema::catalog::TableEntry::Known(def) => Some((
                    db.as_str(),
                    name.as_str(),
                    def.columns.iter().map(|c| c.name.as_str()).collect(),
                )),
                crate::schema::catalog::TableEntry::Unknown { .. } => None,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ServerInfo;

    fn server(id: u32, uuid: Option<&str>) -> ServerInfo {
        ServerInfo {
            version: "8.4.0".into(),
            is_mariadb: false,
            server_id: id,
            binlog_row_image: "FULL".into(),
            server_uuid: uuid.map(str::to_owned),
        }
    }

    fn checkpoint(id: u32, uuid: Option<&str>) -> Checkpoint {
        Checkpoint {
            position: BinlogPosition::new("binlog.000001", 4),
            gtid: None,
            server_id: id,
            gtid_position: None,
            server_uuid: uuid.map(str::to_owned),
        }
    }

    #[test]
    fn a_checkpoint_from_another_server_is_refused() {
        let a = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let b = "8a94f357-aab4-11df-86ab-c80aa9429563";
        assert!(check_same_server(&checkpoint(1, Some(a)), &server(1, Some(a))).is_ok());
        // MariaDB, or a checkpoint written before the uuid was recorded.
        assert!(check_same_server(&checkpoint(1, None), &server(1, Some(a))).is_ok());
        assert!(check_same_server(&checkpoint(1, None), &server(1, None)).is_ok());
        // A rebuilt server that kept its server_id but not its uuid.
        let err = check_same_server(&checkpoint(1, Some(a)), &server(1, Some(b)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(a) && err.contains(b), "{err}");
        assert!(err.contains("positions set"), "{err}");
        let err = check_same_server(&checkpoint(1, None), &server(2, None))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("server_id 1") && err.contains("server_id 2"),
            "{err}"
        );
    }
}
