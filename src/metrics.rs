//! Counters an operator watches, kept in one Prometheus registry.
//!
//! Each stage increments its own counters here as things happen; the registry is what a
//! `/metrics` endpoint serves. They live in one place so their names and help texts read as
//! one list, and so a test can check a counter moved.

use std::sync::LazyLock;

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// The daemon's metrics.
pub struct Metrics {
    pub registry: Registry,
    /// Times the broker blocked our connection (`connection.blocked`: a memory or disk alarm).
    pub broker_blocked: IntCounter,
    /// Times the pipeline restarted from the checkpoint after losing a connection, by what
    /// was lost (`source` or `sink`).
    pub reconnects: IntCounterVec,
}

impl Metrics {
    fn new() -> Self {
        // The names and labels below are constants, valid and distinct (the test checks), so
        // creating and registering them cannot fail at run time.
        let registry = Registry::new();
        let broker_blocked = IntCounter::with_opts(Opts::new(
            "binlog_relay_broker_blocked_total",
            "Times RabbitMQ blocked publishing (connection.blocked: memory or disk alarm)",
        ))
        .expect("static metric definition");
        let reconnects = IntCounterVec::new(
            Opts::new(
                "binlog_relay_reconnects_total",
                "Restarts from the checkpoint after a lost connection, by the side that was lost",
            ),
            &["side"],
        )
        .expect("static metric definition");
        for collector in [
            Box::new(broker_blocked.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(reconnects.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are distinct");
        }
        Self {
            registry,
            broker_blocked,
            reconnects,
        }
    }
}

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_once() {
        let m = Metrics::new();
        m.reconnects.with_label_values(&["sink"]).inc();
        m.broker_blocked.inc();
        let names: Vec<String> = m
            .registry
            .gather()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "binlog_relay_broker_blocked_total",
                "binlog_relay_reconnects_total"
            ]
        );
    }
}
