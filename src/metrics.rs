//! What an operator watches, kept in one Prometheus registry.
//!
//! Each stage increments its own series here as things happen; `http` serves the registry
//! at `/metrics` and derives readiness from the same numbers. They live in one place so
//! their names and help texts read as one list (docs/operations.md explains each), and so a
//! test can check a series moved. Labels are bounded: row and message types, event type
//! names, the lost side; never a database, table or position.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// The daemon's metrics.
pub struct Metrics {
    pub registry: Registry,
    /// Row changes decoded from rows events, by `type` (insert, update, delete).
    pub rows_read: ByKind,
    /// Row changes dropped by filters before formatting.
    pub rows_filtered: IntCounter,
    /// Messages handed to the sink, by `type` (insert, update, delete, ddl).
    pub messages_published: ByKind,
    /// Messages the sink confirmed.
    pub messages_confirmed: IntCounter,
    /// Messages the sink refused, by `reason` (nack, returned, error).
    pub messages_failed: IntCounterVec,
    /// Times the publisher paused and sent messages again after the sink refused one, by
    /// `reason` (nack, returned).
    pub retries: IntCounterVec,
    /// Messages published again after a refusal (the refused one and every one after it).
    pub messages_resent: IntCounter,
    /// Messages published and not yet confirmed.
    pub in_flight: IntGauge,
    /// Seconds a publish call took (handing the message to the client library).
    pub publish_seconds: Histogram,
    /// Seconds from publishing a message to its confirmation.
    pub confirm_seconds: Histogram,
    /// Binlog events read, by `type` (the event type's name).
    pub events: IntCounterVec,
    /// Bytes of binlog events read.
    pub binlog_bytes: IntCounter,
    /// Transactions (and statements outside transactions) completed.
    pub transactions: IntCounter,
    /// How far behind the source the reader is, in seconds: now minus the timestamp of the
    /// last event read, 0 when the server says it has nothing more (heartbeat).
    pub lag_seconds: Gauge,
    /// Unix time of the last event or heartbeat read from the source: silence shows here
    /// even when no event arrives to update the lag.
    pub last_read_at: Gauge,
    /// Unix time the reader began waiting for the stream's next event; 0 while it handles
    /// one or waits for the broker. Silence counts only while this is set.
    pub read_waiting_since: Gauge,
    /// Unix time the reader began handling the current event; 0 while it waits.
    pub reader_busy_since: Gauge,
    /// Bytes of the open transaction's rows waiting in the spill file.
    pub spill_bytes: IntGauge,
    /// Transactions that went through the spill file.
    pub spilled_transactions: IntCounter,
    /// The checkpoint's binlog file number (the numeric suffix) and offset.
    pub checkpoint_file_index: IntGauge,
    pub checkpoint_offset: IntGauge,
    /// Unix time of the last checkpoint write.
    pub checkpoint_saved_at: Gauge,
    /// Seconds since the last checkpoint write (set when scraped).
    pub checkpoint_age_seconds: Gauge,
    /// Schema changes followed (DDL statements and table-map resyncs that changed a table).
    pub schema_changes: IntCounter,
    /// Schema problems that stopped the stream.
    pub schema_errors: IntCounter,
    /// Times the broker blocked our connection (`connection.blocked`: a memory or disk alarm).
    pub broker_blocked: IntCounter,
    /// 1 while the broker has our connection blocked.
    pub broker_blocked_now: IntGauge,
    /// 1 for the broker node (`address`, one of `sink.rabbitmq.addresses`) connected now.
    pub broker_node: prometheus::IntGaugeVec,
    /// Times the pipeline restarted from the checkpoint after losing a connection, by what
    /// was lost (`source` or `sink`).
    pub reconnects: IntCounterVec,
    /// 1 while connected to the source / the sink, and while the binlog stream is open.
    pub source_connected: IntGauge,
    pub sink_connected: IntGauge,
    pub streaming: IntGauge,
    /// 1 while this instance holds the leader lock (database store), 0 while it stands
    /// by; 1 always with the file store, whose single instance is its own leader.
    pub leader: IntGauge,
    /// Unix time this instance last became leader.
    pub leader_since: Gauge,
    /// Times this instance became leader, and lost or gave up the lead.
    pub leader_changes: IntCounterVec,
    /// Bootstrap chunks the reader published (each between its watermarks).
    pub bootstrap_chunks: IntCounter,
    /// The id of the bootstrap request under way (its row in the `bootstrap` table); 0
    /// when none is.
    pub bootstrap_request: IntGauge,
    /// Rows the request under way has read so far.
    pub bootstrap_rows_read: IntGauge,
    /// Rows the request under way expects: the request's `total_rows`, else the server's
    /// estimate of the table's size.
    pub bootstrap_rows_expected: IntGauge,
}

