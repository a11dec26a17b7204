//! Sinks that record messages in memory, for tests of the publisher's confirm, retry and
//! checkpoint logic: [`MemorySink`], which confirms at once (or refuses or loses chosen
//! messages), and [`HeldSink`], whose confirmations the test settles itself, in any order.

use std::collections::BTreeSet;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::{Outgoing, Sink, SinkError};

/// A recorded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub database: String,
    pub table: String,
    /// The message's identity (`server_id:file:offset:index`): the same for a message and
    /// its resends.
    pub id: String,
    /// The body's bytes, exactly as published.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as text; `None` if it is not UTF-8 (which a message never should be).
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    fn of(message: &Outgoing<'_>) -> Self {
        Self {
            database: message.database.to_owned(),
            table: message.table.to_owned(),
            id: message.id.to_string(),
            body: message.body.to_vec(),
        }
    }
}

/// What a [`MemorySink`] does besides confirming.
#[derive(Debug, Clone, Default)]
enum Faults {
    #[default]
    None,
    /// From this publish on (0-based, resends counted), confirmations fail as if the
    /// connection were lost.
    LostFrom(usize),
    /// These publishes (0-based, resends counted) are nacked; all others confirmed.
    Nacked(BTreeSet<usize>),
}

/// Records every message and confirms it at once, unless told otherwise.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    pub messages: Arc<Mutex<Vec<Recorded>>>,
    faults: Faults,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink whose connection "dies" at publish number `n` (0-based): its confirmation
    /// and every later one fail with [`SinkError::Lost`].
    pub fn losing_connection_at(n: usize) -> Self {
        Self {
            faults: Faults::LostFrom(n),
            ..Self::default()
        }
    }

    /// A sink that nacks the publishes numbered in `publishes` (0-based, resends counted)
    /// and confirms every other one.
    pub fn nacking(publishes: impl IntoIterator<Item = usize>) -> Self {
        Self {
            faults: Faults::Nacked(publishes.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Every publish so far, resends included, in order.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Sink for MemorySink {
    type Confirm = Ready<Result<(), SinkError>>;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        let mut messages = self
            .messages
            .lock()
            .map_err(|_| SinkError::Lost("memory sink poisoned".into()))?;
        let n = messages.len();
        messages.push(Recorded::of(&message));
        Ok(ready(match &self.faults {
            Faults::LostFrom(from) if n >= *from => Err(SinkError::Lost(
                "the memory sink's connection is gone".into(),
            )),
            Faults::Nacked(publishes) if publishes.contains(&n) => Err(SinkError::Nacked),
            _ => Ok(()),
        }))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn close(self) {}
}

/// A sink whose confirmations wait until the test settles them: each publish is recorded
/// with a confirmation the test acks, nacks or returns through [`HeldConfirms`], in any
/// order.
pub struct HeldSink {
    held: HeldConfirms,
}

/// The test's side of a [`HeldSink`]: what was published, and the open confirmations.
#[derive(Clone, Default)]
pub struct HeldConfirms {
    inner: Arc<Mutex<Held>>,
    blocking: Arc<super::Blocking>,
}

#[derive(Default)]
struct Held {
    published: Vec<Recorded>,
    /// One per publish; taken when settled.
    open: Vec<Option<oneshot::Sender<Result<(), SinkError>>>>,
}

impl HeldSink {
    pub fn new() -> (Self, HeldConfirms) {
        let held = HeldConfirms::default();
        (Self { held: held.clone() }, held)
    }
}

impl HeldConfirms {
    fn with<T>(&self, f: impl FnOnce(&mut Held) -> T) -> Option<T> {
        self.inner.lock().ok().map(|mut held| f(&mut held))
    }

    /// Every publish so far, resends included, in order.
    pub fn published(&self) -> Vec<Recorded> {
        self.with(|h| h.published.clone()).unwrap_or_default()
    }

    /// Publishes (0-based) whose confirmation is still open and awaited.
    pub fn open(&self) -> Vec<usize> {
        self.with(|h| {
            h.open
                .iter()
                .enumerate()
                .filter(|(_, s)| s.as_ref().is_some_and(|s| !s.is_closed()))
                .map(|(i, _)| i)
                .collect()
        })
        .unwrap_or_default()
    }

    /// Settles publish `n` with `result`; `false` if it was settled already or nobody
    /// waits for it any more.
    pub fn settle(&self, n: usize, result: Result<(), SinkError>) -> bool {
        let sender = self
            .with(|h| h.open.get_mut(n).and_then(Option::take))
            .flatten();
        sender.is_some_and(|s| s.send(result).is_ok())
    }

    pub fn ack(&self, n: usize) -> bool {
        self.settle(n, Ok(()))
    }

    pub fn nack(&self, n: usize) -> bool {
        self.settle(n, Err(SinkError::Nacked))
    }

    /// The connection "dies": every open confirmation fails as lost.
    pub fn lose_all(&self) {
        self.with(|h| {
            for sender in &mut h.open {
                sender.take();
            }
        });
    }

    /// Says the sink holds confirmations back on purpose (as a blocked broker does).
    pub fn set_blocked(&self, blocked: bool) {
        if blocked {
            self.blocking.block();
        } else {
            self.blocking.release();
        }
    }
}

/// A held confirmation; a dropped [`HeldConfirms`] reads as a lost connection.
pub struct HeldConfirm(oneshot::Receiver<Result<(), SinkError>>);

impl Future for HeldConfirm {
    type Output = Result<(), SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.unwrap_or_else(|_| Err(SinkError::Lost("the held confirmation was dropped".into())))
        })
    }
}

impl Sink for HeldSink {
    type Confirm = HeldConfirm;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        let (tx, rx) = oneshot::channel();
        self.held
            .with(|h| {
                h.published.push(Recorded::of(&message));
                h.open.push(Some(tx));
            })
            .ok_or_else(|| SinkError::Lost("held sink poisoned".into()))?;
        Ok(HeldConfirm(rx))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn blocking(&self) -> Arc<super::Blocking> {
        self.held.blocking.clone()
    }

    async fn close(self) {}
}
