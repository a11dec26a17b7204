//! Whether the destination holds publishing back on purpose, and since when it let go.
//!
//! RabbitMQ blocks publishing connections during a memory or disk alarm
//! (`connection.blocked`); confirmations stop for as long as the alarm lasts, which can be
//! minutes. The publisher's confirm timeout must not read that as a dead connection, nor
//! the backlog the broker works through right after it: a message's confirmation is due
//! `timeout` after the later of its publication and the end of the last block.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shared between the sink's connection watcher (which blocks and releases) and the
/// publisher (which asks when a confirmation is due).
#[derive(Debug, Default)]
pub struct Blocking {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    blocked: bool,
    released_at: Option<Instant>,
}

impl Blocking {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two plain fields: one left by a panicking holder is still whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The destination stopped taking messages on purpose.
    pub fn block(&self) {
        self.state().blocked = true;
    }

    /// It takes messages again (or the connection is gone, which ends the block too).
    pub fn release(&self) {
        let mut state = self.state();
        if state.blocked {
            state.blocked = false;
            state.released_at = Some(Instant::now());
        }
    }

    pub fn is_blocked(&self) -> bool {
        self.state().blocked
    }

    /// When the confirmation of a message published at `sent` is overdue: `timeout` after
    /// `sent` or after the end of the last block, whichever is later; `None` while blocked.
    pub fn due(&self, sent: Instant, timeout: Duration) -> Option<Instant> {
        let state = self.state();
        if state.blocked {
            return None;
        }
        let start = state
            .released_at
            .map_or(sent, |released| released.max(sent));
        Some(start + timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_is_due_a_timeout_after_publication_or_after_the_last_block() {
        let blocking = Blocking::default();
        let sent = Instant::now();
        let timeout = Duration::from_secs(20);
        assert_eq!(blocking.due(sent, timeout), Some(sent + timeout));
        blocking.block();
        assert!(blocking.is_blocked());
        assert_eq!(blocking.due(sent, timeout), None, "never due while blocked");
        std::thread::sleep(Duration::from_millis(5));
        blocking.release();
        assert!(!blocking.is_blocked());
        let due = blocking.due(sent, timeout).unwrap();
        assert!(due >= sent + timeout + Duration::from_millis(5), "{due:?}");
        // A message sent after the block counts from its own publication.
        let later = Instant::now() + Duration::from_secs(1);
        assert_eq!(blocking.due(later, timeout), Some(later + timeout));
        // A release without a block moves nothing.
        blocking.release();
        assert_eq!(blocking.due(sent, timeout), Some(due));
    }
}
