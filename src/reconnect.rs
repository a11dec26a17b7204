//! Riding out lost connections: how long to pause before resuming from the checkpoint.
//!
//! When the broker or the database goes away, the pipeline stops as it would on any error
//! (in-flight confirms settle, the confirmed checkpoint is saved), then `pipeline::run` pauses
//! and starts over from the checkpoint: the unconfirmed tail is sent again, nothing is
//! skipped. Pauses double each time, plus up to as much again at random, so a fleet of daemons does not hit a
//! recovering broker in step, and start small again once a run has stayed up for a while.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use serde::Deserialize;

use crate::section::ConfigError;

const DEFAULT_INITIAL_DELAY_MS: u64 = 500;
const DEFAULT_MAX_DELAY_MS: u64 = 30_000;

/// `[reconnect]`: pauses between attempts after a lost connection. Attempts never stop;
/// a broker or database that stays away shows in the logs and the reconnect counter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    /// The first pause, in milliseconds.
    #[serde(default = "default_initial_delay_ms")]
    pub initial_delay_ms: u64,
    /// The longest pause, in milliseconds. A run that stays up this long resets the pause.
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
}

fn default_initial_delay_ms() -> u64 {
    DEFAULT_INITIAL_DELAY_MS
}
fn default_max_delay_ms() -> u64 {
    DEFAULT_MAX_DELAY_MS
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self {
            initial_delay_ms: DEFAULT_INITIAL_DELAY_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
        }
    }
}

impl ReconnectConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.initial_delay_ms == 0 {
            return Err(ConfigError::key(
                "reconnect.initial_delay_ms",
                "must be at least 1 (milliseconds)",
            ));
        }
        if self.max_delay_ms < self.initial_delay_ms {
            return Err(ConfigError::key(
                "reconnect.max_delay_ms",
                format!(
                    "must be at least reconnect.initial_delay_ms ({})",
                    self.initial_delay_ms
                ),
            ));
        }
        Ok(())
    }

    pub fn max_delay(&self) -> Duration {
        Duration::from_millis(self.max_delay_ms)
    }
}

/// The pauses of one outage.
pub struct Pauses {
    config: ReconnectConfig,
    delays: ExponentialBackoff,
}

impl Pauses {
    pub fn new(config: &ReconnectConfig) -> Self {
        Self {
            config: config.clone(),
            delays: Self::fresh(config),
        }
    }

    fn fresh(config: &ReconnectConfig) -> ExponentialBackoff {
        ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(config.initial_delay_ms))
            .with_max_delay(config.max_delay())
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// The pause before the next attempt. `ran_for` is how long the failed run lasted: one
    /// that stayed up at least the longest pause was healthy, so the pauses start over.
    pub fn next(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.config.max_delay() {
            self.delays = Self::fresh(&self.config);
        }
        self.delays
            .next()
            .unwrap_or_else(|| self.config.max_delay())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_limit_and_start_over_after_a_healthy_run() {
        let config = ReconnectConfig {
            initial_delay_ms: 100,
            max_delay_ms: 1_000,
        };
        let mut pauses = Pauses::new(&config);
        let quick = Duration::from_millis(10);
        let first: Vec<Duration> = (0..8).map(|_| pauses.next(quick)).collect();
        // Jitter adds up to one more base delay; never less than the base, never more than
        // twice the limit.
        assert!(first[0] >= Duration::from_millis(100), "{first:?}");
        assert!(first[0] < Duration::from_millis(200), "{first:?}");
        assert!(
            first.iter().all(|d| *d <= Duration::from_millis(2_000)),
            "{first:?}"
        );
        assert!(first[7] >= Duration::from_millis(1_000), "{first:?}");
        let after_healthy = pauses.next(Duration::from_secs(5));
        assert!(
            after_healthy < Duration::from_millis(200),
            "{after_healthy:?}"
        );
    }

    #[test]
    fn limits_are_checked() {
        let bad = ReconnectConfig {
            initial_delay_ms: 5_000,
            max_delay_ms: 1_000,
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("reconnect.max_delay_ms"), "{err}");
    }
}
