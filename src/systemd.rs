//! Telling systemd how the daemon is doing (`Type=notify`, `WatchdogSec=`).
//!
//! READY=1 goes out once the first binlog stream is open, so `systemctl start` returns when
//! replication has begun (or fails at `TimeoutStartSec` if the source never comes). STATUS=
//! follows the connection state; WATCHDOG=1 is sent at half the configured interval for as
//! long as the runtime runs. Outside systemd (`NOTIFY_SOCKET` unset) all of this is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::metrics::METRICS;

/// How often the connection state is looked at.
const POLL: Duration = Duration::from_millis(250);

/// Seconds the reader has been busy with one event, if longer than `limit`: a reader in a
/// loop that never awaits (a bug) must end in a restart, not in a daemon that looks alive.
/// Waiting for the stream or for a slow or blocked broker is not busy.
fn reader_stuck_for(limit: Duration) -> Option<f64> {
    stuck_for(
        METRICS.reader_busy_since.get(),
        crate::metrics::unix_now(),
        limit,
    )
}

/// How long a reader busy since `since` (0: not busy) has been stuck at `now`, past `limit`.
fn stuck_for(since: f64, now: f64, limit: Duration) -> Option<f64> {
    let busy = now - since;
    (since > 0.0 && busy > limit.as_secs_f64()).then_some(busy)
}

/// Runs for the life of the process.
pub async fn notify() {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Some(interval) = sd_notify::watchdog_enabled() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval / 2);
            loop {
                tick.tick().await;
                match reader_stuck_for(interval) {
                    // systemd restarts the process once the watchdog interval passes.
                    Some(busy) => tracing::error!(
                        busy_seconds = busy,
                        "the binlog reader has been busy with one event for longer than the watchdog interval; no longer telling systemd the daemon is alive"
                    ),
                    None => send(&[NotifyState::Watchdog]),
                }
            }
        });
    }
    let mut ready = false;
    let mut last = "";
    loop {
        let status = if METRICS.streaming.get() == 1 {
            "streaming"
        } else if METRICS.source_connected.get() == 1 {
            "connected; opening the stream"
        } else {
            "connecting"
        };
        if status != last {
            send(&[NotifyState::Status(status)]);
            last = status;
        }
        if !ready && status == "streaming" {
            send(&[NotifyState::Ready]);
            ready = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Tells systemd the daemon is stopping.
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

fn send(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!(error = %e, "cannot notify systemd");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_busy_past_the_watchdog_interval_is_stuck_and_a_waiting_one_is_not() {
        let limit = Duration::from_secs(30);
        assert_eq!(stuck_for(0.0, 1_000.0, limit), None, "waiting");
        assert_eq!(stuck_for(990.0, 1_000.0, limit), None, "busy 10 s");
        assert_eq!(stuck_for(960.0, 1_000.0, limit), Some(40.0));
    }
}
