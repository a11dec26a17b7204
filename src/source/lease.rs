//! The leader's lease: a named lock (`GET_LOCK`) held by one session on the source server,
//! so that of several instances of one pipeline exactly one streams and publishes.
//!
//! Why on the source server: every instance already reaches it, it outlives any of them,
//! and it releases a named lock the moment the session holding it ends (a killed process's
//! socket closes; a restarted server has no sessions).
//!
//! Fencing. The lease *is* the lock-holding session: every write of shared state (the
//! checkpoint, the schema history) runs on it through [`Lease::fenced`], guarded in SQL by
//! `IS_USED_LOCK(name) = CONNECTION_ID()`, so it succeeds only while this session holds the
//! lock. A silent network is the hard case: the server keeps a session it hears nothing
//! from for `wait_timeout`, which this session sets to the lease length, and then closes it
//! and frees the lock. The keeper pings every tenth of the lease and declares the lease lost
//! when no ping has been answered for half of it, so a leader that cannot reach the server
//! has stopped publishing at least half a lease before any standby can take the lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::{BinlogSource, SourceError};

/// MySQL and MariaDB refuse lock names longer than this.
pub const MAX_LOCK_NAME: usize = 64;

/// Why shared state could not be read or written through the lease.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "this instance no longer holds the leader lock `{name}` (its session on the source server ended or went silent): it stops publishing and stands by"
    )]
    Lost { name: String },
    #[error("the leader lock's session on the source server failed: {0}")]
    Query(#[source] mysql_async::Error),
    #[error("the leader lock's session on the source server did not answer within {0:?}")]
    Timeout(Duration),
    #[error(
        "the database state store needs tokio's multi-thread runtime (a current-thread runtime would block)"
    )]
    Runtime,
}

/// The lock's name and timing.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub name: String,
    /// How long the server keeps a silent session (and its lock); the holder gives up after
    /// half of it without an answer.
    pub lease: Duration,
    /// Who this instance is, for `check` and the logs (host and pid).
    pub holder: String,
}

impl LeaseSettings {
    /// The server's `wait_timeout` for the lock session: the lease in whole seconds, at
    /// least 2.
    fn wait_timeout_secs(&self) -> u64 {
        self.lease.as_secs().max(2)
    }

    /// How often the keeper asks: often, so that a holder whose session was killed learns
    /// it within a fraction of a second (a new leader waits two of these before it
    /// publishes).
    pub fn ping_interval(&self) -> Duration {
        (self.server_lease() / 40).max(Duration::from_millis(50))
    }

    /// The holder stops after this long without an answer: half of what the server allows
    /// a silent session (as rounded to its whole seconds), so it has stopped well before
    /// the server frees the lock.
    fn give_up_after(&self) -> Duration {
        self.server_lease() / 2
    }

    fn server_lease(&self) -> Duration {
        Duration::from_secs(self.wait_timeout_secs())
    }
}

/// A session that wants the lock: a standby's, or a leader's before it has it.
pub struct Contender {
    conn: Conn,
    settings: LeaseSettings,
    query_timeout: Duration,
    address: String,
}

impl Contender {
    /// A dedicated session (never the pool's: the lock must die with it) with the lease as
    /// its `wait_timeout`.
    pub async fn connect(
        source: &BinlogSource,
        settings: LeaseSettings,
    ) -> Result<Self, SourceError> {
        let mut conn = source.dedicated_conn().await?;
        let set = format!(
            "SET SESSION wait_timeout = {}",
            settings.wait_timeout_secs()
        );
        source
            .answer("SET SESSION wait_timeout", conn.query_drop(set))
            .await?;
        Ok(Self {
            conn,
            query_timeout: source.query_timeout(),
            address: source.address().to_owned(),
            settings,
        })
    }

    /// Waits up to `wait` for the lock: `true` once this session holds it.
    pub async fn try_acquire(&mut self, wait: Duration) -> Result<bool, SourceError> {
        let secs = wait.as_secs().max(1);
        let query = self.conn.exec_first::<Option<i64>, _, _>(
            "SELECT GET_LOCK(?, ?)",
            (self.settings.name.as_str(), secs),
        );
        let answer = tokio::time::timeout(Duration::from_secs(secs) + self.query_timeout, query)
            .await
            .map_err(|_| SourceError::QueryTimeout {
                address: self.address.clone(),
                query: "SELECT GET_LOCK",
                millis: u64::try_from((Duration::from_secs(secs) + self.query_timeout).as_millis())
                    .unwrap_or(u64::MAX),
            })?
            .map_err(|source| SourceError::Query {
                query: "SELECT GET_LOCK",
                source,
            })?;
        Ok(answer.flatten() == Some(1))
    }

    /// The connection id of the session holding the lock now, if any.
    pub async fn holder(&mut self) -> Result<Option<u64>, SourceError> {
        let query = self
            .conn
            .exec_first::<Option<u64>, _, _>("SELECT IS_USED_LOCK(?)", (&self.settings.name,));
        tokio::time::timeout(self.query_timeout, query)
            .await
            .map_err(|_| SourceError::QueryTimeout {
                address: self.address.clone(),
                query: "SELECT IS_USED_LOCK",
                millis: u64::try_from(self.query_timeout.as_millis()).unwrap_or(u64::MAX),
            })?
            .map(Option::flatten)
            .map_err(|source| SourceError::Query {
                query: "SELECT IS_USED_LOCK",
                source,
            })
    }

