//! The reader task: binlog events in, rendered transactions out.
//!
//! It follows the binlog position through rotations, keeps the table map of each table id
//! ([`tables`]), decodes rows events against them ([`rows`]), buffers each transaction's
//! rendered rows until its COMMIT/XID, and sends every committed transaction (with the
//! position after it) to the publisher. Statements go to the schema provider ([`query`]):
//! the history is stored before anything after them is published, and each sends a
//! delivery of its own, empty or holding its DDL messages, so the checkpoint moves past it
//! too.

mod bootstrap;
mod query;
mod rows;
mod tables;

use std::sync::Arc;

use futures_util::FutureExt;
use mysql_common::binlog::consts::EventType;
use mysql_common::binlog::events::{
    Event, GtidEvent, PreviousGtidsEvent, RowsQueryEvent, XidEvent,
};
use prometheus::IntCounter;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::{CHUNK_BYTES, Delivery};
use crate::checkpoint::{BootstrapProgress, Checkpoint};
use crate::error::Error;
use crate::filter::Filter;
use crate::format::{Batch, OutputOptions, TransactionBuffer, TransactionsConfig};
use crate::metrics::METRICS;
use crate::position::BinlogPosition;
use crate::schema::SchemaProvider;
use crate::shutdown::ShutdownSignal;
use crate::source::event::{self, Follower};
use crate::source::gtid::{self, GtidSet, GtidState, MariadbGtid};
use crate::source::{EventSource, SourceError};

use tables::TableCache;

/// How a reader's run ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// Everything up to the stop position was read and handed on.
    ReachedStop,
    /// Shutdown was requested, or the publisher went away (its result says why).
    Stopped,
    /// The source has no more events (the end of a replayed file).
    SourceEnded,
}

/// The transaction being read: opened by BEGIN (or a MariaDB GTID), and forgotten as a
/// whole at its end.
#[derive(Debug, Default)]
struct OpenTransaction {
    /// Between BEGIN and COMMIT/XID/ROLLBACK.
    open: bool,
    /// The client thread, from the BEGIN query.
    thread_id: Option<u32>,
    /// The statement behind the rows that follow (ROWS_QUERY / ANNOTATE_ROWS).
    row_query: Option<String>,
}

/// Turns the event stream into deliveries.
pub struct Reader<P> {
    provider: P,
    options: Arc<OutputOptions>,
    tables: TableCache,
    /// The open transaction's rendered rows.
    buffer: TransactionBuffer,
    transaction: OpenTransaction,
    /// Where the stream stands: the position after the last event read, where a restart
    /// would continue.
    follower: Follower,
    /// Start of the event being handled, for error messages.
    event_start: BinlogPosition,
    /// GTID of the open (or last) transaction: MySQL `uuid[:tag]:gno`, MariaDB
    /// `domain-server-seq`.
    gtid: Option<String>,
    /// `@@server_id` of the source, recorded in checkpoints.
    server_id: u32,
    /// `@@server_uuid` of the source (MySQL), recorded in checkpoints.
    server_uuid: Option<String>,
    /// The GTID state after the last transaction read, when the server uses GTIDs.
    gtids: Option<GtidState>,
    /// A TRANSACTION_PAYLOAD event was just read: its decompressed events must follow.
    expect_payload_events: bool,
    /// DDL messages waiting for the end of the statement's transaction.
    pending_ddl: Batch,
    stop_at: Option<BinlogPosition>,
    /// The end of the committed transaction whose deliveries
    /// [`Self::next_committed_chunk`] is handing out.
    committing: Option<Checkpoint>,
    /// `binlog_relay_binlog_events_total` by event type code, looked up once each.
    event_counters: Vec<Option<IntCounter>>,
    /// The operator's filter.
    filter: Arc<Filter>,
    /// A committed transaction larger than this goes out in several deliveries.
    chunk_bytes: usize,
    /// Bootstrap requests and watermarks, when a worker runs beside this reader.
    bootstrap: Option<bootstrap::ReaderBootstrap>,
    /// How far the bootstrap under way got at the position read, carried in every
    /// checkpoint (also by runs without a bootstrap worker, which must not forget it).
    bootstrap_progress: Option<BootstrapProgress>,
}

