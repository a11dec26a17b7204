//! A sink that prints each message as one line on standard output, for trying binlog-relay
//! without a broker (Maxwell's `producer=stdout`). A message counts as delivered once it is
//! flushed to the output.

use std::future::{Ready, ready};

use tokio::io::{AsyncWriteExt, BufWriter, Stdout};

use super::{Outgoing, Sink, SinkError};

/// Output buffered before a write: tokio's stdout writes on its blocking thread pool, so
/// each write is a hand-off between threads; 1 MiB makes them rare (measured:
/// docs/performance.md, issue 9).
const BUFFER: usize = 1 << 20;

/// Writes messages to standard output, one per line.
pub struct StdoutSink {
    out: BufWriter<Stdout>,
}

impl StdoutSink {
    pub fn new() -> Self {
        Self {
            out: BufWriter::with_capacity(BUFFER, tokio::io::stdout()),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    type Confirm = Ready<Result<(), SinkError>>;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        self.out
            .write_all(message.body)
            .await
            .map_err(SinkError::Stdout)?;
        self.out.write_all(b"\n").await.map_err(SinkError::Stdout)?;
        Ok(ready(Ok(())))
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().await.map_err(SinkError::Stdout)
    }

    async fn close(mut self) {
        let _ = self.out.flush().await;
    }
}