    /// This session holds the lock: it becomes the lease, kept alive by a keeper task.
    pub fn into_lease(self) -> Arc<Lease> {
        let (lost, _) = watch::channel(false);
        let epoch = Instant::now();
        let lease = Arc::new(Lease {
            valid_until_ms: AtomicU64::new(millis_since(
                epoch,
                epoch + self.settings.give_up_after(),
            )),
            epoch,
            settings: self.settings,
            conn: Mutex::new(Some(self.conn)),
            lost,
            query_timeout: self.query_timeout,
        });
        tokio::spawn(keep(Arc::downgrade(&lease)));
        lease
    }

    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

/// The lock, held. Shared by the pipeline (which stops when it is lost) and the state
/// stores (whose writes it fences).
pub struct Lease {
    settings: LeaseSettings,
    /// `None` once lost: nothing more runs on it.
    conn: Mutex<Option<Conn>>,
    lost: watch::Sender<bool>,
    query_timeout: Duration,
    /// Until when (milliseconds after `epoch`) the lock is known held: the send time of the
    /// last answered ping plus half the server's lease. Read before every publish, so even
    /// a process that was paused past it (and whose keeper has not run yet) sends nothing.
    valid_until_ms: AtomicU64,
    epoch: Instant,
}

fn millis_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
}

impl Lease {
    /// Whether the lock is known held now: not lost, and a ping answered recently enough.
    pub fn is_valid(&self) -> bool {
        !self.is_lost()
            && millis_since(self.epoch, Instant::now())
                < self.valid_until_ms.load(Ordering::Acquire)
    }

    /// How long a new holder waits before it publishes: long enough for a holder whose
    /// session was killed under it (so the server freed the lock at once) to have learnt it
    /// from a failed ping and stopped.
    pub fn settle_time(&self) -> Duration {
        self.settings.ping_interval() * 2
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    pub fn holder(&self) -> &str {
        &self.settings.holder
    }

    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Resolves once the lease is lost.
    pub async fn lost(&self) {
        let mut rx = self.lost.subscribe();
        let _ = rx.wait_for(|lost| *lost).await;
    }

    /// Gives the lock up, closing its session; the keeper ends with it. Returns whether the
    /// lease had been lost before. A lease that is lost, or whose last answered ping is older
    /// than half a lease, is not asked anything more: its session may be silent, and
    /// waiting on it would hold the stand-down up. Its connection is closed in the
    /// background instead (the server frees the lock when the session ends).
    pub async fn release(&self) -> bool {
        let healthy = self.is_valid();
        // Marked lost first: a write still waiting on the session gives up at once.
        let was_lost = self.lost.send_replace(true);
        let bound = self.settings.give_up_after();
        let conn = match tokio::time::timeout(bound, self.conn.lock()).await {
            Ok(mut guard) => guard.take(),
            Err(_) => None,
        };
        let Some(mut conn) = conn else {
            return was_lost;
        };
        if was_lost || !healthy {
            close_in_background(conn, bound);
            return was_lost;
        }
        let _ = tokio::time::timeout(
            bound,
            conn.exec_drop("DO RELEASE_LOCK(?)", (&self.settings.name,)),
        )
        .await;
        let _ = tokio::time::timeout(bound, conn.disconnect()).await;
        was_lost
    }

    /// Runs `op` on the lock's session, for at most the query timeout. The statements `op`
    /// runs must carry the guard `IS_USED_LOCK(name) = CONNECTION_ID()` (the name is its
    /// second argument) and report a write the guard stopped as [`LeaseError::Lost`]. A
    /// session that fails or does not answer is given up: the lease is lost.
    pub async fn fenced<T>(
        &self,
        op: impl for<'c> FnOnce(
            &'c mut Conn,
            &'c str,
        ) -> futures_util::future::BoxFuture<'c, Result<T, LeaseError>>,
    ) -> Result<T, LeaseError> {
        let lost = || LeaseError::Lost {
            name: self.settings.name.clone(),
        };
        // Whatever this waits on, a lease declared lost meanwhile (by the keeper) ends the
        // wait at once: a write on a silent session must not hold the stand-down up.
        let mut guard = tokio::select! {
            guard = tokio::time::timeout(self.query_timeout, self.conn.lock()) => {
                guard.map_err(|_| LeaseError::Timeout(self.query_timeout))?
            }
            () = self.lost() => return Err(lost()),
        };
        let Some(conn) = guard.as_mut().filter(|_| !self.is_lost()) else {
            return Err(lost());
        };
        let result = tokio::select! {
            result = tokio::time::timeout(self.query_timeout, op(conn, &self.settings.name)) => {
                result.unwrap_or(Err(LeaseError::Timeout(self.query_timeout)))
            }
            () = self.lost() => Err(lost()),
        };
        if let Err(e) = &result
            && !matches!(e, LeaseError::Query(mysql_async::Error::Server(_)))
        {
            // Lost, timed out or broken: the session's state is unknown, so it is not
            // used again and the pipeline stands down.
            warn!(lock = %self.settings.name, error = %e, "giving up the leader lock's session");
            if let Some(conn) = guard.take() {
                close_in_background(conn, self.settings.give_up_after());
            }
            self.lost.send_replace(true);
        }
        result
    }
}

