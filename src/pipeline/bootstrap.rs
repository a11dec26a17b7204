//! Bootstrap: resyncing a table into the stream while the binlog keeps flowing.
//!
//! The worker here runs one request at a time, one chunk at a time, on a session of its
//! own. Around each chunk's SELECT it writes a low and a high watermark into the binlog
//! (`source::snapshot::requests::write_mark`). The reader (`reader::bootstrap`) sees the
//! marks in binlog order: from the low mark it notes the keys of the table's live changes,
//! and at the high mark it publishes the chunk's rows except those keys, whose newer values
//! the live changes already carry. A chunk row therefore never overwrites a newer change
//! at a consumer that applies messages in order (docs/bootstrap.md). The worker waits for
//! the reader to have taken each chunk before it reads the next, so at most one chunk is
//! held in memory.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::config::Config;
use crate::error::Error;
use crate::shutdown::ShutdownSignal;
use crate::source::BinlogSource;
use crate::source::snapshot::requests::{self, Mark};
use crate::source::snapshot::{self, Chunk, RequestRow, TablePlan};

/// Rows per chunk.
pub const CHUNK_ROWS: usize = 5_000;

/// A request the worker runs now.
#[derive(Debug, Clone)]
pub struct ActiveRequest {
    pub id: u64,
    pub database: Arc<str>,
    pub table: Arc<str>,
    pub comment: Option<String>,
}

/// A chunk read and waiting for the reader to reach its high mark.
pub struct PendingChunk {
    pub request: ActiveRequest,
    pub chunk: u64,
    pub plan: TablePlan,
    pub rows: Chunk,
}

/// What the worker and the reader share.
pub struct Shared {
    /// This worker's run: marks of another run (replayed from before a restart) are
    /// ignored.
    pub run: String,
    pub config: snapshot::BootstrapConfig,
    pub active: Mutex<Option<ActiveRequest>>,
    pub pending: Mutex<Option<PendingChunk>>,
    /// The last mark the reader handled: (request, chunk, mark).
    pub handled: watch::Sender<Option<(u64, u64, Mark)>>,
    /// New requests the reader saw in the binlog.
    pub requests: mpsc::UnboundedSender<RequestRow>,
}

impl Shared {
    pub fn new(
        config: snapshot::BootstrapConfig,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<RequestRow>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let run = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let run: String = run.chars().take(32).collect();
        (
            Arc::new(Self {
                run,
                config,
                active: Mutex::new(None),
                pending: Mutex::new(None),
                handled: watch::channel(None).0,
                requests: tx,
            }),
            rx,
        )
    }

    fn set_active(&self, request: Option<ActiveRequest>) {
        if let Ok(mut active) = self.active.lock() {
            *active = request;
        }
    }

    fn put_pending(&self, chunk: PendingChunk) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending = Some(chunk);
        }
    }

    /// Takes the chunk waiting for this mark, if it is this run's.
    pub fn take_pending(&self, request: u64, chunk: u64) -> Option<PendingChunk> {
        let mut pending = self.pending.lock().ok()?;
        if pending
            .as_ref()
            .is_some_and(|p| p.request.id == request && p.chunk == chunk)
        {
            return pending.take();
        }
        None
    }

    /// Writes a mark of this run.
    async fn mark(
        &self,
        conn: &mut mysql_async::Conn,
        request: u64,
        chunk: u64,
        mark: Mark,
        inserted: u64,
    ) -> Result<(), snapshot::SnapshotError> {
        requests::write_mark(
            conn,
            &self.config,
            &self.run,
            request,
            chunk,
            mark,
            inserted,
        )
        .await
    }

    /// Waits until the reader has handled this mark (or the stop). `false` on the stop.
    async fn handled_by_reader(
        &self,
        request: u64,
        chunk: u64,
        mark: Mark,
        shutdown: &mut ShutdownSignal,
    ) -> bool {
        let mut handled = self.handled.subscribe();
        let seen = async {
            let _ = handled
                .wait_for(|h| *h == Some((request, chunk, mark)))
                .await;
        };
        tokio::select! {
            _ = seen => true,
            _ = shutdown.wait() => false,
        }
    }

    pub fn active(&self) -> Option<ActiveRequest> {
        self.active.lock().ok().and_then(|a| a.clone())
    }
}

