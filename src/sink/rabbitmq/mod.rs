//! The RabbitMQ sink: Maxwell's AMQP publishing, plus publisher confirms.
//!
//! What consumers see is exactly Maxwell's (docs/format.md): the same exchange declaration,
//! the routing key from `routing_key_template` with `%db%` and `%table%` (plus `%type%`,
//! which Maxwell leaves literal, and optional per-table routes to other exchanges), and no
//! message properties at all or only `delivery_mode=2` when `persistent`. What Maxwell does
//! not do and we do: the channel is in confirm mode, and a message counts as delivered only
//! when the broker acks it, so the checkpoint never runs ahead of the broker.
//!
//! The folder is split by job: [`config`] (the section), [`connection`] (connecting, and
//! watching the connection), [`routing`] (keys and exchanges), [`confirm`] (one message's
//! confirmation); this file is the sink itself.

mod config;
mod confirm;
mod connection;
mod routing;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use std::sync::Arc;

use lapin::{BasicProperties, Channel, Connection};
use tracing::info;

pub use config::{RabbitmqConfig, RabbitmqTlsConfig, RouteConfig};
pub use confirm::RabbitmqConfirm;
pub use connection::{Connected, connect_broker, prefer_next_address};
pub use routing::RoutingKeyTemplate;

use super::{Outgoing, Sink, SinkError};
use crate::filter::TablePattern;

/// Publishes to one exchange over one confirm-mode channel.
pub struct RabbitmqSink {
    connection: Connection,
    channel: Channel,
    exchange: String,
    template: RoutingKeyTemplate,
    /// Per-table exchanges, in order.
    routes: Vec<(TablePattern, String)>,
    properties: BasicProperties,
    /// Add each message's identity as `message_id`.
    message_id: bool,
    /// Logs the broker's flow control for as long as the sink lives.
    watcher: tokio::task::JoinHandle<()>,
    /// Set when the connection fails.
    lost: tokio::sync::watch::Receiver<Option<String>>,
    /// Set while the broker blocks publishing (`connection.blocked`).
    blocked: Arc<super::Blocking>,
    options: BasicPublishOptions,
}

impl Drop for RabbitmqSink {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl RabbitmqSink {
    /// Connects, optionally declares the exchange, and turns on publisher confirms.
    pub async fn connect(config: &RabbitmqConfig) -> Result<Self, SinkError> {
        let Connected { connection, node } = connect_broker(config).await?;
        // The channel and the declarations could hang on a node gone quiet too.
        let timeout = std::time::Duration::from_millis(config.connect_timeout_ms);
        match tokio::time::timeout(timeout, Self::open(config, connection, node.clone())).await {
            Ok(result) => result,
            Err(_) => Err(SinkError::ConnectTimeout {
                address: node,
                millis: config.connect_timeout_ms,
            }),
        }
    }

    /// Opens the channel on a new connection, declares the exchanges and turns on
    /// confirms.
    async fn open(
        config: &RabbitmqConfig,
        connection: Connection,
        node: String,
    ) -> Result<Self, SinkError> {
        let address = format!("{node}/{}", config.vhost());
        let channel = connection
            .create_channel()
            .await
            .map_err(|source| SinkError::Channel { source })?;
        let mut routes = Vec::with_capacity(config.routes.len());
        for route in &config.routes {
            // Checked when the configuration was loaded.
            if let Ok(tables) = TablePattern::parse(&route.tables) {
                routes.push((tables, route.exchange.clone()));
            }
        }
        if config.declare_exchange {
            let options = ExchangeDeclareOptions {
                durable: config.exchange_durable,
                auto_delete: config.exchange_auto_delete,
                ..ExchangeDeclareOptions::default()
            };
            let exchanges =
                std::iter::once(&config.exchange).chain(config.routes.iter().map(|r| &r.exchange));
            for exchange in exchanges {
                channel
                    .exchange_declare(
                        exchange.as_str().into(),
                        config.exchange_kind(),
                        options,
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|source| SinkError::DeclareExchange {
                        exchange: exchange.clone(),
                        source,
                    })?;
            }
        }
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|source| SinkError::Channel { source })?;
        let (lost_tx, lost) = tokio::sync::watch::channel(None);
        let blocked = Arc::new(super::Blocking::default());
        let watcher = tokio::spawn(connection::watch_connection(
            connection.events_listener(),
            node.clone(),
            lost_tx,
            blocked.clone(),
        ));
        info!(
            broker = %address,
            node = %node,
            exchange = %config.exchange,
            persistent = config.persistent,
            "connected to RabbitMQ with publisher confirms"
        );
        let properties = if config.persistent {
            BasicProperties::default().with_delivery_mode(2)
        } else {
            BasicProperties::default()
        };
        Ok(Self {
            connection,
            channel,
            exchange: config.exchange.clone(),
            template: RoutingKeyTemplate::new(&config.routing_key_template),
            routes,
            properties,
            message_id: config.message_id,
            watcher,
            lost,
            blocked,
            options: BasicPublishOptions {
                mandatory: config.mandatory,
                immediate: false,
            },
        })
    }
}

impl Sink for RabbitmqSink {
    type Confirm = RabbitmqConfirm;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        let routing_key =
            self.template
                .render(message.database, message.table, message.kind.as_str());
        let exchange = routing::exchange_for(
            &self.routes,
            &self.exchange,
            message.database,
            message.table,
        );
        let properties = if self.message_id {
            self.properties
                .clone()
                .with_message_id(message.id.to_string().into())
        } else {
            self.properties.clone()
        };
        let inner = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.as_str().into(),
                self.options,
                message.body,
                properties,
            )
            .await
            .map_err(|source| SinkError::Publish { source })?;
        Ok(RabbitmqConfirm {
            inner,
            exchange: if self.options.mandatory {
                exchange.to_owned()
            } else {
                String::new()
            },
            routing_key: if self.options.mandatory {
                routing_key
            } else {
                String::new()
            },
        })
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        // Confirms already say the broker has every message the publisher counts.
        Ok(())
    }

    fn blocking(&self) -> Arc<super::Blocking> {
        self.blocked.clone()
    }

    async fn broken(&mut self) -> SinkError {
        match self.lost.wait_for(Option::is_some).await {
            Ok(message) => SinkError::Lost(message.clone().unwrap_or_default()),
            // The watcher is gone: so is the connection it watched.
            Err(_) => SinkError::Lost("the connection watcher stopped".into()),
        }
    }

    async fn close(self) {
        let _ = self
            .channel
            .close(200, "binlog-relay stopping".into())
            .await;
        let _ = self
            .connection
            .close(200, "binlog-relay stopping".into())
            .await;
    }
}
