//! Why a message was not delivered, and which of those failures may heal by themselves.

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "cannot connect to RabbitMQ at {address}: {source}; check sink.rabbitmq.uri and that the broker is running"
    )]
    Connect {
        address: String,
        #[source]
        source: lapin::Error,
    },
    #[error(
        "TLS to RabbitMQ at {address} failed: {message}. Check sink.rabbitmq.tls.ca_file (the CA that signed the broker's certificate), that the certificate names the URI's host, and that the port speaks TLS"
    )]
    Tls { address: String, message: String },
    #[error("cannot read {key} ({}): {message}", path.display())]
    TlsFile {
        key: &'static str,
        path: std::path::PathBuf,
        message: String,
    },
    #[error(
        "RabbitMQ refused to declare exchange `{exchange}` ({source}); if it exists with another type or durability, make sink.rabbitmq.exchange_type/exchange_durable match it or set declare_exchange = false"
    )]
    DeclareExchange {
        exchange: String,
        #[source]
        source: lapin::Error,
    },
    #[error("RabbitMQ channel setup failed: {source}")]
    Channel {
        #[source]
        source: lapin::Error,
    },
    #[error("publishing to RabbitMQ failed: {source}")]
    Publish {
        #[source]
        source: lapin::Error,
    },
    #[error("the connection to RabbitMQ was lost: {0}")]
    Lost(String),
    #[error(
        "no answer from RabbitMQ at {address} within {millis} ms (sink.rabbitmq.connect_timeout_ms); trying again"
    )]
    ConnectTimeout { address: String, millis: u64 },
    #[error(
        "RabbitMQ did not confirm a message within {millis} ms (sink.rabbitmq.confirm_timeout_ms) and is not blocking publishing; taking the connection as lost"
    )]
    ConfirmTimeout { millis: u64 },
    #[error("RabbitMQ negatively acknowledged a message (nack); it was not stored")]
    Nacked,
    #[error(
        "RabbitMQ returned a message as unroutable: no queue is bound to exchange `{exchange}` for routing key `{routing_key}`"
    )]
    Returned {
        exchange: String,
        routing_key: String,
    },
    #[error("writing to standard output failed: {0}")]
    Stdout(#[source] std::io::Error),
}

impl SinkError {
    /// Whether retrying later may succeed: the broker went away or refused one message.
    /// A nacked or returned message is retried (after a pause, from the checkpoint), never
    /// skipped. Refusals at connection time (credentials, vhost) and exchange declarations
    /// the broker rejects need the operator.
    pub fn is_transient(&self) -> bool {
        let answered = |e: &lapin::Error| matches!(e.kind(), lapin::ErrorKind::ProtocolError(_));
        match self {
            SinkError::Connect { source, .. } | SinkError::DeclareExchange { source, .. } => {
                !answered(source)
            }
            SinkError::Channel { .. }
            | SinkError::Lost(_)
            | SinkError::ConnectTimeout { .. }
            | SinkError::ConfirmTimeout { .. }
            | SinkError::Publish { .. }
            | SinkError::Nacked
            | SinkError::Returned { .. } => true,
            SinkError::Stdout(_) | SinkError::Tls { .. } | SinkError::TlsFile { .. } => false,
        }
    }
}
