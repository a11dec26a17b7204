//! The RabbitMQ sink: Maxwell's AMQP publishing, plus publisher confirms.
//!
//! What consumers see is exactly Maxwell's (maxwell.md §2): the same exchange declaration,
//! the routing key from `routing_key_template` with `%db%` and `%table%` (plus `%type%`,
//! which Maxwell leaves literal, and optional per-table routes to other exchanges), and no
//! message properties at all or only `delivery_mode=2` when `persistent`. What Maxwell does
//! not do and we do: the channel is in confirm mode, and a message counts as delivered only
//! when the broker acks it, so the checkpoint never runs ahead of the broker.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    PublisherConfirm,
};
use serde::Deserialize;
use tracing::{info, warn};

use super::{Outgoing, Sink, SinkError};
use crate::filter::TablePattern;
use crate::section::{ConfigError, Secret};

/// Maxwell's defaults (maxwell.md §2.1), so an unchanged deployment sees the same topology.
const DEFAULT_URI: &str = "amqp://guest:guest@localhost:5672/%2f";
const DEFAULT_EXCHANGE: &str = "maxwell";
const DEFAULT_EXCHANGE_TYPE: &str = "fanout";
const DEFAULT_ROUTING_KEY_TEMPLATE: &str = "%db%.%table%";
/// Unconfirmed messages allowed at once. Measured on the project machine, the broker's
/// persistent-message throughput rises up to about 1000 in flight and little beyond.
const DEFAULT_MAX_IN_FLIGHT: usize = 1000;

/// `[sink.rabbitmq]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitmqConfig {
    /// `amqp://user:password@host:port/vhost`; it holds a password, so it is never logged.
    #[serde(default = "default_uri")]
    pub uri: Secret,
    #[serde(default = "default_exchange")]
    pub exchange: String,
    /// fanout, direct, topic or headers.
    #[serde(default = "default_exchange_type")]
    pub exchange_type: String,
    #[serde(default)]
    pub exchange_durable: bool,
    #[serde(default)]
    pub exchange_auto_delete: bool,
    /// Declare the exchange at start-up (Maxwell's `rabbitmq_declare_exchange`).
    #[serde(default = "yes")]
    pub declare_exchange: bool,
    /// `%db%`, `%table%` and `%type%` are replaced; everything else is literal.
    #[serde(default = "default_routing_key_template")]
    pub routing_key_template: String,
    /// Send `delivery_mode=2` (Maxwell's `rabbitmq_message_persistent`).
    #[serde(default)]
    pub persistent: bool,
    /// Publish with `mandatory`, so a message no queue receives is an error instead of
    /// vanishing. Off by default like Maxwell.
    #[serde(default)]
    pub mandatory: bool,
    /// How many messages may await the broker's confirmation at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Tables sent to another exchange than `exchange`: the first matching route wins.
    /// Route exchanges are declared like the main one.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Set the AMQP `message_id` property to the message's stable identity
    /// (`server_id:file:offset:index`), so consumers can drop the duplicates a restart can
    /// cause. Off by default: Maxwell sends no such property.
    #[serde(default)]
    pub message_id: bool,
    /// A file holding the broker password (a systemd credential, a mounted secret), used
    /// instead of the one in `uri`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `[sink.rabbitmq.tls]`: the CA and client certificate for an `amqps://` URI.
    #[serde(default)]
    pub tls: RabbitmqTlsConfig,
}

/// `[sink.rabbitmq.tls]`. TLS itself is chosen by the URI's scheme, `amqps://`, and the
/// broker's certificate is always verified, name included.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitmqTlsConfig {
    /// PEM file of the CA(s) that signed the broker's certificate, trusted besides the
    /// system's.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain and PKCS#8 private key, for brokers that verify clients.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

impl RabbitmqTlsConfig {
    fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.client_cert_file.is_some() || self.client_key_file.is_some()
    }

    /// The files read into lapin's TLS settings.
    fn load(&self) -> Result<OwnedTLSConfig, SinkError> {
        let read = |key: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|e| SinkError::TlsFile {
                key,
                path: path.clone(),
                message: e.to_string(),
            })
        };
        let cert_chain = match &self.ca_file {
            Some(path) => Some(
                String::from_utf8(read("sink.rabbitmq.tls.ca_file", path)?).map_err(|_| {
                    SinkError::TlsFile {
                        key: "sink.rabbitmq.tls.ca_file",
                        path: path.clone(),
                        message: "not a PEM file".into(),
                    }
                })?,
            ),
            None => None,
        };
        let identity = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
                pem: read("sink.rabbitmq.tls.client_cert_file", cert)?,
                key: read("sink.rabbitmq.tls.client_key_file", key)?,
            }),
            _ => None,
        };
        Ok(OwnedTLSConfig {
            identity,
            cert_chain,
        })
    }
}

