//! The pipeline: wires source → schema → decode → filter → format → sink → checkpoint
//! together and runs it until it is told to stop, reaches `--stop-at`, or fails.
//!
//! [`startup`] finds what streaming needs (the checkpoint or start position, GTIDs, the
//! schema, a failover to follow) and builds the reader. [`stream`] then runs the reader
//! and the [`publisher`] as two tasks joined by a bounded channel, on any event source and
//! any sink: the live server here, a binlog file in [`replay`]. The bound means a slow
//! broker slows the binlog reader instead of growing memory. [`run`] rides out lost
//! connections: a failure ends a run, and after a pause a new run resumes from the
//! checkpoint.

pub mod bootstrap;
pub mod failover;
pub mod leader;
pub mod publisher;
pub mod reader;
pub mod replay;
pub mod schema_start;
pub mod startup;
pub mod state;
pub mod stream;

use std::time::Duration;

use tracing::warn;

use crate::checkpoint::{Checkpoint, CheckpointStore, StoreKind};
use crate::config::Config;
use crate::error::Error;
use crate::format::Batch;
use crate::metrics::METRICS;
use crate::position::BinlogPosition;
use crate::schema::history::HistoryStore;
use crate::shutdown::ShutdownSignal;
use crate::sink::rabbitmq::RabbitmqSink;
use crate::sink::stdout::StdoutSink;
use crate::sink::{Sink, SinkKind};
use crate::source::BinlogSource;
use state::State;

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
    /// The source had no more events (the end of a replayed file); the checkpoint is the
    /// last fully confirmed transaction.
    Ended(Option<Checkpoint>),
}

/// Runs the daemon with the configured sink until it is told to stop, reaches `--stop-at`,
/// or meets an error the operator must fix. With the database store it first waits to lead
/// ([`leader::run`]); with files it leads alone.
pub async fn run(
    config: &Config,
    stop_at: Option<StopAt>,
    shutdown: ShutdownSignal,
) -> Result<Outcome, Error> {
    match config.checkpoint.store {
        StoreKind::File => {
            METRICS.leader.set(1);
            let mut stop_at = stop_at;
            run_leading(config, &mut stop_at, shutdown, &State::files(config)).await
        }
        StoreKind::Database => leader::run(config, stop_at, shutdown).await,
    }
}

/// Streams with `state` until stopped or an error the operator must fix. A lost connection
/// to the broker or the database is not such an error: the run ends as on any error (what
/// is confirmed is checkpointed), and after a pause a new run resumes from the checkpoint,
/// re-sending what was unconfirmed.
pub(crate) async fn run_leading(
    config: &Config,
    stop_at: &mut Option<StopAt>,
    shutdown: ShutdownSignal,
    state: &State,
) -> Result<Outcome, Error> {
    let mut pauses = crate::reconnect::Pauses::new(&config.reconnect);
    loop {
        let began = std::time::Instant::now();
        let result = run_once(config, stop_at, shutdown.clone(), state).await;
        METRICS.disconnected();
        let error = match result {
            Err(e) if e.is_transient() && shutdown.is_triggered() => {
                // Asked to stop while a connection was down: what is confirmed is saved.
                warn!(error = %e, "stopped while a connection was lost");
                return stopped(state);
            }
            Err(e) if e.is_transient() => e,
            done => return done,
        };
        let side = error.lost_side().unwrap_or("source");
        METRICS.reconnects.with_label_values(&[side]).inc();
        crate::metrics::STATUS.error(&error);
        if side == "sink" {
            // The node in use went away: try the next one of a cluster first.
            crate::sink::rabbitmq::prefer_next_address();
        }
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
            _ = wait.wait() => return stopped(state),
        }
    }
}

/// A stop between runs: the checkpoint the last run saved (unknown once a lease is lost).
fn stopped(state: &State) -> Result<Outcome, Error> {
    if state.lease().is_some_and(|l| l.is_lost()) {
        return Ok(Outcome::Stopped(None));
    }
    let saved = state.checkpoint_store()?.load()?;
    Ok(Outcome::Stopped(saved))
}