/// Runs requests until stopped: those left incomplete by an earlier run first (from the
/// start: a restart repeats them), then each new one the reader reports.
pub async fn worker(
    config: Config,
    shared: Arc<Shared>,
    mut requests_rx: mpsc::UnboundedReceiver<RequestRow>,
    mut shutdown: ShutdownSignal,
) -> Result<(), Error> {
    let source = BinlogSource::new(&config.source);
    let result = async {
        let mut conn = source.dedicated_conn().await?;
        snapshot::prepare_session(&mut conn).await?;
        let mut queue = requests::incomplete(&mut conn, &shared.config).await?;
        // A request may come twice: left incomplete by an earlier run, and again from the
        // binlog replayed since the checkpoint. It runs once, and not at all once complete.
        let mut seen = std::collections::HashSet::new();
        loop {
            let request = if queue.is_empty() {
                tokio::select! {
                    _ = shutdown.wait() => return Ok(()),
                    r = requests_rx.recv() => match r {
                        Some(r) => r,
                        None => return Ok(()),
                    },
                }
            } else {
                queue.remove(0)
            };
            if !seen.insert(request.id) {
                continue;
            }
            let Some(request) = requests::get(&mut conn, &shared.config, request.id)
                .await?
                .filter(|r| !r.complete)
            else {
                continue;
            };
            match run_request(&mut conn, &shared, &request, &mut shutdown).await {
                Ok(()) => {}
                // The request cannot run as it is (no such table, a type this version cannot
                // read, bad SQL in its condition): it is closed, so later ones are not held
                // up behind it, and the log says why.
                Err(Error::Bootstrap(e)) if e.is_permanent() => {
                    warn!(request = request.id, database = %request.database, table = %request.table, error = %e, "bootstrap request cannot run; marking it complete");
                    // Started: its bootstrap-complete follows what was published. Not
                    // started: closed without a message.
                    let started = shared.active().is_some_and(|a| a.id == request.id);
                    shared.mark(&mut conn, request.id, 0, Mark::Done, 0).await?;
                    if started
                        && !shared
                            .handled_by_reader(request.id, 0, Mark::Done, &mut shutdown)
                            .await
                    {
                        return Ok(());
                    }
                    shared.set_active(None);
                }
                Err(e) => return Err(e),
            }
            if shutdown.is_triggered() {
                return Ok(());
            }
        }
    }
    .await;
    source.close().await;
    result
}

async fn run_request(
    conn: &mut mysql_async::Conn,
    shared: &Shared,
    request: &RequestRow,
    shutdown: &mut ShutdownSignal,
) -> Result<(), Error> {
    let active = ActiveRequest {
        id: request.id,
        database: request.database.as_str().into(),
        table: request.table.as_str().into(),
        comment: request.comment.clone(),
    };
    // The marks table first: a request written by maxwell-bootstrap may come before it.
    requests::ensure_table(conn, &shared.config.database).await?;
    let plan = TablePlan::load(
        conn,
        &request.database,
        &request.table,
        request.condition.clone(),
    )
    .await?;
    // The names as the server stores them: live rows carry those.
    let active = ActiveRequest {
        database: plan.database.as_str().into(),
        table: plan.table.as_str().into(),
        ..active
    };
    info!(request = request.id, database = %request.database, table = %request.table, "bootstrap starting");
    shared.set_active(Some(active.clone()));
    shared.mark(conn, request.id, 0, Mark::Start, 0).await?;
    let mut after: Option<Vec<mysql_common::Value>> = None;
    let mut inserted: u64 = 0;
    let mut chunk_no: u64 = 0;
    loop {
        chunk_no += 1;
        shared
            .mark(conn, request.id, chunk_no, Mark::Low, inserted)
            .await?;
        let chunk = snapshot::read_chunk(conn, &plan, after.as_deref(), CHUNK_ROWS).await?;
        let read = chunk.rows.len();
        let last_key = chunk.last_key.clone();
        // A server that hands back the same last key would have the walk loop for ever.
        if read > 0 && after.is_some() && last_key == after {
            return Err(Error::Bootstrap(snapshot::SnapshotError::Image {
                database: plan.database.clone(),
                table: plan.table.clone(),
                source: snapshot::ImageError::Unsupported {
                    column: String::new(),
                    what:
                        "a key walk that did not advance (the server returned the last key again)"
                            .into(),
                },
            }));
        }
        shared.put_pending(PendingChunk {
            request: active.clone(),
            chunk: chunk_no,
            plan: plan.clone(),
            rows: chunk,
        });
        inserted += u64::try_from(read).unwrap_or(u64::MAX);
        shared
            .mark(conn, request.id, chunk_no, Mark::High, inserted)
            .await?;
        // The reader takes the chunk at the high mark; the next one waits for that.
        if !shared
            .handled_by_reader(request.id, chunk_no, Mark::High, shutdown)
            .await
        {
            return Ok(());
        }
        if read < CHUNK_ROWS {
            break;
        }
        after = last_key;
    }
    shared
        .mark(conn, request.id, chunk_no, Mark::Done, inserted)
        .await?;
    // The next request waits until the reader has published this one's bootstrap-complete
    // (it publishes only for the request in hand).
    if !shared
        .handled_by_reader(request.id, chunk_no, Mark::Done, shutdown)
        .await
    {
        return Ok(());
    }
    shared.set_active(None);
    info!(
        request = request.id,
        rows = inserted,
        "bootstrap read every chunk"
    );
    Ok(())
}
