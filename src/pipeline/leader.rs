//! Several instances, one publishing: the role loop for `checkpoint.store = "database"`.
//!
//! Every instance contends for the leader lock on the source server
//! ([`crate::source::lease`]). The holder runs the pipeline with its state in the database,
//! written through the lease; the others stand by, blocked in `GET_LOCK`, and the server
//! hands the lock to one of them the moment the holder's session ends. The pipeline runs
//! under a fence that trips when the lease is lost: the publisher sends nothing more, and
//! the checkpoint and history writes fail, so a leader cut off from the server has stopped
//! publishing before a standby can start (docs/high-availability.md says what a consumer
//! sees at a takeover, and why).

use std::time::Duration;

use tracing::{info, warn};

use super::state::State;
use super::{Outcome, StopAt, run_leading};
use crate::config::Config;
use crate::error::Error;
use crate::metrics::METRICS;
use crate::shutdown::{Shutdown, ShutdownSignal};
use crate::source::BinlogSource;
use crate::source::lease::{Contender, Lease};

/// How long one `GET_LOCK` waits before the standby checks for shutdown and asks again.
/// The server hands a freed lock to a waiting session at once, so this does not delay a
/// takeover.
const WAIT_STEP: Duration = Duration::from_secs(2);

/// Contends, leads while the lease holds, stands by again when it is lost; until stopped,
/// `--stop-at`, or an error the operator must fix.
pub async fn run(
    config: &Config,
    stop_at: Option<StopAt>,
    shutdown: ShutdownSignal,
) -> Result<Outcome, Error> {
    let mut stop_at = stop_at;
    let mut pauses = crate::reconnect::Pauses::new(&config.reconnect);
    METRICS.leader.set(0);
    loop {
        let began = std::time::Instant::now();
        let lease = match contend(config, shutdown.clone()).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return Ok(Outcome::Stopped(None)),
            Err(e) if e.is_transient() => {
                METRICS.source_connected.set(0);
                let pause = pauses.next(began.elapsed());
                warn!(error = %e, retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX), "cannot contend for the leader lock; trying again after a pause");
                let mut wait = shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(pause) => continue,
                    _ = wait.wait() => return Ok(Outcome::Stopped(None)),
                }
            }
            Err(e) => return Err(e),
        };
        // A holder whose session was killed under it (the server freed the lock at once)
        // learns it at its next ping: give it that long to stop before publishing.
        let mut asked = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(lease.settle_time()) => {}
            _ = asked.wait() => {}
        }
        METRICS.took_over();
        info!(lock = %lease.name(), instance = %lease.holder(), "leading: took the leader lock; streaming from the shared checkpoint");

        // The pipeline stops as on a shutdown when either the process is asked to stop or
        // the lease is lost.
        let (fence, fenced) = Shutdown::new();
        // Checked before every message: a lease that ran out stops publishing even before
        // the keeper and the watcher have run (after the process was paused, say).
        let fenced = {
            let lease = lease.clone();
            fenced.or_when(move || !lease.is_valid())
        };
        let watcher = {
            let lease = lease.clone();
            let mut asked = shutdown.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = lease.lost() => {
                        // Not leading from this moment, whatever the run still settles.
                        METRICS.leader.set(0);
                        warn!(lock = %lease.name(), "the leader lock is lost: publishing stops now");
                    }
                    _ = asked.wait() => {}
                }
                fence.trigger();
            })
        };
        let result = match State::database(config, lease.clone()).await {
            Ok(state) => run_leading(config, &mut stop_at, fenced, &state).await,
            Err(e) => Err(e),
        };
        watcher.abort();
        let lost = lease.release().await;
        METRICS.stood_down();
        METRICS.disconnected();
        let stopping = shutdown.is_triggered();
        if lost {
            // Said whether or not a stop was asked meanwhile: the operator needs to know
            // that this instance stopped leading because its lock went, not on its own.
            let next = if stopping { "stopping" } else { "standing by" };
            warn!(lock = %lease.name(), outcome = ?result.as_ref().err().map(ToString::to_string), next, "stood down: the leader lock was lost");
        }
        if !lost || stopping {
            if !lost && let Err(e) = &result {
                warn!(error = %e, "stopping as leader on an error; another instance can take over");
            }
            return result;
        }
    }
}

