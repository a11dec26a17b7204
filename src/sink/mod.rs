//! Sink: where messages go, and the confirmation that they arrived.
//!
//! A [`Sink`] publishes one message at a time in order and hands back a confirmation future
//! per message; the publisher (`pipeline::publisher`) keeps many of them in flight and moves
//! the checkpoint only past messages whose confirmation resolved `Ok`. Delivery is therefore
//! at-least-once: a sink must tolerate the same message being published again after a
//! restart. [`rabbitmq`] is the production sink; [`stdout`] prints one JSON message per line
//! for trying the daemon without a broker; [`memory`] records messages for tests.

mod blocking;
mod error;
pub mod memory;
pub mod rabbitmq;
pub mod stdout;

use std::future::Future;

use serde::Deserialize;

pub use blocking::Blocking;
pub use error::SinkError;
pub use rabbitmq::RabbitmqConfig;

use crate::format::MessageKind;
use crate::section::ConfigError;

/// One message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub database: &'a str,
    pub table: &'a str,
    /// The JSON body, exactly as it goes on the wire.
    pub body: &'a [u8],
    /// What the message describes (Maxwell's `type`).
    pub kind: MessageKind,
    pub id: MessageId<'a>,
}

/// A message's identity: the same row gets the same id after any restart, so consumers
/// can drop duplicates. The transaction is named by the source server and the binlog
/// position just after it; `index` counts the transaction's messages from 0. Written as
/// `server_id:file:offset:index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageId<'a> {
    pub server_id: u32,
    pub file: &'a str,
    pub offset: u64,
    pub index: usize,
}

impl std::fmt::Display for MessageId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.server_id, self.file, self.offset, self.index
        )
    }
}

/// A destination for messages.
pub trait Sink: Send {
    /// Resolves when the destination has the message (`Ok`) or refused it.
    type Confirm: Future<Output = Result<(), SinkError>> + Send + Unpin;

    /// Sends one message; messages are delivered in the order they are published.
    fn publish(
        &mut self,
        message: Outgoing<'_>,
    ) -> impl Future<Output = Result<Self::Confirm, SinkError>> + Send;

    /// Makes everything published so far durable at the destination (before a checkpoint).
    fn flush(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Closes the connection cleanly.
    fn close(self) -> impl Future<Output = ()> + Send;

    /// Whether the destination holds back confirmations on purpose (RabbitMQ's
    /// `connection.blocked`): a confirmation that takes long then, or just after, is no
    /// sign of a dead connection. Sinks that never block never block it.
    fn blocking(&self) -> std::sync::Arc<Blocking> {
        std::sync::Arc::new(Blocking::default())
    }

    /// Resolves when the connection is lost while idle, so the pipeline reconnects without
    /// waiting for the next message to fail. Sinks without a connection never resolve.
    fn broken(&mut self) -> impl Future<Output = SinkError> + Send {
        std::future::pending()
    }
}

/// Which sink `[sink] type` selects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    #[default]
    Rabbitmq,
    Stdout,
}

/// `[sink]`: which sink, and its settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    #[serde(rename = "type", default)]
    pub kind: SinkKind,
    #[serde(default)]
    pub rabbitmq: RabbitmqConfig,
}

impl SinkConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rabbitmq.validate()
    }
}