impl<P: SchemaProvider> Reader<P> {
    pub fn new(
        provider: P,
        options: Arc<OutputOptions>,
        start: BinlogPosition,
        server_id: u32,
        stop_at: Option<BinlogPosition>,
    ) -> Self {
        Self {
            provider,
            tables: TableCache::default(),
            buffer: TransactionBuffer::new(options.clone()),
            options,
            transaction: OpenTransaction::default(),
            event_start: start.clone(),
            follower: Follower::new(start),
            gtid: None,
            server_id,
            server_uuid: None,
            gtids: None,
            expect_payload_events: false,
            pending_ddl: Batch::default(),
            stop_at,
            committing: None,
            event_counters: vec![None; 256],
            filter: Arc::new(Filter::default()),
            chunk_bytes: CHUNK_BYTES,
            bootstrap: None,
            bootstrap_progress: None,
        }
    }

    /// Watches the binlog for bootstrap requests and the worker's marks, and publishes
    /// the chunks the worker hands over (`pipeline::bootstrap`).
    pub fn with_bootstrap(mut self, shared: Arc<crate::pipeline::bootstrap::Shared>) -> Self {
        self.bootstrap = Some(bootstrap::ReaderBootstrap::new(
            shared,
            self.options.clone(),
        ));
        self
    }

    /// The bootstrap progress of the start position's checkpoint.
    pub fn with_bootstrap_progress(mut self, progress: Option<BootstrapProgress>) -> Self {
        self.bootstrap_progress = progress;
        self
    }

    /// Hands committed transactions to the publisher in deliveries of about `bytes`
    /// (default [`CHUNK_BYTES`]); tests use small ones to exercise chunking.
    pub fn with_chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Applies the operator's filter.
    pub fn with_filter(mut self, filter: Arc<Filter>) -> Self {
        self.filter = filter;
        self
    }

    /// Records the source's `@@server_uuid` in checkpoints.
    pub fn with_server_uuid(mut self, uuid: Option<String>) -> Self {
        self.server_uuid = uuid;
        self
    }

    /// Follows the GTID state from `start` (the state at the start position) and records it
    /// in checkpoints.
    pub fn with_gtids(mut self, start: Option<GtidState>) -> Self {
        self.gtids = start;
        self
    }

    /// Applies `transactions.memory_limit_mb` and `spill_dir`.
    pub fn with_limits(mut self, limits: &TransactionsConfig) -> Self {
        self.buffer = TransactionBuffer::with_limits(self.options.clone(), limits);
        self
    }

    /// The position after the last event read.
    fn position(&self) -> &BinlogPosition {
        self.follower.position()
    }

