//! The reader task: binlog events in, rendered transactions out.
//!
//! It follows the binlog position through rotations, keeps the table map of each table id,
//! decodes rows events against them, buffers each transaction's rendered rows until its
//! COMMIT/XID, and sends every committed transaction (with the position after it) to the
//! publisher. Schema statements go to the schema provider (the history, stored before
//! anything after them is published) and send a delivery of their own, empty or holding
//! their DDL messages, so the checkpoint moves past them too.

use std::collections::HashMap;
use std::sync::Arc;

use mysql_common::binlog::consts::{EventFlags, EventType};
use mysql_common::binlog::events::{
    Event, EventData, GtidEvent, PreviousGtidsEvent, QueryEvent, RowsQueryEvent, TableMapEvent,
    XidEvent,
};
use prometheus::IntCounter;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::{CHUNK_BYTES, Delivery};
use crate::checkpoint::Checkpoint;
use crate::decode::RowKind;
use crate::decode::{Cell, RowsEvent};
use crate::error::Error;
use crate::filter::{self, Filter};
use crate::format::ddl::{DdlMeta, push_ddl};
use crate::format::{
    Batch, OutputOptions, RowMeta, TableLayout, TransactionBuffer, TransactionsConfig,
};
use crate::metrics::METRICS;
use crate::position::BinlogPosition;
use crate::schema::{self, SchemaProvider};
use crate::shutdown::ShutdownSignal;
use crate::source::SourceEvents;
use crate::source::gtid::GtidState;
use crate::source::mariadb::{self, MariadbGtid};
use crate::source::mysql_gtid::GtidSet;
use crate::source::query::statement_text;
use crate::source::rotate::rotate_target;

/// A resolved table map, kept while the server keeps sending the same one.
struct CachedTable {
    /// The TABLE_MAP event's body: a different body for the same id means a new definition.
    raw: Vec<u8>,
    layout: Arc<TableLayout>,
    /// What the filter says about the table's rows.
    rows: RowsFilter,
}

/// The filter's decision for one table, taken once per table map.
#[derive(Debug, Clone)]
enum RowsFilter {
    Publish,
    Drop,
    /// Column-value rules apply: judge each row.
    PerRow,
}