/// Waits for the lock; `None` when asked to stop first.
async fn contend(
    config: &Config,
    mut shutdown: ShutdownSignal,
) -> Result<Option<std::sync::Arc<Lease>>, Error> {
    let source = BinlogSource::new(&config.source);
    let settings = config.checkpoint.lease_settings();
    let mut contender = Contender::connect(&source, settings.clone()).await?;
    METRICS.source_connected.set(1);
    let mut said = false;
    loop {
        let got = tokio::select! {
            biased;
            _ = shutdown.wait() => false,
            got = contender.try_acquire(WAIT_STEP) => got?,
        };
        if shutdown.is_triggered() {
            // A polite close on a silent network must not hold up the stop.
            let closing = async {
                contender.close().await;
                source.close().await;
            };
            let _ = tokio::time::timeout(
                Duration::from_millis(config.source.query_timeout_ms),
                closing,
            )
            .await;
            return Ok(None);
        }
        if got {
            let _ = tokio::time::timeout(
                Duration::from_millis(config.source.query_timeout_ms),
                source.close(),
            )
            .await;
            return Ok(Some(contender.into_lease()));
        }
        if !said {
            let holder = leader_row(config, &source).await;
            info!(lock = %settings.name, leader = %holder, "standing by: another instance leads; taking over when its lock is freed");
            said = true;
        }
    }
}

/// Who leads, as the database store's row says, for the log.
async fn leader_row(config: &Config, source: &BinlogSource) -> String {
    let Ok(mut conn) = source.conn().await else {
        return "unknown".into();
    };
    match crate::checkpoint::database::read(
        &mut conn,
        &config.checkpoint.database,
        &config.checkpoint.client_id,
    )
    .await
    {
        Ok(Some(row)) if !row.leader.is_empty() => row.leader,
        _ => "unknown".into(),
    }
}

/// Runs a one-off command's `work` (`positions set`, `schema recapture`) on the state,
/// held the way a running instance would hold it (the directory lock with files, the leader
/// lock with the database store), so no instance writes it meanwhile; refused while one
/// runs.
pub async fn with_exclusive_state<T>(
    config: &Config,
    work: impl AsyncFnOnce(&State) -> Result<T, Error>,
) -> Result<T, Error> {
    let held = Exclusive::take(config).await?;
    let result = work(&held.state).await;
    held.release().await;
    result
}

/// The state, held.
struct Exclusive {
    state: State,
    _dir_lock: Option<crate::checkpoint::DirLock>,
    lease: Option<std::sync::Arc<Lease>>,
}

impl Exclusive {
    /// Takes the state, or says who holds it.
    async fn take(config: &Config) -> Result<Self, Error> {
        if config.checkpoint.store == crate::checkpoint::StoreKind::File {
            let dir_lock = crate::checkpoint::DirLock::acquire(&config.checkpoint.dir)?;
            return Ok(Self {
                state: State::files(config),
                _dir_lock: Some(dir_lock),
                lease: None,
            });
        }
        let source = BinlogSource::new(&config.source);
        let settings = config.checkpoint.lease_settings();
        let mut contender = Contender::connect(&source, settings.clone()).await?;
        if !contender.try_acquire(Duration::from_secs(1)).await? {
            contender.close().await;
            let leader = leader_row(config, &source).await;
            source.close().await;
            return Err(Error::LeaderRunning {
                lock: settings.name,
                leader,
            });
        }
        source.close().await;
        let lease = contender.into_lease();
        let state = State::database(config, lease.clone()).await?;
        Ok(Self {
            state,
            _dir_lock: None,
            lease: Some(lease),
        })
    }

    /// Gives the lock back.
    async fn release(self) {
        if let Some(lease) = &self.lease {
            lease.release().await;
        }
    }
}

/// Copies the file store's checkpoint and schema history (in `checkpoint.dir`) into the
/// database store, which must be empty for this client id: the move from one instance to
/// several.
pub async fn copy_files_to_database(
    config: &Config,
) -> Result<crate::checkpoint::Checkpoint, Error> {
    use crate::checkpoint::{CheckpointStore, FileStore};
    use crate::schema::history::{FileHistoryStore, HistoryStore};
    if config.checkpoint.store != crate::checkpoint::StoreKind::Database {
        return Err(Error::Config(crate::section::ConfigError::key(
            "checkpoint.store",
            "is \"file\": set it to \"database\" to say where to copy to (the files stay in checkpoint.dir and are read from there)",
        )));
    }
    // No daemon on the files meanwhile, and none on the database store.
    let _files = crate::checkpoint::DirLock::acquire(&config.checkpoint.dir)?;
    let checkpoint = FileStore::open(&config.checkpoint.dir)?
        .load()?
        .ok_or_else(|| Error::NothingToCopy {
            dir: config.checkpoint.dir.display().to_string(),
        })?;
    let history = FileHistoryStore::new(&config.checkpoint.dir)
        .load()
        .map_err(|e| super::schema_start::history_error(&checkpoint.position, e))?;
    with_exclusive_state(config, async |state| {
        let mut store = state.checkpoint_store()?;
        if let Some(existing) = store.load()? {
            return Err(Error::StoreNotEmpty {
                client_id: config.checkpoint.client_id.clone(),
                position: existing.position.to_string(),
            });
        }
        if let Some(history) = &history {
            state
                .history_store()
                .replace(history)
                .map_err(|e| super::schema_start::history_error(&checkpoint.position, e))?;
        }
        store.save(&checkpoint)?;
        Ok(checkpoint)
    })
    .await
}