    /// Reads until shutdown, the stop position, the end of the source, an error, or the
    /// publisher going away.
    pub async fn run(
        mut self,
        mut events: impl EventSource,
        out: mpsc::Sender<Delivery>,
        mut shutdown: ShutdownSignal,
    ) -> Result<ReadEnd, Error> {
        let result = loop {
            // Readiness measures the stream's silence only while it is waited on, not
            // while a slow or blocked broker holds the reader back.
            METRICS.read_waiting_since.set(crate::metrics::unix_now());
            let event = tokio::select! {
                biased;
                _ = shutdown.wait() => break Ok(ReadEnd::Stopped),
                // The publisher stopped (its result says why): stop reading too, even while
                // the binlog is idle.
                _ = out.closed() => break Ok(ReadEnd::Stopped),
                event = events.next() => event,
            };
            METRICS.read_waiting_since.set(0.0);
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(SourceError::StreamClosed)) => {
                    break Err(Error::StreamEnded {
                        position: self.position().clone(),
                    });
                }
                // It starts where the last event read ends; inside a compressed
                // transaction, its events are reported at the transaction's position.
                Some(Err(SourceError::DamagedEvent { message })) => {
                    let position = if self.expect_payload_events {
                        self.event_start.clone()
                    } else {
                        self.position().clone()
                    };
                    break Err(Error::MalformedEvent {
                        event: "next",
                        position,
                        message,
                    });
                }
                Some(Err(e)) => break Err(Error::Source(e)),
                None => break Ok(ReadEnd::SourceEnded),
            };
            // Where this event starts, for a panic: handle_event moves the position first.
            let start = if self.expect_payload_events {
                self.event_start.clone()
            } else {
                self.position().clone()
            };
            // The watchdog stops being fed when one event keeps the reader busy.
            METRICS.reader_busy_since.set(crate::metrics::unix_now());
            // A panic is a bug, but one event must not take the process down without
            // saying where it is.
            let handled = std::panic::AssertUnwindSafe(self.handle_event(&event))
                .catch_unwind()
                .await;
            METRICS.reader_busy_since.set(0.0);
            let delivery = match handled {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => break Err(e),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    break Err(Error::ReaderPanicked {
                        position: start,
                        message,
                    });
                }
            };
            match self.forward(delivery, &out).await {
                Ok(true) => {}
                // The publisher stopped; its own result says why.
                Ok(false) => break Ok(ReadEnd::Stopped),
                Err(e) => break Err(e),
            }
            if !self.transaction.open
                && self
                    .stop_at
                    .as_ref()
                    .is_some_and(|stop| self.position().reached(stop))
            {
                break Ok(ReadEnd::ReachedStop);
            }
        };
        METRICS.read_waiting_since.set(0.0);
        events.close().await;
        result
    }

    /// Sends a delivery and, for a large transaction, the rest of its deliveries; the
    /// channel's bound keeps only a few of them in memory at once. `false` when the
    /// publisher is gone.
    async fn forward(
        &mut self,
        mut delivery: Option<Delivery>,
        out: &mpsc::Sender<Delivery>,
    ) -> Result<bool, Error> {
        while let Some(mut d) = delivery {
            if let Some(sealer) = &self.options.sealer {
                sealer.seal_batch(&mut d.batch).map_err(Error::Encrypt)?;
            }
            if out.send(d).await.is_err() {
                return Ok(false);
            }
            delivery = self.next_committed_chunk()?;
        }
        Ok(true)
    }

    /// The next delivery of a committed transaction that did not fit in one (see
    /// [`Self::with_chunk_bytes`]); `None` once it is all out. Call after every
    /// delivery [`Self::handle_event`] returns.
    pub fn next_committed_chunk(&mut self) -> Result<Option<Delivery>, Error> {
        let Some(end) = self.committing.clone() else {
            return Ok(None);
        };
        let chunk = self
            .buffer
            .next_chunk(self.chunk_bytes)
            .map_err(Error::Spill)?;
        let Some(chunk) = chunk else {
            self.committing = None;
            return Ok(None);
        };
        if chunk.last {
            self.committing = None;
            METRICS.spill_bytes.set(0);
        }
        Ok(Some(Delivery {
            batch: chunk.batch,
            end,
            first_index: chunk.first_index,
            last: chunk.last,
        }))
    }

    /// Handles one event; returns a delivery when a transaction (or a statement outside one)
    /// completed. `run` calls this for every event; tests may call it directly.
    pub async fn handle_event(&mut self, event: &Event) -> Result<Option<Delivery>, Error> {
        crate::failpoints::fail_point!(crate::failpoints::READER_HANDLE_EVENT, |_| Err(
            Error::Task("failpoint".into())
        ));
        let header = event.header();
        let type_code = header.event_type_raw();
        tracing::trace!(
            event_type = type_code,
            log_pos = header.log_pos(),
            artificial = event::is_artificial(event),
            "event"
        );
        let mut located = self.follower.follow(event);
        // Events inside a compressed transaction carry no position of their own; errors in
        // them are reported at the payload's position.
        if let Some(start) = located.as_mut().ok().and_then(|l| l.start.take()) {
            self.event_start = start;
        }
        if std::mem::take(&mut self.expect_payload_events) && header.log_pos() != 0 {
            // mysql_async drops a payload it cannot decompress without saying so; its
            // transaction would vanish. Stop instead.
            return Err(self.malformed(
                "TRANSACTION_PAYLOAD",
                "the compressed transaction could not be decompressed (damaged, or over 1 GiB decompressed, the most this version reads): none of its events arrived",
            ));
        }
        self.count_event(
            type_code,
            header.event_size(),
            header.timestamp(),
            event::is_heartbeat(event),
        );
        let located = located.map_err(|e| self.malformed("ROTATE", e))?;
        if let Some(from) = located.rotated_from {
            if !event::is_artificial(event) {
                info!(from = %from.file, to = %self.position().file, "binlog rotated");
                // Table ids are not reused across files in practice, but the map would
                // otherwise grow with every new id the server hands out.
                self.tables.clear();
            }
            return Ok(None);
        }

        match EventType::try_from(type_code) {
            Ok(EventType::ROTATE_EVENT) => Ok(None),
            Ok(EventType::TABLE_MAP_EVENT) => {
                self.table_map(event).await?;
                Ok(None)
            }
            Ok(
                EventType::WRITE_ROWS_EVENT_V1
                | EventType::UPDATE_ROWS_EVENT_V1
                | EventType::DELETE_ROWS_EVENT_V1
                | EventType::WRITE_ROWS_EVENT
                | EventType::UPDATE_ROWS_EVENT
                | EventType::DELETE_ROWS_EVENT
                | EventType::PARTIAL_UPDATE_ROWS_EVENT,
            ) => {
                self.rows(event)?;
                Ok(None)
            }
            Ok(EventType::XID_EVENT) => {
                let xid: XidEvent = event.read_event().map_err(|e| self.malformed("XID", e))?;
                self.commit(Some(xid.xid)).map(Some)
            }
            Ok(EventType::QUERY_EVENT) => {
                let query = event.read_event().map_err(|e| self.malformed("QUERY", e))?;
                self.query(&query, header.timestamp()).await
            }
            Ok(EventType::GTID_EVENT | EventType::GTID_TAGGED_LOG_EVENT) => {
                let gtid: GtidEvent = event.read_event().map_err(|e| self.malformed("GTID", e))?;
                self.gtid = Some(gtid::mysql_gtid_text(&gtid));
                if let Some(state) = &mut self.gtids {
                    let tag = gtid.tag().map(|t| t.to_string());
                    state.apply_mysql(gtid.sid(), tag.as_deref(), gtid.gno());
                }
                Ok(None)
            }
            Ok(EventType::XA_PREPARE_LOG_EVENT) => Err(self.malformed(
                "XA_PREPARE",
                "XA transactions are not supported yet; binlog-relay stops rather than publish rows that may be rolled back or lose them",
            )),
            Ok(EventType::PREVIOUS_GTIDS_EVENT) => {
                // Everything before this binlog file; what was read so far is in it too.
                if matches!(self.gtids, Some(GtidState::Mysql(_))) {
                    let previous: PreviousGtidsEvent<'_> = event
                        .read_event()
                        .map_err(|e| self.malformed("PREVIOUS_GTIDS", e))?;
                    if let Some(state) = &mut self.gtids {
                        state.extend_mysql(&GtidSet::from_previous(&previous));
                    }
                }
                Ok(None)
            }
            Ok(EventType::TRANSACTION_PAYLOAD_EVENT) => {
                // The source delivers the decompressed events right after this one.
                self.expect_payload_events = true;
                Ok(None)
            }
            Ok(EventType::ANONYMOUS_GTID_EVENT) => {
                self.gtid = None;
                Ok(None)
            }
            Ok(EventType::ROWS_QUERY_EVENT) => {
                let rows_query: RowsQueryEvent<'_> = event
                    .read_event()
                    .map_err(|e| self.malformed("ROWS_QUERY", e))?;
                self.transaction.row_query = Some(rows_query.query().into_owned());
                Ok(None)
            }
            Ok(_) => Ok(None),
            Err(_) if type_code == event::mariadb::ANNOTATE_ROWS_EVENT => {
                self.transaction.row_query =
                    Some(String::from_utf8_lossy(event.data()).into_owned());
                Ok(None)
            }
            Err(_) if type_code == event::mariadb::GTID_EVENT => {
                let gtid = MariadbGtid::parse(event.data(), header.server_id())
                    .ok_or_else(|| self.malformed("MariaDB GTID", "event body too short"))?;
                self.gtid = Some(gtid.to_gtid_string());
                if let Some(state) = &mut self.gtids {
                    state.apply_mariadb(&gtid);
                }
                if !gtid.standalone {
                    // Maxwell has no thread id for transactions MariaDB starts with a GTID.
                    self.begin(None)?;
                }
                Ok(None)
            }
            Err(_)
                if (event::mariadb::QUERY_COMPRESSED_EVENT
                    ..=event::mariadb::DELETE_ROWS_COMPRESSED_EVENT)
                    .contains(&type_code) =>
            {
                // Skipping them would lose rows or schema changes without a word.
                Err(self.malformed(
                    "MariaDB compressed",
                    "the server writes compressed binlog events (log_bin_compress=ON), which this version cannot read; set log_bin_compress=OFF on the server",
                ))
            }
            Err(_) => {
                debug!(event_type = type_code, "skipping event type");
                Ok(None)
            }
        }
    }

    /// Counts the event and updates the lag: now minus the event's timestamp, or 0 on a
    /// heartbeat, which the server sends only when it has nothing more to send.
    fn count_event(&mut self, type_code: u8, size: u32, timestamp: u32, heartbeat: bool) {
        let counter = self.event_counters[usize::from(type_code)].get_or_insert_with(|| {
            METRICS
                .events
                .with_label_values(&[event::type_name(type_code).as_str()])
        });
        counter.inc();
        METRICS.binlog_bytes.inc_by(u64::from(size));
        let now = crate::metrics::unix_now();
        METRICS.last_read_at.set(now);
        if heartbeat {
            METRICS.lag_seconds.set(0.0);
        } else if timestamp > 0 {
            let lag = now - f64::from(timestamp);
            METRICS.lag_seconds.set(lag.max(0.0));
        }
    }

    fn begin(&mut self, thread_id: Option<u32>) -> Result<(), Error> {
        if !self.buffer.is_empty() {
            // Rows without their commit, and a new transaction starting: the server never
            // writes this. Dropping the rows would lose them; guessing a commit could publish
            // rows that were never committed. Stop and say where.
            return Err(self.malformed(
                "transaction",
                format!(
                    "{} rows were never committed before the next transaction began",
                    self.buffer.len()
                ),
            ));
        }
        self.transaction.open = true;
        self.transaction.thread_id = thread_id;
        Ok(())
    }

    /// A delivery that only moves the checkpoint, refused while rows wait for their commit:
    /// the checkpoint would pass rows that were never published.
    fn position_only(&self) -> Result<Delivery, Error> {
        if !self.buffer.is_empty() {
            return Err(self.malformed(
                "transaction",
                format!(
                    "{} rows are waiting for a commit that did not come",
                    self.buffer.len()
                ),
            ));
        }
        Ok(Delivery::whole(Batch::default(), self.checkpoint()))
    }

    /// Ends the open transaction and returns its first delivery;
    /// [`Self::next_committed_chunk`] gives the rest of a large one.
    fn commit(&mut self, xid: Option<u64>) -> Result<Delivery, Error> {
        self.transaction = OpenTransaction::default();
        METRICS.transactions.inc();
        if self.buffer.spilled() > 0 {
            METRICS.spilled_transactions.inc();
            info!(
                rows = self.buffer.len(),
                spilled = self.buffer.spilled(),
                "large transaction committed; streaming it from disk"
            );
        }
        self.buffer.commit(xid).map_err(Error::Spill)?;
        self.committing = Some(self.checkpoint());
        let mut first = self
            .next_committed_chunk()?
            .ok_or_else(|| Error::Task("a committed transaction gave no delivery".into()))?;
        if !self.pending_ddl.messages.is_empty() {
            first.batch = std::mem::take(&mut self.pending_ddl).followed_by(first.batch);
        }
        // Bootstrap messages go out with the mark's transaction (ours, and small: one
        // delivery), after its own messages.
        if let Some(boot) = self.bootstrap.as_mut()
            && !boot.pending.messages.is_empty()
        {
            first.batch = first.batch.followed_by(std::mem::take(&mut boot.pending));
        }
        Ok(first)
    }

    /// Forgets the open transaction (ROLLBACK) and moves the checkpoint past it.
    fn rollback(&mut self) -> Result<Delivery, Error> {
        self.buffer.discard();
        self.transaction = OpenTransaction::default();
        self.position_only()
    }

    /// Where the binlog stands after the last event read, as a checkpoint.
    fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(
            self.position().clone(),
            self.server_id,
            self.server_uuid.clone(),
        )
        .with_gtid(self.gtid.clone())
        .with_gtid_position(self.gtids.as_ref().map(ToString::to_string))
        .with_bootstrap(self.bootstrap_progress.clone())
    }

    fn malformed(&self, event: &'static str, e: impl std::fmt::Display) -> Error {
        Error::MalformedEvent {
            event,
            position: self.event_start.clone(),
            message: e.to_string(),
        }
    }
}
