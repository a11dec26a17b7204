//! Messages ready to publish: a transaction's bodies in one buffer, each with what it is
//! routed and counted by.

use std::ops::Range;
use std::sync::Arc;

use crate::decode::RowKind;

/// What a message describes: Maxwell's `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Insert,
    Update,
    Delete,
    Ddl,
    /// A table's bootstrap begins, its rows follow, it ends (Maxwell's three types).
    BootstrapStart,
    BootstrapInsert,
    BootstrapComplete,
}

impl MessageKind {
    /// The text Maxwell writes for it (and `%type%` in routing keys stands for).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Ddl => "ddl",
            Self::BootstrapStart => "bootstrap-start",
            Self::BootstrapInsert => "bootstrap-insert",
            Self::BootstrapComplete => "bootstrap-complete",
        }
    }
}

impl From<RowKind> for MessageKind {
    fn from(kind: RowKind) -> Self {
        match kind {
            RowKind::Insert => Self::Insert,
            RowKind::Update => Self::Update,
            RowKind::Delete => Self::Delete,
        }
    }
}

/// One message of a [`Batch`]: where its body lies and what to route it by.
#[derive(Debug, Clone)]
pub struct Message {
    pub database: Arc<str>,
    pub table: Arc<str>,
    /// What the message describes, for routing keys and metrics.
    pub kind: MessageKind,
    /// The message body's bytes in [`Batch::body`].
    pub range: Range<usize>,
}

/// The messages of one committed transaction, in binlog order, sharing one buffer.
#[derive(Debug, Default)]
pub struct Batch {
    pub body: Vec<u8>,
    pub messages: Vec<Message>,
}

impl Batch {
    /// Appends one message whose body `write` writes.
    pub fn push(
        &mut self,
        database: Arc<str>,
        table: Arc<str>,
        kind: MessageKind,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.body.len();
        write(&mut self.body);
        self.messages.push(Message {
            database,
            table,
            kind,
            range: start..self.body.len(),
        });
    }

    /// The body of message `m`.
    pub fn body_of(&self, m: &Message) -> &[u8] {
        self.body.get(m.range.clone()).unwrap_or_default()
    }

    /// This batch's messages, then `next`'s.
    pub fn followed_by(mut self, next: Batch) -> Batch {
        let offset = self.body.len();
        self.body.extend_from_slice(&next.body);
        self.messages
            .extend(next.messages.into_iter().map(|m| Message {
                range: m.range.start + offset..m.range.end + offset,
                ..m
            }));
        self
    }
}

/// Part of a committed transaction's messages, in order.
#[derive(Debug)]
pub struct Chunk {
    pub batch: Batch,
    /// Index in the transaction of the first message.
    pub first_index: usize,
    /// The transaction's last chunk.
    pub last: bool,
}
