//! A sink that records messages in memory, with a switch to refuse them, for tests of the
//! publisher's confirm and checkpoint logic.

use std::future::{Ready, ready};
use std::sync::{Arc, Mutex};

use super::{Outgoing, Sink, SinkError};

/// A recorded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub database: String,
    pub table: String,
    /// The body's bytes, exactly as published.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body as text; `None` if it is not UTF-8 (which a message never should be).
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

/// Records every message; after `fail_after` messages, confirms come back as nacks.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    pub messages: Arc<Mutex<Vec<Recorded>>>,
    fail_after: Option<usize>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink whose confirms fail from message number `n` (0-based) on.
    pub fn failing_after(n: usize) -> Self {
        Self {
            fail_after: Some(n),
            ..Self::default()
        }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Sink for MemorySink {
    type Confirm = Ready<Result<(), SinkError>>;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        let mut messages = self.messages.lock().map_err(|_| SinkError::Nacked)?;
        let index = messages.len();
        messages.push(Recorded {
            database: message.database.to_owned(),
            table: message.table.to_owned(),
            body: message.body.to_vec(),
        });
        if self.fail_after.is_some_and(|n| index >= n) {
            return Ok(ready(Err(SinkError::Nacked)));
        }
        Ok(ready(Ok(())))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn close(self) {}
}
