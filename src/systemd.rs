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
                send(&[NotifyState::Watchdog]);
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