/// Turns the event stream into deliveries.
pub struct Reader<P> {
    provider: P,
    options: Arc<OutputOptions>,
    tables: HashMap<u64, CachedTable>,
    tx: TransactionBuffer,
    in_transaction: bool,
    /// The position after the last event read: where a restart would continue.
    position: BinlogPosition,
    /// Start of the event being handled, for error messages.
    event_start: BinlogPosition,
    /// GTID of the open (or last) transaction: MySQL `uuid[:tag]:gno`, MariaDB
    /// `domain-server-seq`.
    gtid: Option<String>,
    /// Client thread of the open transaction, from its BEGIN query.
    thread_id: Option<u32>,
    /// The statement behind the rows that follow (ROWS_QUERY / ANNOTATE_ROWS).
    row_query: Option<String>,
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
    /// The end of the committed transaction whose deliveries [`Self::more`] is handing out.
    committing: Option<Checkpoint>,
    /// `binlog_relay_binlog_events_total` by event type code, looked up once each.
    event_counters: Vec<Option<IntCounter>>,
    /// The operator's filter.
    filter: Arc<Filter>,
    /// Table ids of blacklisted tables: their rows are skipped undecoded.
    blacklisted: std::collections::HashSet<u64>,
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
            tables: HashMap::new(),
            tx: TransactionBuffer::new(options.clone()),
            options,
            in_transaction: false,
            event_start: start.clone(),
            position: start,
            gtid: None,
            thread_id: None,
            row_query: None,
            server_id,
            server_uuid: None,
            gtids: None,
            expect_payload_events: false,
            pending_ddl: Batch::default(),
            stop_at,
            committing: None,
            event_counters: vec![None; 256],
            filter: Arc::new(Filter::default()),
            blacklisted: Default::default(),
        }
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
        self.tx = TransactionBuffer::with_limits(self.options.clone(), limits);
        self
    }

    /// Reads until shutdown, the stop position, an error, or the publisher going away.
    /// Returns whether the stop position was reached.
    pub async fn run(
        mut self,
        mut events: SourceEvents,
        out: mpsc::Sender<Delivery>,
        mut shutdown: ShutdownSignal,
    ) -> Result<bool, Error> {
        let result = loop {
            let event = tokio::select! {
                biased;
                _ = shutdown.wait() => break Ok(false),
                // The publisher stopped (its result says why): stop reading too, even while
                // the binlog is idle.
                _ = out.closed() => break Ok(false),
                event = events.next() => event,
            };
            let event = match event {
                Some(Ok(event)) => event,
                Some(Err(e)) => break Err(Error::Source(e)),
                None => {
                    break Err(Error::StreamEnded {
                        position: self.position.clone(),
                    });
                }
            };
            let delivery = match self.handle_event(&event).await {
                Ok(d) => d,
                Err(e) => break Err(e),
            };
            match self.forward(delivery, &out).await {
                Ok(true) => {}
                // The publisher stopped; its own result says why.
                Ok(false) => break Ok(false),
                Err(e) => break Err(e),
            }
            if !self.in_transaction
                && self
                    .stop_at
                    .as_ref()
                    .is_some_and(|stop| self.position.reached(stop))
            {
                break Ok(true);
            }
        };
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
        while let Some(d) = delivery {
            if out.send(d).await.is_err() {
                return Ok(false);
            }
            delivery = self.more()?;
        }
        Ok(true)
    }

    /// The next delivery of a committed transaction that did not fit in one (see
    /// [`crate::pipeline::CHUNK_BYTES`]); `None` once it is all out. Call after every
    /// delivery [`Self::handle_event`] returns.
    pub fn more(&mut self) -> Result<Option<Delivery>, Error> {
        let Some(end) = self.committing.clone() else {
            return Ok(None);
        };
        let chunk = self.tx.next_chunk(CHUNK_BYTES).map_err(Error::Spill)?;
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
    /// completed. `run` calls this for the live stream; replays of binlog files call it
    /// directly.
    pub async fn handle_event(&mut self, event: &Event) -> Result<Option<Delivery>, Error> {
        let header = event.header();
        let artificial = header.flags().contains(EventFlags::LOG_EVENT_ARTIFICIAL_F);
        let type_code = header.event_type_raw();
        tracing::trace!(
            event_type = type_code,
            log_pos = header.log_pos(),
            artificial,
            "event"
        );
        // Events inside a compressed transaction carry no position of their own; errors in
        // them are reported at the payload's position.
        if header.log_pos() != 0 {
            self.event_start = BinlogPosition::new(
                self.position.file.clone(),
                u64::from(header.log_pos()).saturating_sub(u64::from(header.event_size())),
            );
        }
        if std::mem::take(&mut self.expect_payload_events) && header.log_pos() != 0 {
            // mysql_async drops a payload it cannot decompress without saying so; its
            // transaction would vanish. Stop instead.
            return Err(self.malformed(
                "TRANSACTION_PAYLOAD",
                "the compressed transaction could not be decompressed: none of its events arrived",
            ));
        }
        // Artificial events (the rotate and format description the server sends first) and
        // events with no position do not move the position.
        // Positions only grow within a file; an event replayed from a file's header (MariaDB
        // sends its GTID list again on connect) must not move the position back.
        // A heartbeat names the server's position, not an event of ours.
        let end = u64::from(header.log_pos());
        let heartbeat = type_code == EventType::HEARTBEAT_EVENT as u8 || type_code == HEARTBEAT_V2;
        if !artificial
            && !heartbeat
            && end > self.position.offset
            && type_code != EventType::ROTATE_EVENT as u8
        {
            self.position.offset = end;
        }
        self.observe(
            type_code,
            header.event_size(),
            header.timestamp(),
            heartbeat,
        );

        match EventType::try_from(type_code) {
            Ok(EventType::ROTATE_EVENT) => {
                let next = rotate_target(event)
                    .ok_or_else(|| self.malformed("ROTATE", "body too short or name not UTF-8"))?;
                if next != self.position {
                    if !artificial {
                        info!(from = %self.position.file, to = %next.file, "binlog rotated");
                        // Table ids are not reused across files in practice, but the map would
                        // otherwise grow with every new id the server hands out.
                        self.tables.clear();
                    }
                    self.position = next;
                }
                Ok(None)
            }
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
                let query: QueryEvent<'_> =
                    event.read_event().map_err(|e| self.malformed("QUERY", e))?;
                self.query(&query, header.timestamp()).await
            }
            Ok(EventType::GTID_EVENT | EventType::GTID_TAGGED_LOG_EVENT) => {
                let gtid: GtidEvent = event.read_event().map_err(|e| self.malformed("GTID", e))?;
                self.gtid = Some(mysql_gtid(&gtid));
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
                self.row_query = Some(rows_query.query().into_owned());
                Ok(None)
            }
            Ok(_) => Ok(None),
            Err(_) if type_code == mariadb::ANNOTATE_ROWS_EVENT => {
                self.row_query = Some(String::from_utf8_lossy(event.data()).into_owned());
                Ok(None)
            }
            Err(_) if type_code == mariadb::GTID_EVENT => {
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
            Err(_) if (mariadb::QUERY_COMPRESSED_EVENT..=mariadb::DELETE_ROWS_COMPRESSED_EVENT)
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
    fn observe(&mut self, type_code: u8, size: u32, timestamp: u32, heartbeat: bool) {
        let counter = self.event_counters[usize::from(type_code)].get_or_insert_with(|| {
            let name = match EventType::try_from(type_code) {
                Ok(t) => format!("{t:?}"),
                Err(_) => mariadb::event_name(type_code),
            };
            METRICS.events.with_label_values(&[name.as_str()])
        });
        counter.inc();
        METRICS.binlog_bytes.inc_by(u64::from(size));
        if heartbeat {
            METRICS.lag_seconds.set(0.0);
        } else if timestamp > 0 {
            let lag = crate::metrics::unix_now() - f64::from(timestamp);
            METRICS.lag_seconds.set(lag.max(0.0));
        }
    }

    fn begin(&mut self, thread_id: Option<u32>) -> Result<(), Error> {
        if !self.tx.is_empty() {
            // Rows without their commit, and a new transaction starting: the server never
            // writes this. Dropping the rows would lose them; guessing a commit could publish
            // rows that were never committed. Stop and say where.
            return Err(self.malformed(
                "transaction",
                format!(
                    "{} rows were never committed before the next transaction began",
                    self.tx.len()
                ),
            ));
        }
        self.in_transaction = true;
        self.thread_id = thread_id;
        Ok(())
    }

    /// A delivery that only moves the checkpoint, refused while rows wait for their commit:
    /// the checkpoint would pass rows that were never published.
    fn position_only(&self) -> Result<Delivery, Error> {
        if !self.tx.is_empty() {
            return Err(self.malformed(
                "transaction",
                format!(
                    "{} rows are waiting for a commit that did not come",
                    self.tx.len()
                ),
            ));
        }
        Ok(Delivery::whole(Batch::default(), self.checkpoint()))
    }

    /// Ends the open transaction and returns its first delivery; [`Self::more`] gives the
    /// rest of a large one.
    fn commit(&mut self, xid: Option<u64>) -> Result<Delivery, Error> {
        self.in_transaction = false;
        self.thread_id = None;
        self.row_query = None;
        METRICS.transactions.inc();
        if self.tx.spilled() > 0 {
            METRICS.spilled_transactions.inc();
            info!(
                rows = self.tx.len(),
                spilled = self.tx.spilled(),
                "large transaction committed; streaming it from disk"
            );
        }
        self.tx.commit(xid).map_err(Error::Spill)?;
        self.committing = Some(self.checkpoint());
        let mut first = self
            .more()?
            .ok_or_else(|| Error::Task("a committed transaction gave no delivery".into()))?;
        if !self.pending_ddl.messages.is_empty() {
            first.batch = std::mem::take(&mut self.pending_ddl).followed_by(first.batch);
        }
        Ok(first)
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            position: self.position.clone(),
            gtid: self.gtid.clone(),
            server_id: self.server_id,
            gtid_position: self.gtids.as_ref().map(ToString::to_string),
            server_uuid: self.server_uuid.clone(),
        }
    }

    /// A QUERY event: transaction control, or a statement for the schema history. The
    /// statement is classified on its lossy UTF-8 text (also what DDL messages carry); only
    /// statements that reach the schema history are decoded in the session's charset.
    async fn query(&mut self, query: &QueryEvent<'_>, ts: u32) -> Result<Option<Delivery>, Error> {
        let sql = query.query();
        let sql = sql.as_ref();
        let database = query.schema();
        let database = database.as_ref();
        let thread_id = query.thread_id();
        let trimmed = sql.trim();
        if trimmed.eq_ignore_ascii_case("BEGIN") {
            self.begin(Some(thread_id))?;
            return Ok(None);
        }
        if trimmed.eq_ignore_ascii_case("COMMIT") {
            // Non-transactional tables end their "transaction" with a COMMIT query, no XID.
            return self.commit(None).map(Some);
        }
        if trimmed.eq_ignore_ascii_case("ROLLBACK") {
            self.tx.discard();
            self.in_transaction = false;
            self.thread_id = None;
            self.row_query = None;
            return self.position_only().map(Some);
        }
        let upper_start: String = trimmed
            .chars()
            .take(9)
            .collect::<String>()
            .to_ascii_uppercase();
        if upper_start.starts_with("SAVEPOINT") || upper_start.starts_with("ROLLBACK") {
            return Ok(None);
        }
        if upper_start.starts_with("XA ") {
            // XA rows are logged at PREPARE and committed (or rolled back) later, possibly
            // after other transactions; publishing them needs care this version lacks.
            return Err(self.malformed(
                "XA transaction",
                "XA transactions are not supported yet; binlog-relay stops rather than publish rows that may be rolled back or lose them",
            ));
        }
        if trimmed.starts_with('#') {
            // A comment, e.g. MariaDB's stand-in for an event the replica did not ask for.
            return Ok(None);
        }
        debug!(statement = %trimmed.chars().take(60).collect::<String>(), "statement outside rows events");
        // Anything else may change a table's shape: the schema provider follows it, and
        // is stored before anything after it is published. The server gives a changed
        // table a new table id, so cached table maps stay correct, but dropping them keeps
        // the cache from growing with every DDL.
        let schema_error = |source| {
            METRICS.schema_errors.inc();
            Error::Schema {
                position: self.event_start.clone(),
                source: Box::new(source),
            }
        };
        let version = self.provider.schema_id();
        let effects = match &statement_text(query) {
            Ok(text) => self
                .provider
                .statement(&self.event_start, database, text.trim())
                .await
                .map_err(schema_error)?,
            Err(lossy) => {
                self.provider
                    .unreadable_statement(&self.event_start, lossy)
                    .await
                    .map_err(schema_error)?;
                Vec::new()
            }
        };
        count_schema_changes(version, self.provider.schema_id());
        self.tables.clear();
        if self.options.config.ddl {
            let meta = DdlMeta {
                ts: u64::from(ts),
                sql,
                position: &self.event_start,
                gtid: self.gtid.as_deref(),
                schema_id: self.provider.schema_id(),
            };
            for effect in &effects {
                let (db, table) = filter::ddl_subject(effect);
                if !filter::ddl_dropped(effect) && self.filter.includes_table(db, table) {
                    push_ddl(&mut self.pending_ddl, effect, &meta, &self.options);
                }
            }
        }
        if self.in_transaction {
            // MySQL 8 logs CREATE TABLE ... SELECT inside the transaction that fills the
            // table; its message goes out with that transaction.
            return Ok(None);
        }
        let mut delivery = self.position_only()?;
        delivery.batch = std::mem::take(&mut self.pending_ddl);
        Ok(Some(delivery))
    }

    async fn table_map(&mut self, event: &Event) -> Result<(), Error> {
        let tme: TableMapEvent<'_> = event
            .read_event()
            .map_err(|e| self.malformed("TABLE_MAP", e))?;
        let id = tme.table_id();
        if self
            .tables
            .get(&id)
            .is_some_and(|cached| cached.raw == event.data())
        {
            return Ok(());
        }
        if self
            .filter
            .is_blacklisted(&tme.database_name(), &tme.table_name())
        {
            // Never looked up: a blacklisted table's schema cannot stop replication.
            self.tables.remove(&id);
            self.blacklisted.insert(id);
            return Ok(());
        }
        self.blacklisted.remove(&id);
        let version = self.provider.schema_id();
        let table = schema::resolve(&self.event_start, &tme, &mut self.provider)
            .await
            .map_err(|source| {
                METRICS.schema_errors.inc();
                Error::Schema {
                    position: self.event_start.clone(),
                    source: Box::new(source),
                }
            })?;
        count_schema_changes(version, self.provider.schema_id());
        let has_column = |name: &str| table.columns.iter().any(|c| c.name == name);
        let rows = if self
            .filter
            .has_column_rules_for(&table.database, &table.name, has_column)
        {
            RowsFilter::PerRow
        } else if self
            .filter
            .includes_table(&table.database, Some(&table.name))
        {
            RowsFilter::Publish
        } else {
            RowsFilter::Drop
        };
        let layout = TableLayout::new(Arc::new(table), &self.options);
        self.tables.insert(
            id,
            CachedTable {
                raw: event.data().to_vec(),
                layout: Arc::new(layout),
                rows,
            },
        );
        Ok(())
    }

    fn rows(&mut self, event: &Event) -> Result<(), Error> {
        let data = event.read_data().map_err(|e| self.malformed("rows", e))?;
        let Some(EventData::RowsEvent(rows)) = data else {
            return Err(self.malformed("rows", "not a rows event"));
        };
        let rows = RowsEvent::new(&rows).map_err(|source| Error::Decode {
            position: self.event_start.clone(),
            source: Box::new(source),
        })?;
        if self.blacklisted.contains(&rows.table_id) {
            return Ok(());
        }
        let (layout, decision) = self
            .tables
            .get(&rows.table_id)
            .map(|c| (c.layout.clone(), c.rows.clone()))
            .ok_or_else(|| Error::UnknownTable {
                table_id: rows.table_id,
                position: self.event_start.clone(),
            })?;
        let table = &*layout.table;
        let dropped = matches!(decision, RowsFilter::Drop)
            || filter::always_dropped(&table.database, &table.name, rows.kind);
        let per_row = matches!(decision, RowsFilter::PerRow);
        let header = event.header();
        let meta = RowMeta {
            ts: header.timestamp(),
            position: &self.event_start,
            server_id: header.server_id(),
            thread_id: self.thread_id,
            gtid: self.gtid.as_deref(),
            query: self.row_query.as_deref(),
            schema_id: self.provider.schema_id(),
        };
        let mut cursor = rows.rows();
        let mut before: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
        let mut after: Vec<Cell<'_>> = Vec::with_capacity(table.columns.len());
        let decode_err = |source| Error::Decode {
            position: self.event_start.clone(),
            source: Box::new(source),
        };
        let (mut count, mut filtered) = (0, 0);
        let mut scratch = Vec::new();
        while rows
            .next_row(&mut cursor, table, &mut before, &mut after)
            .map_err(decode_err)?
        {
            count += 1;
            let keep = !dropped
                && (!per_row || {
                    // Maxwell judges a row by its `data`: the before image of a delete.
                    let image = if rows.kind == RowKind::Delete {
                        &before
                    } else {
                        &after
                    };
                    self.filter
                        .includes_row(&table.database, &table.name, |name| {
                            column_text(table, image, name, &mut scratch)
                        })
                });
            if keep {
                self.tx
                    .push_row(&layout, rows.kind, &meta, &before, &after)
                    .map_err(decode_err)?;
            } else {
                filtered += 1;
            }
        }
        if let Some(read) = METRICS.rows_read.get(rows.kind.as_str()) {
            read.inc_by(count);
        }
        METRICS.rows_filtered.inc_by(filtered);
        if dropped {
            return Ok(());
        }
        self.tx.enforce_limit().map_err(Error::Spill)?;
        METRICS
            .spill_bytes
            .set(i64::try_from(self.tx.spilled_bytes()).unwrap_or(i64::MAX));
        Ok(())
    }

    fn malformed(&self, event: &'static str, e: impl std::fmt::Display) -> Error {
        Error::MalformedEvent {
            event,
            position: self.event_start.clone(),
            message: e.to_string(),
        }
    }
}

/// A column's value as the filter compares it: `None` when the image lacks the column,
/// `Some(None)` for NULL, else its text (a string's characters, a number as rendered).
fn column_text(
    table: &crate::table::Table,
    image: &[Cell<'_>],
    name: &str,
    scratch: &mut Vec<u8>,
) -> Option<Option<String>> {
    let index = table.columns.iter().position(|c| c.name == name)?;
    match image.get(index)? {
        Cell::Missing => None,
        Cell::Null => Some(None),
        Cell::Value(raw) => {
            scratch.clear();
            let is_null =
                crate::format::value::write_value(scratch, &table.columns[index], raw, false)
                    .ok()?;
            if is_null {
                return Some(None);
            }
            if scratch.first() == Some(&b'"') {
                serde_json::from_slice::<String>(scratch).ok().map(Some)
            } else {
                Some(Some(String::from_utf8_lossy(scratch).into_owned()))
            }
        }
        Cell::JsonDiff(_) => None,
    }
}

/// Counts the schema versions between two `schema_id`s (none without a schema history).
fn count_schema_changes(before: Option<u64>, after: Option<u64>) {
    if let (Some(before), Some(after)) = (before, after) {
        METRICS.schema_changes.inc_by(after.saturating_sub(before));
    }
}

/// MySQL 8.0's HEARTBEAT_LOG_EVENT_V2, which `mysql_common` does not name.
const HEARTBEAT_V2: u8 = 0x29;

/// A MySQL GTID as the server prints it: `uuid:gno`, or `uuid:tag:gno` for tagged GTIDs.
fn mysql_gtid(event: &GtidEvent) -> String {
    let sid = event.sid();
    let hex = |range: std::ops::Range<usize>| -> String {
        sid[range].iter().map(|b| format!("{b:02x}")).collect()
    };
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    );
    match event.tag() {
        Some(tag) => format!("{uuid}:{tag}:{}", event.gno()),
        None => format!("{uuid}:{}", event.gno()),
    }
}