/// One series per change type, looked up once: the per-row and per-message paths increment
/// them without the label map's lock and hash.
pub struct ByKind {
    insert: IntCounter,
    update: IntCounter,
    delete: IntCounter,
    /// Messages only: rows are never DDL or bootstrap.
    ddl: Option<IntCounter>,
    /// Messages only: bootstrap-start, bootstrap-insert, bootstrap-complete.
    bootstrap: Option<[IntCounter; 3]>,
}

impl ByKind {
    fn new(vec: &IntCounterVec, with_ddl: bool) -> Self {
        Self {
            insert: vec.with_label_values(&["insert"]),
            update: vec.with_label_values(&["update"]),
            delete: vec.with_label_values(&["delete"]),
            ddl: with_ddl.then(|| vec.with_label_values(&["ddl"])),
            bootstrap: with_ddl.then(|| {
                ["bootstrap-start", "bootstrap-insert", "bootstrap-complete"]
                    .map(|kind| vec.with_label_values(&[kind]))
            }),
        }
    }

    /// The series for `insert`, `update`, `delete`, `ddl` or a bootstrap type; `None` for a
    /// type it does not
    /// count.
    pub fn get(&self, kind: &str) -> Option<&IntCounter> {
        match kind {
            "insert" => Some(&self.insert),
            "update" => Some(&self.update),
            "delete" => Some(&self.delete),
            "ddl" => self.ddl.as_ref(),
            "bootstrap-start" => self.bootstrap.as_ref().map(|b| &b[0]),
            "bootstrap-insert" => self.bootstrap.as_ref().map(|b| &b[1]),
            "bootstrap-complete" => self.bootstrap.as_ref().map(|b| &b[2]),
            _ => None,
        }
    }
}

/// Latency buckets from 100 µs to 10 s, in steps of 1, 2.5 and 5 (or 2) per decade, so a
/// quantile read between two of them is off by at most that step.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