/// Runs a write whose statement carries the guard `IS_USED_LOCK(name) = CONNECTION_ID()`
/// (and changes a row whenever it holds): no row affected means this session no longer
/// holds the lock.
pub async fn guarded_write(
    conn: &mut Conn,
    statement: String,
    params: impl Into<mysql_async::Params> + Send,
    name: &str,
) -> Result<(), LeaseError> {
    conn.exec_drop(statement, params)
        .await
        .map_err(LeaseError::Query)?;
    if conn.affected_rows() == 0 {
        return Err(LeaseError::Lost {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Keeps the lease: pings the lock's session, and declares the lease lost when it fails or
/// has not answered for half the lease.
async fn keep(lease: std::sync::Weak<Lease>) {
    let (interval, give_up, name) = match lease.upgrade() {
        Some(l) => (
            l.settings.ping_interval(),
            l.settings.give_up_after(),
            l.settings.name.clone(),
        ),
        None => return,
    };
    let mut answered = Instant::now();
    loop {
        tokio::time::sleep(interval).await;
        let Some(lease) = lease.upgrade() else {
            return;
        };
        if lease.is_lost() {
            return;
        }
        let sent = Instant::now();
        let deadline = answered + give_up;
        let ping = async {
            let mut guard = lease.conn.lock().await;
            let conn = guard.as_mut()?;
            conn.exec_first::<Option<i64>, _, _>(
                "SELECT IS_USED_LOCK(?) = CONNECTION_ID()",
                (&name,),
            )
            .await
            .ok()
            .flatten()
            .flatten()
        };
        // Released or given up elsewhere meanwhile: nothing more to keep.
        let answer = tokio::select! {
            answer = tokio::time::timeout_at(deadline, ping) => answer,
            () = lease.lost() => return,
        };
        match answer {
            Ok(Some(1)) => {
                answered = sent;
                lease
                    .valid_until_ms
                    .store(millis_since(lease.epoch, sent + give_up), Ordering::Release);
                debug!(lock = %name, "leader lock held");
            }
            outcome => {
                let why = match outcome {
                    Err(_) => "no answer for half the lease",
                    Ok(_) => "the session failed or no longer holds it",
                };
                warn!(lock = %name, reason = why, "leader lock lost; stopping");
                lease.lost.send_replace(true);
                // The session may be wedged: close it without waiting on it.
                if let Ok(mut guard) = lease.conn.try_lock()
                    && let Some(conn) = guard.take()
                {
                    close_in_background(conn, give_up);
                }
                return;
            }
        }
    }
}

/// Closes a session that may not answer, without waiting on it: a disconnect bounded by
/// `bound` in a task of its own. (Dropping the connection instead would leave the client's
/// own clean-up task waiting on a silent socket for as long as TCP keeps it.)
fn close_in_background(conn: Conn, bound: Duration) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(bound, conn.disconnect()).await;
    });
}

/// Runs `work` to completion from synchronous code inside the runtime (the store traits
/// are synchronous), without stalling the runtime's other tasks.
pub fn block_on<F: std::future::Future>(work: F) -> Result<F::Output, LeaseError> {
    let handle = tokio::runtime::Handle::try_current().map_err(|_| LeaseError::Runtime)?;
    if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return Err(LeaseError::Runtime);
    }
    Ok(tokio::task::block_in_place(|| handle.block_on(work)))
}

/// The default lock name for a client id: `binlog-relay:` and the id, cut to the server's
/// limit.
pub fn default_lock_name(client_id: &str) -> String {
    let mut name = format!("binlog-relay:{client_id}");
    while name.len() > MAX_LOCK_NAME {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_follow_the_lease() {
        let s = LeaseSettings {
            name: "x".into(),
            lease: Duration::from_secs(10),
            holder: "h".into(),
        };
        assert_eq!(s.wait_timeout_secs(), 10);
        assert_eq!(s.ping_interval(), Duration::from_millis(250));
        assert_eq!(s.give_up_after(), Duration::from_secs(5));
        // The holder gives up strictly before the server frees the lock, also when the
        // lease is not whole seconds (the server counts whole seconds).
        for ms in [2_000, 2_999, 10_000, 10_500] {
            let s = LeaseSettings {
                lease: Duration::from_millis(ms),
                ..s.clone()
            };
            let server = Duration::from_secs(s.wait_timeout_secs());
            assert!(server <= s.lease, "{ms}");
            assert!(s.give_up_after() * 2 <= server, "{ms}");
        }
    }

    #[test]
    fn lock_names_fit_the_server() {
        assert_eq!(default_lock_name("maxwell"), "binlog-relay:maxwell");
        assert_eq!(default_lock_name(&"x".repeat(100)).len(), MAX_LOCK_NAME);
    }
}