/// Opens a connection to the broker with the configured TLS settings.
pub(crate) async fn connect_broker(config: &RabbitmqConfig) -> Result<Connection, SinkError> {
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

/// `[[sink.rabbitmq.routes]]`: tables matching `tables` go to `exchange`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `db.table` with `*`, exact names or `/regex/`, as in filters.
    pub tables: String,
    pub exchange: String,
}

fn default_uri() -> Secret {
    Secret::new(DEFAULT_URI)
}
fn default_exchange() -> String {
    DEFAULT_EXCHANGE.into()
}
fn default_exchange_type() -> String {
    DEFAULT_EXCHANGE_TYPE.into()
}
fn default_routing_key_template() -> String {
    DEFAULT_ROUTING_KEY_TEMPLATE.into()
}
fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}
fn yes() -> bool {
    true
}

impl Default for RabbitmqConfig {
    fn default() -> Self {
        Self {
            uri: default_uri(),
            exchange: default_exchange(),
            exchange_type: default_exchange_type(),
            exchange_durable: false,
            exchange_auto_delete: false,
            declare_exchange: true,
            routing_key_template: default_routing_key_template(),
            persistent: false,
            mandatory: false,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            routes: Vec::new(),
            message_id: false,
            password_file: None,
            tls: RabbitmqTlsConfig::default(),
        }
    }
}

impl RabbitmqConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let uri = self.parsed_uri()?;
        if self.tls.is_set() && uri.scheme != lapin::uri::AMQPScheme::AMQPS {
            return Err(ConfigError::key(
                "sink.rabbitmq.tls",
                "certificates are set but sink.rabbitmq.uri is amqp://: use amqps:// so the connection is encrypted",
            ));
        }
        crate::section::check_tls_files(
            "sink.rabbitmq.tls",
            self.tls.ca_file.as_deref(),
            self.tls.client_cert_file.as_deref(),
            self.tls.client_key_file.as_deref(),
        )?;
        if !matches!(
            self.exchange_type.as_str(),
            "fanout" | "direct" | "topic" | "headers"
        ) {
            return Err(ConfigError::key(
                "sink.rabbitmq.exchange_type",
                format!(
                    "{:?} is not an exchange type: use fanout, direct, topic or headers",
                    self.exchange_type
                ),
            ));
        }
        for (n, route) in self.routes.iter().enumerate() {
            TablePattern::parse(&route.tables).map_err(|e| {
                ConfigError::key(
                    format!("sink.rabbitmq.routes[{n}].tables"),
                    format!("{:?}: {e}", route.tables),
                )
            })?;
            if route.exchange.is_empty() {
                return Err(ConfigError::key(
                    format!("sink.rabbitmq.routes[{n}].exchange"),
                    "must name an exchange",
                ));
            }
        }
        if self.max_in_flight == 0 {
            return Err(ConfigError::key(
                "sink.rabbitmq.max_in_flight",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn parsed_uri(&self) -> Result<AMQPUri, ConfigError> {
        // The parser's message may quote the URI, password and all: leave it out.
        self.uri.expose().parse::<AMQPUri>().map_err(|_| {
            ConfigError::key(
                "sink.rabbitmq.uri",
                "not an AMQP URI; expected amqp://USER:PASSWORD@HOST:PORT/VHOST (or amqps://)",
            )
        })
    }

    /// `host:port/vhost`, safe to log.
    pub fn address(&self) -> String {
        match self.parsed_uri() {
            Ok(u) => format!("{}:{}/{}", u.authority.host, u.authority.port, u.vhost),
            Err(_) => "(invalid uri)".into(),
        }
    }

    fn exchange_kind(&self) -> ExchangeKind {
        match self.exchange_type.as_str() {
            "fanout" => ExchangeKind::Fanout,
            "direct" => ExchangeKind::Direct,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            other => ExchangeKind::Custom(other.to_owned()),
        }
    }
}

/// A routing key template split once into literal text and placeholders.
#[derive(Debug, Clone)]
pub struct RoutingKeyTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Db,
    Table,
    Type,
}

impl RoutingKeyTemplate {
    pub fn new(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let next = [
                ("%db%", Part::Db),
                ("%table%", Part::Table),
                ("%type%", Part::Type),
            ]
            .into_iter()
            .filter_map(|(tag, part)| rest.find(tag).map(|at| (at, tag.len(), part)))
            .min_by_key(|(at, _, _)| *at);
            match next {
                Some((at, len, part)) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    parts.push(part);
                    rest = &rest[at + len..];
                }
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
            }
        }
        Self { parts }
    }

    /// The key for a message; `kind` is `insert`, `update`, `delete` or `ddl`.
    pub fn render(&self, database: &str, table: &str, kind: &str) -> String {
        let mut key = String::with_capacity(database.len() + table.len() + 8);
        for part in &self.parts {
            key.push_str(match part {
                Part::Literal(s) => s,
                Part::Db => database,
                Part::Table => table,
                Part::Type => kind,
            });
        }
        key
    }
}

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
        let address = config.address();
        let connection = connect_broker(config).await?;
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
        let watcher = tokio::spawn(watch_connection(
            connection.events_listener(),
            address.clone(),
            lost_tx,
        ));
        info!(
            broker = %address,
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
            options: BasicPublishOptions {
                mandatory: config.mandatory,
                immediate: false,
            },
        })
    }
}