impl Metrics {
    fn new() -> Self {
        // The names, help texts and labels below are constants, valid and distinct (the
        // test checks), so creating and registering them cannot fail at run time.
        const OK: &str = "static metric definition";
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let c = IntCounter::with_opts(Opts::new(name, help)).expect(OK);
            registry.register(Box::new(c.clone())).expect(OK);
            c
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &[label]).expect(OK);
            registry.register(Box::new(c.clone())).expect(OK);
            c
        };
        let int_gauge = |name: &str, help: &str| {
            let g = IntGauge::with_opts(Opts::new(name, help)).expect(OK);
            registry.register(Box::new(g.clone())).expect(OK);
            g
        };
        let gauge = |name: &str, help: &str| {
            let g = Gauge::with_opts(Opts::new(name, help)).expect(OK);
            registry.register(Box::new(g.clone())).expect(OK);
            g
        };
        let histogram = |name: &str, help: &str| {
            let h = Histogram::with_opts(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect(OK);
            registry.register(Box::new(h.clone())).expect(OK);
            h
        };
        let metrics = Self {
            rows_read: ByKind::new(
                &counter_vec(
                    "binlog_relay_rows_read_total",
                    "Row changes decoded from the binlog, by type",
                    "type",
                ),
                false,
            ),
            rows_filtered: counter(
                "binlog_relay_rows_filtered_total",
                "Row changes dropped by filters",
            ),
            messages_published: ByKind::new(
                &counter_vec(
                    "binlog_relay_messages_published_total",
                    "Messages handed to the sink, by type (insert, update, delete, ddl, bootstrap-start, bootstrap-insert, bootstrap-complete)",
                    "type",
                ),
                true,
            ),
            messages_confirmed: counter(
                "binlog_relay_messages_confirmed_total",
                "Messages the sink confirmed",
            ),
            messages_failed: counter_vec(
                "binlog_relay_messages_failed_total",
                "Messages the sink refused or lost, by reason (nack, returned, error); they are sent again",
                "reason",
            ),
            retries: counter_vec(
                "binlog_relay_publish_retries_total",
                "Pauses and resends after the sink refused a message, by reason (nack, returned)",
                "reason",
            ),
            messages_resent: counter(
                "binlog_relay_messages_resent_total",
                "Messages published again after a refusal: the refused one and every one after it",
            ),
            in_flight: int_gauge(
                "binlog_relay_in_flight_messages",
                "Messages published and awaiting confirmation",
            ),
            publish_seconds: histogram(
                "binlog_relay_publish_seconds",
                "Time to hand one message to the sink",
            ),
            confirm_seconds: histogram(
                "binlog_relay_confirm_seconds",
                "Time from publishing a message to its confirmation",
            ),
            events: counter_vec(
                "binlog_relay_binlog_events_total",
                "Binlog events read, by event type",
                "type",
            ),
            binlog_bytes: counter(
                "binlog_relay_binlog_bytes_total",
                "Bytes of binlog events read",
            ),
            transactions: counter(
                "binlog_relay_transactions_total",
                "Transactions (and statements outside transactions) read to their end",
            ),
            lag_seconds: gauge(
                "binlog_relay_lag_seconds",
                "Seconds between now and the timestamp of the last binlog event read; 0 when caught up",
            ),
            last_read_at: gauge(
                "binlog_relay_last_read_timestamp_seconds",
                "Unix time of the last event or heartbeat read from the binlog stream",
            ),
            reader_busy_since: gauge(
                "binlog_relay_reader_busy_since_timestamp_seconds",
                "Unix time the reader began handling the current binlog event; 0 while it waits for the stream or the broker",
            ),
            read_waiting_since: gauge(
                "binlog_relay_read_waiting_since_timestamp_seconds",
                "Unix time the reader began waiting for the binlog stream's next event; 0 while it handles one or is held back by the broker",
            ),
            spill_bytes: int_gauge(
                "binlog_relay_spill_bytes",
                "Bytes of the open transaction's rows waiting in the spill file",
            ),
            spilled_transactions: counter(
                "binlog_relay_spilled_transactions_total",
                "Transactions larger than transactions.memory_limit_mb, buffered on disk",
            ),
            checkpoint_file_index: int_gauge(
                "binlog_relay_checkpoint_file_index",
                "Numeric suffix of the checkpoint's binlog file",
            ),
            checkpoint_offset: int_gauge(
                "binlog_relay_checkpoint_offset",
                "Offset of the checkpoint in its binlog file",
            ),
            checkpoint_saved_at: gauge(
                "binlog_relay_checkpoint_saved_timestamp_seconds",
                "Unix time of the last checkpoint write",
            ),
            checkpoint_age_seconds: gauge(
                "binlog_relay_checkpoint_age_seconds",
                "Seconds since the last checkpoint write",
            ),
            schema_changes: counter(
                "binlog_relay_schema_changes_total",
                "Schema changes followed from the binlog",
            ),
            schema_errors: counter(
                "binlog_relay_schema_errors_total",
                "Schema problems that stopped the stream (unknown table, unfollowable DDL, ...)",
            ),
            broker_blocked: counter(
                "binlog_relay_broker_blocked_total",
                "Times RabbitMQ blocked publishing (connection.blocked: memory or disk alarm)",
            ),
            broker_blocked_now: int_gauge(
                "binlog_relay_broker_blocked",
                "1 while RabbitMQ blocks publishing",
            ),
            broker_node: {
                let g = prometheus::IntGaugeVec::new(
                    Opts::new(
                        "binlog_relay_broker_connected",
                        "1 for the RabbitMQ node (host:port of sink.rabbitmq.addresses) in use, 0 for the others",
                    ),
                    &["address"],
                )
                .expect(OK);
                registry.register(Box::new(g.clone())).expect(OK);
                g
            },
            reconnects: counter_vec(
                "binlog_relay_reconnects_total",
                "Restarts from the checkpoint after a lost connection, by the side that was lost",
                "side",
            ),
            source_connected: int_gauge(
                "binlog_relay_source_connected",
                "1 while connected to the source server",
            ),
            sink_connected: int_gauge(
                "binlog_relay_sink_connected",
                "1 while connected to the sink",
            ),
            streaming: int_gauge(
                "binlog_relay_streaming",
                "1 while the binlog stream is open",
            ),
            leader: int_gauge(
                "binlog_relay_leader",
                "1 while this instance leads (holds the leader lock, or runs alone with the file store), 0 while it stands by",
            ),
            leader_since: gauge(
                "binlog_relay_leader_since_timestamp_seconds",
                "Unix time this instance last took over as leader (0: never)",
            ),
            leader_changes: counter_vec(
                "binlog_relay_leader_changes_total",
                "Times this instance took over (change=\"took_over\") or stopped leading (change=\"lost\")",
                "change",
            ),
            bootstrap_chunks: counter(
                "binlog_relay_bootstrap_chunks_total",
                "Bootstrap chunks published, each read between two watermarks",
            ),
            bootstrap_request: int_gauge(
                "binlog_relay_bootstrap_request",
                "Id of the bootstrap request under way (0: none)",
            ),
            bootstrap_rows_read: int_gauge(
                "binlog_relay_bootstrap_rows_read",
                "Rows the bootstrap request under way has read",
            ),
            bootstrap_rows_expected: int_gauge(
                "binlog_relay_bootstrap_rows_expected",
                "Rows the bootstrap request under way expects (its total_rows, else the table's estimated size)",
            ),
            registry,
        };
        // Series that exist from the start read 0 rather than missing, so rates and
        // alerts work before the first event of a kind.
        for reason in ["nack", "returned", "error"] {
            metrics.messages_failed.with_label_values(&[reason]);
        }
        for change in ["took_over", "lost"] {
            metrics.leader_changes.with_label_values(&[change]);
        }
        for reason in ["nack", "returned"] {
            metrics.retries.with_label_values(&[reason]);
        }
        for side in ["source", "sink"] {
            metrics.reconnects.with_label_values(&[side]);
        }
        #[cfg(target_os = "linux")]
        {
            // Process RSS, CPU seconds, open files: process_* series.
            let process = prometheus::process_collector::ProcessCollector::for_self();
            let _ = metrics.registry.register(Box::new(process));
        }
        metrics
    }

    /// Records a saved checkpoint.
    pub fn checkpoint_saved(&self, position: &crate::position::BinlogPosition) {
        let index = position
            .file
            .rsplit('.')
            .next()
            .and_then(|suffix| suffix.parse::<i64>().ok())
            .unwrap_or(0);
        self.checkpoint_file_index.set(index);
        self.checkpoint_offset
            .set(i64::try_from(position.offset).unwrap_or(i64::MAX));
        self.checkpoint_saved_at.set(unix_now());
        let text = position.to_string();
        STATUS.with(|f| f.position = Some(text));
    }

    /// This instance leads from now.
    pub fn took_over(&self) {
        self.leader.set(1);
        self.leader_since.set(unix_now());
        self.leader_changes.with_label_values(&["took_over"]).inc();
    }

    /// This instance stopped leading (its lease was lost or released).
    pub fn stood_down(&self) {
        self.leader.set(0);
        self.leader_changes.with_label_values(&["lost"]).inc();
    }

    /// The run ended: no connection, no stream.
    pub fn disconnected(&self) {
        self.source_connected.set(0);
        self.sink_connected.set(0);
        self.streaming.set(0);
        self.in_flight.set(0);
        self.broker_node.reset();
    }

    /// The registry in Prometheus' text format, derived gauges brought up to date first.
    pub fn render(&self) -> String {
        let saved = self.checkpoint_saved_at.get();
        if saved > 0.0 {
            self.checkpoint_age_seconds
                .set((unix_now() - saved).max(0.0));
        }
        let families = self.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_default()
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// What `/status` (and `binlog-relay status`) shows that a series cannot carry: the
/// checkpoint's file name, the last error's text, the table a bootstrap reads. Set where
/// those happen, read by the endpoint.
#[derive(Debug, Default)]
pub struct Status {
    inner: std::sync::Mutex<StatusFacts>,
}

/// A copy of [`Status`] at one moment.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct StatusFacts {
    /// The saved checkpoint, `FILE:OFFSET`.
    pub position: Option<String>,
    /// The last error the daemon recovered from (a lost connection, a bootstrap request
    /// that could not run), with its Unix time: the same text the log has.
    pub last_error: Option<LastError>,
    /// `database.table` of the bootstrap under way.
    pub bootstrap_table: Option<String>,
    /// Unix time a message last failed (refused or lost; it is sent again): Maxwell's
    /// `/healthcheck` reports unhealthy for 15 minutes after one.
    pub message_failed_at: Option<f64>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct LastError {
    pub at: f64,
    pub message: String,
}

impl Status {
    fn with(&self, change: impl FnOnce(&mut StatusFacts)) {
        // A poisoned lock still holds usable facts: a panic elsewhere must not blind it.
        let mut facts = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut facts);
    }

    pub fn facts(&self) -> StatusFacts {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn error(&self, message: impl std::fmt::Display) {
        let message = message.to_string();
        self.with(|f| {
            f.last_error = Some(LastError {
                at: unix_now(),
                message,
            })
        });
    }

    pub fn message_failed(&self) {
        let now = unix_now();
        self.with(|f| f.message_failed_at = Some(now));
    }

    pub fn bootstrap_table(&self, table: Option<String>) {
        self.with(|f| f.bootstrap_table = table);
    }
}

pub static STATUS: LazyLock<Status> = LazyLock::new(Status::default);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_once_and_rendered() {
        let m = Metrics::new();
        m.reconnects.with_label_values(&["sink"]).inc();
        if let Some(c) = m.rows_read.get("insert") {
            c.inc_by(3);
        }
        m.checkpoint_saved(&crate::position::BinlogPosition::new(
            "mariadb-bin.000042",
            1234,
        ));
        let text = m.render();
        for line in [
            "binlog_relay_reconnects_total{side=\"sink\"} 1",
            "binlog_relay_rows_read_total{type=\"insert\"} 3",
            "binlog_relay_checkpoint_file_index 42",
            "binlog_relay_checkpoint_offset 1234",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        let names: Vec<String> = m
            .registry
            .gather()
            .iter()
            .map(|f| f.name().to_owned())
            .filter(|n| n.starts_with("binlog_relay_"))
            .collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique);
        // Every series but the per-event-type and per-broker-node ones, which appear with their first value.
        assert_eq!(names.len(), 37, "{names:?}");
    }
}
