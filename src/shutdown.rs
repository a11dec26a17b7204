//! Shutdown signalling: one sender, cloned receivers in every task.
//!
//! SIGINT/SIGTERM (or a test) calls [`Shutdown::trigger`]; each task selects on
//! [`ShutdownSignal::wait`] with priority and winds down: the reader stops reading, the
//! publisher stops taking new transactions, waits for outstanding confirms and writes the
//! checkpoint.

use tokio::sync::watch;

/// The sending side.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// The receiving side; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    pub fn new() -> (Self, ShutdownSignal) {
        let (tx, rx) = watch::channel(false);
        (Self { tx }, ShutdownSignal { rx })
    }

    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
}

impl ShutdownSignal {
    /// Resolves once shutdown was requested (immediately if it already was).
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }
}

/// Triggers `shutdown` on the first SIGINT or SIGTERM.
pub async fn on_signals(shutdown: Shutdown) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    shutdown.trigger();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => tracing::info!(signal = "SIGINT", "stopping: finishing outstanding confirms"),
            _ = term.recv() => tracing::info!(signal = "SIGTERM", "stopping: finishing outstanding confirms"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    shutdown.trigger();
}