/// One run: connects the sink and the source, and runs until either fails or it ends.
/// `--stop-at now` is pinned to a position on the first run that reads it, so a resumed run
/// stops at the same place.
async fn run_once(
    config: &Config,
    stop_at: &mut Option<StopAt>,
    shutdown: ShutdownSignal,
    state: &State,
) -> Result<Outcome, Error> {
    if matches!(stop_at, Some(StopAt::Now)) {
        let source = BinlogSource::new(&config.source);
        let now = source.current_position().await;
        source.close().await;
        *stop_at = Some(StopAt::At(now?));
    }
    let store = state.checkpoint_store()?;
    let history = || state.history_store();
    // Whether this instance may still publish: always with the file store; while its
    // lease holds with the database store.
    let may_publish: Fence = match state {
        State::Database { lease, .. } => {
            let lease = lease.clone();
            std::sync::Arc::new(move || lease.is_valid())
        }
        State::File(_) => std::sync::Arc::new(|| true),
    };
    match config.sink.kind {
        SinkKind::Rabbitmq => {
            let sink = RabbitmqSink::connect(&config.sink.rabbitmq).await?;
            METRICS.sink_connected.set(1);
            run_with(
                config,
                stop_at.clone(),
                shutdown,
                sink,
                store,
                history,
                may_publish,
            )
            .await
        }
        SinkKind::Stdout => {
            METRICS.sink_connected.set(1);
            let sink = StdoutSink::new();
            run_with(
                config,
                stop_at.clone(),
                shutdown,
                sink,
                store,
                history,
                may_publish,
            )
            .await
        }
    }
}

/// Whether this instance may still publish (see [`publisher::Publisher::with_fence`]).
pub type Fence = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// Runs the daemon on the live source with a given sink and checkpoint store: start-up,
/// then streaming. `may_publish` says whether this instance may still publish (false once
/// its leader lease ran out; always true with the file store).
async fn run_with<S, C, H>(
    config: &Config,
    stop_at: Option<StopAt>,
    shutdown: ShutdownSignal,
    sink: S,
    mut store: C,
    history: impl FnMut() -> H,
    may_publish: Fence,
) -> Result<Outcome, Error>
where
    S: Sink + 'static,
    C: CheckpointStore + 'static,
    H: HistoryStore + 'static,
{
    let source = BinlogSource::new(&config.source).with_row_query(config.output.row_query);
    let stops = stop_at.is_some();
    let ready = match startup::prepare(config, &source, &mut store, history, stop_at).await? {
        startup::Startup::Ready(ready) => *ready,
        startup::Startup::AtStop(checkpoint) => {
            sink.close().await;
            source.close().await;
            return Ok(Outcome::ReachedStop(checkpoint));
        }
    };
    let resume = ready.checkpoint.bootstrap.clone();
    // Bootstrap waits on saved checkpoints: a request is complete once its messages are.
    let (saved_tx, saved_rx) = tokio::sync::watch::channel(None);
    let events = source.stream_from(&ready.start, &ready.server).await?;
    METRICS.streaming.set(1);
    let rabbitmq = &config.sink.rabbitmq;
    let publisher = publisher::Publisher::new(
        sink,
        store,
        Some(ready.checkpoint),
        rabbitmq.max_in_flight,
        Duration::from_millis(config.checkpoint.interval_ms),
    )
    .with_retry(publisher::RetryPolicy {
        first: Duration::from_millis(rabbitmq.retry_delay_ms),
        max: Duration::from_millis(rabbitmq.retry_max_delay_ms),
    })
    .with_confirm_timeout(Duration::from_millis(rabbitmq.confirm_timeout_ms))
    .with_saved_watch(saved_tx)
    .with_fence(move || may_publish());
    // Bootstrap requests run beside the stream; a worker that cannot run (no grants to
    // write its marks, say) says so and leaves the stream alone.
    // Not on a run that stops at a position: it reads up to there and writes nothing.
    let (shared, requests) = bootstrap::Shared::new(config.bootstrap.clone(), resume, saved_rx);
    let (reader, requests) = if stops {
        (ready.reader, None)
    } else {
        (ready.reader.with_bootstrap(shared.clone()), Some(requests))
    };
    let worker = tokio::spawn({
        let (config, shutdown) = (config.clone(), shutdown.clone());
        async move {
            let Some(requests) = requests else {
                return;
            };
            if let Err(e) = bootstrap::worker(config, shared.clone(), requests, shutdown).await {
                warn!(error = %e, "bootstrap worker stopped; requests wait for the next start");
            }
            shared.worker_stopped();
        }
    });
    let outcome = stream::stream(events, reader, publisher, shutdown).await;
    worker.abort();
    source.close().await;
    outcome
}
