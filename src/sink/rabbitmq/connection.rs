//! The broker connection: opening it (with TLS when the URI says `amqps://`), and watching
//! it for flow control and failure.

use lapin::{Connection, ConnectionProperties};
use tracing::{info, warn};

use super::RabbitmqConfig;
use crate::sink::SinkError;

/// Opens a connection to the broker with the configured TLS settings.
pub async fn connect_broker(config: &RabbitmqConfig) -> Result<Connection, SinkError> {
    let tls = config.tls.load()?;
    let address = config.address();
    let runtime = lapin::runtime::default_runtime().map_err(|source| SinkError::Connect {
        address: address.clone(),
        source,
    })?;
    Connection::connect_with_config(
        config.uri.expose(),
        ConnectionProperties::default(),
        tls,
        runtime,
    )
    .await
    .map_err(|source| match crate::net::tls_cause(&source) {
        // A certificate problem is for the operator to fix, not to retry.
        Some(message) => SinkError::Tls { address, message },
        None => SinkError::Connect { address, source },
    })
}

/// Logs and counts the broker's flow control, and reports a failed connection. While
/// RabbitMQ blocks the connection (a memory or disk alarm), lapin stops writing to the
/// socket, so publishing pauses, confirms stop arriving, and the bounded pipeline stops
/// reading the binlog: nothing piles up here.
pub(super) async fn watch_connection(
    events: impl futures_util::Stream<Item = lapin::Event> + Send + 'static,
    broker: String,
    lost: tokio::sync::watch::Sender<Option<String>>,
) {
    use futures_util::StreamExt;
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            lapin::Event::ConnectionBlocked(reason) => {
                crate::metrics::METRICS.broker_blocked.inc();
                crate::metrics::METRICS.broker_blocked_now.set(1);
                warn!(
                    %broker,
                    %reason,
                    blocked_total = crate::metrics::METRICS.broker_blocked.get(),
                    "RabbitMQ blocked publishing (resource alarm); waiting for it to clear, the binlog is not read meanwhile"
                );
            }
            lapin::Event::ConnectionUnblocked => {
                crate::metrics::METRICS.broker_blocked_now.set(0);
                info!(%broker, "RabbitMQ unblocked publishing; resuming");
            }
            lapin::Event::SendFlow(false) => {
                warn!(%broker, "RabbitMQ paused the channel (channel.flow); waiting");
            }
            lapin::Event::Error(e) => {
                crate::metrics::METRICS.sink_connected.set(0);
                crate::metrics::METRICS.broker_blocked_now.set(0);
                let _ = lost.send(Some(e.to_string()));
            }
            _ => {}
        }
    }
}
