//! Shutdown signalling: one sender, cloned receivers in every task.
//!
//! SIGINT/SIGTERM (or a test) calls [`Shutdown::trigger`]; each task selects on
//! [`ShutdownSignal::wait`] with priority and winds down: the reader stops reading, the
//! publisher stops taking new transactions, waits for outstanding confirms and writes the
//! checkpoint. A second signal, or `shutdown.deadline_ms` passing, cuts that short.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::section::ConfigError;

/// The sending side.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

/// The receiving side; cheap to clone.
#[derive(Clone)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
    /// Also stopped once this says so (a leader whose lease ran out): checked by
    /// [`ShutdownSignal::is_triggered`], the check the publisher makes before every message.
    expired: Option<std::sync::Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl std::fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

impl Shutdown {
    pub fn new() -> (Self, ShutdownSignal) {
        let (tx, rx) = watch::channel(false);
        (Self { tx }, ShutdownSignal { rx, expired: None })
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
        *self.rx.borrow() || self.expired.as_ref().is_some_and(|expired| expired())
    }

    /// The same signal, also triggered from the moment `expired` returns true. Only
    /// [`ShutdownSignal::is_triggered`] sees the expiry (`wait` does not wake for it), so
    /// whoever makes `expired` true should also trigger the sender.
    pub fn or_when(mut self, expired: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.expired = Some(std::sync::Arc::new(expired));
        self
    }
}

/// Maxwell has no deadline; systemd's default stop timeout is 90 s, and the unit we ship
/// allows 60 s, so the daemon gives up first and says so.
const DEFAULT_DEADLINE_MS: u64 = 30_000;

/// `[shutdown]`: how long a stop may take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// After SIGTERM/SIGINT, how long to wait for outstanding confirms before exiting
    /// anyway (milliseconds). Unconfirmed messages are then re-sent on the next start.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
}

fn default_deadline_ms() -> u64 {
    DEFAULT_DEADLINE_MS
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            deadline_ms: DEFAULT_DEADLINE_MS,
        }
    }
}

impl ShutdownConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.deadline_ms == 0 {
            return Err(ConfigError::key(
                "shutdown.deadline_ms",
                "must be at least 1 (milliseconds)",
            ));
        }
        Ok(())
    }

    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Why a stop could not finish in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// A second SIGINT/SIGTERM arrived while stopping.
    SecondSignal,
    /// The stop took longer than `shutdown.deadline_ms`.
    Deadline,
}

/// Triggers `shutdown` on the first SIGINT or SIGTERM, then resolves when the stop must be
/// cut short: a second signal, or the deadline passing. The caller exits the process then;
/// the checkpoint on disk only ever holds confirmed work, so exiting at any moment loses
/// nothing, it only means more is sent again on the next start.
pub async fn on_signals(shutdown: Shutdown, deadline: Duration) -> Forced {
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the daemon");
            Signals::ctrl_c_only()
        }
    };
    let name = signals.next().await;
    tracing::info!(
        signal = name,
        deadline_ms = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
        "stopping: finishing outstanding confirms (a second signal exits at once)"
    );
    // systemd learns at once that the stop has begun, not only when it ends.
    crate::systemd::stopping();
    shutdown.trigger();
    tokio::select! {
        _ = signals.next() => Forced::SecondSignal,
        _ = tokio::time::sleep(deadline) => Forced::Deadline,
    }
}

/// SIGINT and SIGTERM as one stream.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            Ok(Self { term: Some(term) })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    fn ctrl_c_only() -> Self {
        #[cfg(unix)]
        {
            Self { term: None }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some(term) = &mut self.term {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_triggers_the_signal_without_the_sender() {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (shutdown, signal) = Shutdown::new();
        let signal = {
            let flag = flag.clone();
            signal.or_when(move || flag.load(std::sync::atomic::Ordering::SeqCst))
        };
        assert!(!signal.is_triggered());
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(signal.is_triggered());
        // Clones keep it.
        assert!(signal.clone().is_triggered());
        drop(shutdown);
    }
}
