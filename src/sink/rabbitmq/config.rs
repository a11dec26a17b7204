//! `[sink.rabbitmq]`: the broker, the exchange and its declaration, routing, publishing
//! options, and the TLS files; Maxwell's defaults where Maxwell has the option.

use std::path::PathBuf;

use lapin::ExchangeKind;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::uri::AMQPUri;
use serde::Deserialize;

use crate::filter::TablePattern;
use crate::section::{ConfigError, Secret};
use crate::sink::SinkError;

/// Maxwell's defaults, so an unchanged deployment sees the same topology (docs/format.md).
const DEFAULT_URI: &str = "amqp://guest:guest@localhost:5672/%2f";
const DEFAULT_EXCHANGE: &str = "maxwell";
const DEFAULT_EXCHANGE_TYPE: &str = "fanout";
const DEFAULT_ROUTING_KEY_TEMPLATE: &str = "%db%.%table%";
/// Unconfirmed messages allowed at once. Measured on the project machine, the broker's
/// persistent-message throughput rises up to about 1000 in flight and little beyond.
const DEFAULT_MAX_IN_FLIGHT: usize = 1000;
/// The pause after the broker refuses a message (a nack or a return) before it is sent
/// again: short, so a queue that frees room gets it refilled long before its consumer runs
/// dry (a full queue of 1,000 takes a 1,000 msg/s consumer a second).
const DEFAULT_RETRY_DELAY_MS: u64 = 100;
/// The longest pause, reached when refusals go on without progress (no queue bound, a
/// consumer that stopped): the broker then gets a few messages a second, not a flood.
const DEFAULT_RETRY_MAX_DELAY_MS: u64 = 2000;
/// AMQP heartbeats every 5 s: a broker that sends nothing for two of them (10 s) is taken
/// as gone, so a dark node or a dead route is noticed within seconds.
const DEFAULT_HEARTBEAT_SECS: u16 = 5;
/// Connecting (TCP, TLS, AMQP handshake, channel) to an address that never answers gives
/// up after this long and tries the next address.
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
/// A message not confirmed this long after it was published means the broker is not
/// doing its job (heartbeats may still come): the connection is taken as lost. Not while
/// the broker blocks publishing on purpose (a resource alarm).
const DEFAULT_CONFIRM_TIMEOUT_MS: u64 = 20_000;

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
    /// Milliseconds to pause after the broker refuses a message before sending it (and
    /// every message after it) again; doubles while refusals make no progress.
    #[serde(default = "default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    /// The longest such pause, in milliseconds.
    #[serde(default = "default_retry_max_delay_ms")]
    pub retry_max_delay_ms: u64,
    /// The AMQP heartbeat interval asked for, in seconds (the broker may ask for less).
    /// Two silent intervals close the connection.
    #[serde(default = "default_heartbeat_secs")]
    pub heartbeat_secs: u16,
    /// Milliseconds a connection attempt may take before the next address is tried.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Milliseconds a published message may wait for its confirmation before the
    /// connection is taken as lost (not counted while the broker blocks publishing).
    #[serde(default = "default_confirm_timeout_ms")]
    pub confirm_timeout_ms: u64,
    /// The nodes of a RabbitMQ cluster, `host:port` each, tried in turn on start and on
    /// every reconnect; the URI's scheme, credentials and vhost apply to all of them.
    /// Empty: the URI's own host and port.
    #[serde(default)]
    pub addresses: Vec<String>,
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
    pub(super) fn load(&self) -> Result<OwnedTLSConfig, SinkError> {
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
fn default_heartbeat_secs() -> u16 {
    DEFAULT_HEARTBEAT_SECS
}
fn default_connect_timeout_ms() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}
fn default_confirm_timeout_ms() -> u64 {
    DEFAULT_CONFIRM_TIMEOUT_MS
}
fn default_retry_delay_ms() -> u64 {
    DEFAULT_RETRY_DELAY_MS
}
fn default_retry_max_delay_ms() -> u64 {
    DEFAULT_RETRY_MAX_DELAY_MS
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
            retry_delay_ms: DEFAULT_RETRY_DELAY_MS,
            retry_max_delay_ms: DEFAULT_RETRY_MAX_DELAY_MS,
            heartbeat_secs: DEFAULT_HEARTBEAT_SECS,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            confirm_timeout_ms: DEFAULT_CONFIRM_TIMEOUT_MS,
            addresses: Vec::new(),
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
        if self.heartbeat_secs == 0 {
            return Err(ConfigError::key(
                "sink.rabbitmq.heartbeat_secs",
                "must be at least 1: without heartbeats a silent broker is never noticed",
            ));
        }
        if self.connect_timeout_ms == 0 {
            return Err(ConfigError::key(
                "sink.rabbitmq.connect_timeout_ms",
                "must be at least 1 (milliseconds)",
            ));
        }
        if self.confirm_timeout_ms < 1000 {
            return Err(ConfigError::key(
                "sink.rabbitmq.confirm_timeout_ms",
                "must be at least 1000: persistent messages wait for the broker's disk",
            ));
        }
        if self.parsed_uri()?.query.heartbeat == Some(0) {
            return Err(ConfigError::key(
                "sink.rabbitmq.uri",
                "heartbeat=0 turns AMQP heartbeats off, and a silent broker would never be noticed: remove it (sink.rabbitmq.heartbeat_secs sets the interval)",
            ));
        }
        for (n, address) in self.addresses.iter().enumerate() {
            parse_address(address).map_err(|why| {
                ConfigError::key(
                    format!("sink.rabbitmq.addresses[{n}]"),
                    format!("{address:?}: {why}"),
                )
            })?;
        }
        if self.retry_delay_ms == 0 {
            return Err(ConfigError::key(
                "sink.rabbitmq.retry_delay_ms",
                "must be at least 1 (milliseconds)",
            ));
        }
        if self.retry_max_delay_ms < self.retry_delay_ms {
            return Err(ConfigError::key(
                "sink.rabbitmq.retry_max_delay_ms",
                format!(
                    "must be at least sink.rabbitmq.retry_delay_ms ({})",
                    self.retry_delay_ms
                ),
            ));
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

    /// Where to connect, in the order to try: one URI per address (the URI's own when
    /// `addresses` is empty), with the heartbeat asked for. Each comes with its
    /// `host:port` for logs and metrics. The URIs hold the password: never log them.
    pub(super) fn endpoints(&self) -> Vec<(String, String)> {
        let Ok(base) = self.parsed_uri() else {
            return Vec::new();
        };
        let mut targets: Vec<(String, u16)> = self
            .addresses
            .iter()
            .filter_map(|a| parse_address(a).ok())
            .collect();
        if targets.is_empty() {
            targets.push((base.authority.host.clone(), base.authority.port));
        }
        targets
            .into_iter()
            .map(|(host, port)| {
                let mut uri = base.clone();
                uri.authority.host = host.clone();
                uri.authority.port = port;
                if uri.query.heartbeat.is_none() {
                    uri.query.heartbeat = Some(self.heartbeat_secs);
                }
                (uri.to_string(), format!("{host}:{port}"))
            })
            .collect()
    }

    /// The nodes reached in plain text over a network (`amqp://` to a host that is not
    /// loopback): the password and every message cross it unencrypted.
    pub fn plaintext_remote_nodes(&self) -> Vec<String> {
        let Ok(uri) = self.parsed_uri() else {
            return Vec::new();
        };
        if uri.scheme == lapin::uri::AMQPScheme::AMQPS {
            return Vec::new();
        }
        self.endpoints()
            .into_iter()
            .map(|(_, node)| node)
            .filter(|node| {
                let host = node.rsplit_once(':').map_or(node.as_str(), |(h, _)| h);
                !crate::net::is_loopback_host(host)
            })
            .collect()
    }

    /// The URI's vhost, for messages.
    pub fn vhost_name(&self) -> String {
        self.vhost()
    }

    /// The URI's vhost.
    pub(super) fn vhost(&self) -> String {
        self.parsed_uri().map(|u| u.vhost).unwrap_or_default()
    }

    /// `host:port/vhost`, safe to log.
    pub fn address(&self) -> String {
        match self.parsed_uri() {
            Ok(u) => format!("{}:{}/{}", u.authority.host, u.authority.port, u.vhost),
            Err(_) => "(invalid uri)".into(),
        }
    }

    pub(super) fn exchange_kind(&self) -> ExchangeKind {
        match self.exchange_type.as_str() {
            "fanout" => ExchangeKind::Fanout,
            "direct" => ExchangeKind::Direct,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            other => ExchangeKind::Custom(other.to_owned()),
        }
    }
}

/// `host:port` into its parts.
fn parse_address(address: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or("expected HOST:PORT, e.g. \"rabbit-2:5672\"")?;
    if host.is_empty() {
        return Err("the host is empty");
    }
    // The AMQP client reads the host of a URI as a domain name or an IPv4 address only.
    if host.contains(':') || host.starts_with('[') {
        return Err("IPv6 addresses are not supported here: use a host name that resolves to it");
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| "the port is not a number")?;
    if port == 0 {
        return Err("the port must be 1-65535");
    }
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addresses_share_the_uris_credentials_and_are_checked() {
        let c = RabbitmqConfig {
            uri: Secret::new("amqp://u:pw@one:5672/%2f"),
            addresses: vec!["two:5673".into(), "three:5674".into()],
            ..RabbitmqConfig::default()
        };
        assert!(c.validate().is_ok());
        let endpoints = c.endpoints();
        let labels: Vec<&str> = endpoints.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["two:5673", "three:5674"]);
        let first: AMQPUri = endpoints[0].0.parse().unwrap();
        assert_eq!(first.authority.userinfo.password, "pw");
        assert_eq!(first.query.heartbeat, Some(5));
        let single = RabbitmqConfig::default().endpoints();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].1, "localhost:5672");
        for bad in ["nohost", ":5672", "h:0", "h:port", "[::1]:5672", "::1:5672"] {
            let c = RabbitmqConfig {
                addresses: vec![bad.into()],
                ..RabbitmqConfig::default()
            };
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains("sink.rabbitmq.addresses[0]"), "{bad}: {err}");
        }
        // Plain text over the network is flagged; loopback and amqps:// are not.
        assert_eq!(c.plaintext_remote_nodes(), ["two:5673", "three:5674"]);
        let local = RabbitmqConfig {
            uri: Secret::new("amqp://u:pw@127.0.0.1:5672/%2f"),
            addresses: vec!["localhost:5673".into()],
            ..RabbitmqConfig::default()
        };
        assert!(local.plaintext_remote_nodes().is_empty());
        let tls = RabbitmqConfig {
            uri: Secret::new("amqps://u:pw@one:5671/%2f"),
            ..RabbitmqConfig::default()
        };
        assert!(tls.plaintext_remote_nodes().is_empty());
        // Heartbeats cannot be turned off through the URI either.
        let c = RabbitmqConfig {
            uri: Secret::new("amqp://u:pw@one:5672/%2f?heartbeat=0"),
            ..RabbitmqConfig::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("heartbeat=0"), "{err}");
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