/// Logs and counts the broker's flow control, and reports a failed connection. While
/// RabbitMQ blocks the connection (a memory or disk alarm), lapin stops writing to the
/// socket, so publishing pauses, confirms stop arriving, and the bounded pipeline stops
/// reading the binlog: nothing piles up here.
async fn watch_connection(
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

/// A broker confirmation for one message.
pub struct RabbitmqConfirm {
    inner: PublisherConfirm,
    exchange: String,
    routing_key: String,
}

impl Future for RabbitmqConfirm {
    type Output = Result<(), SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let confirmation = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        Poll::Ready(match confirmation {
            Ok(Confirmation::Ack(None)) => Ok(()),
            Ok(Confirmation::Ack(Some(_))) => Err(SinkError::Returned {
                exchange: std::mem::take(&mut this.exchange),
                routing_key: std::mem::take(&mut this.routing_key),
            }),
            Ok(Confirmation::Nack(_)) | Ok(Confirmation::NotRequested) => Err(SinkError::Nacked),
            Err(source) => Err(SinkError::Publish { source }),
        })
    }
}

impl Sink for RabbitmqSink {
    type Confirm = RabbitmqConfirm;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        let routing_key =
            self.template
                .render(message.database, message.table, message.kind.as_str());
        let exchange = self
            .routes
            .iter()
            .find(|(tables, _)| tables.matches(message.database, message.table))
            .map_or(self.exchange.as_str(), |(_, exchange)| exchange.as_str());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_substitute_db_table_and_type() {
        let t = RoutingKeyTemplate::new("%db%.%table%");
        assert_eq!(t.render("tcs", "Placement", "insert"), "tcs.Placement");
        let t = RoutingKeyTemplate::new("db.%db%.%table%.%type%");
        assert_eq!(
            t.render("tcs", "Placement", "update"),
            "db.tcs.Placement.update"
        );
        let t = RoutingKeyTemplate::new("fixed");
        assert_eq!(t.render("a", "b", "delete"), "fixed");
        let t = RoutingKeyTemplate::new("%table%%db%%table%%other%");
        assert_eq!(t.render("d", "", "ddl"), "d%other%");
    }

    #[test]
    fn the_uri_is_checked_and_never_shown() {
        let mut c = RabbitmqConfig {
            uri: Secret::new("amqp://u:s3cret@broker:5673/%2f"),
            ..RabbitmqConfig::default()
        };
        assert!(c.validate().is_ok());
        assert_eq!(c.address(), "broker:5673//");
        assert!(!format!("{c:?}").contains("s3cret"));
        c.uri = Secret::new("http://nope");
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("sink.rabbitmq.uri"), "{err}");
        assert!(!err.to_string().contains("nope") || !err.to_string().contains("s3cret"));
    }
}
