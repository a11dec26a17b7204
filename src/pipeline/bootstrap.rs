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

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::checkpoint::BootstrapProgress;
use crate::config::Config;
use crate::error::Error;
use crate::metrics::METRICS;
use crate::position::BinlogPosition;
use crate::shutdown::ShutdownSignal;
use crate::source::BinlogSource;
use crate::source::snapshot::requests::{self, Mark};
use crate::source::snapshot::{self, Chunk, RequestRow, SavedKey, TablePlan};

/// A high mark read again and again without its chunk is a bug, not a race: give up then.
const MAX_REDOS: u32 = 3;
/// Chunks read and not yet taken by the reader, at most.
const FLIGHTS: usize = 2;

/// A chunk whose high mark is written and not yet handled.
struct Flight {
    chunk: u64,
    /// The key it was read after.
    from: Option<Vec<mysql_common::Value>>,
    read: u64,
}

/// A request the worker runs now.
#[derive(Debug, Clone)]
pub struct ActiveRequest {
    pub id: u64,
    pub database: Arc<str>,
    pub table: Arc<str>,
    pub comment: Option<String>,
    /// The names of the key the walk follows (empty for a keyless table, or before the
    /// table is read): the reader notes live changes by it.
    pub key: Arc<[String]>,
    /// The table's primary key names (empty without one, or when the walk follows another
    /// unique key): `bootstrap-start`'s `primary_key_columns`, as in Maxwell.
    pub primary_key: Arc<[String]>,
}

/// A chunk read and waiting for the reader to reach its high mark.
pub struct PendingChunk {
    pub request: ActiveRequest,
    pub chunk: u64,
    pub plan: TablePlan,
    /// The key it was read after (saved form); none for the first chunk and keyless tables.
    pub from: Option<Vec<SavedKey>>,
    pub rows: Chunk,
    /// Rows read by the request up to and including this chunk.
    pub inserted: u64,
}

/// A mark the reader handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub request: u64,
    pub chunk: u64,
    pub mark: Mark,
    /// For a high mark: whether its chunk was published. It is not when the reader did not
    /// see the low mark or the chunk (it cannot tell which rows changed in between); the
    /// worker then reads the chunk again.
    pub taken: bool,
    /// Where the mark's row is in the binlog: its messages are confirmed once a checkpoint
    /// past it is saved.
    pub at: BinlogPosition,
}

/// What the worker and the reader share.
pub struct Shared {
    /// This worker's run: marks of another run (replayed from before a restart) are
    /// ignored.
    pub run: String,
    pub config: snapshot::BootstrapConfig,
    pub active: Mutex<Option<ActiveRequest>>,
    /// Chunks read, waiting for their high marks (at most [`FLIGHTS`]).
    pub pending: Mutex<Vec<PendingChunk>>,
    /// Each high and done mark the reader handled, in binlog order.
    pub handled: mpsc::UnboundedSender<Handled>,
    /// The worker's end of `handled`.
    handled_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Handled>>,
    /// The position of the last checkpoint saved.
    saved: tokio::sync::watch::Receiver<Option<BinlogPosition>>,
    /// The progress of the checkpoint this run started from: the worker continues it.
    resume: Mutex<Option<BootstrapProgress>>,
    /// New requests the reader saw in the binlog.
    pub requests: mpsc::UnboundedSender<RequestRow>,
}

impl Shared {
    pub fn new(
        config: snapshot::BootstrapConfig,
        resume: Option<BootstrapProgress>,
        saved: tokio::sync::watch::Receiver<Option<BinlogPosition>>,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<RequestRow>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (handled_tx, handled_rx) = mpsc::unbounded_channel();
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
                pending: Mutex::new(Vec::new()),
                handled: handled_tx,
                handled_rx: tokio::sync::Mutex::new(handled_rx),
                saved,
                resume: Mutex::new(resume),
                requests: tx,
            }),
            rx,
        )
    }

    /// The worker stopped: no request is under way (the reader drops an open window).
    pub fn worker_stopped(&self) {
        self.set_active(None);
    }

    fn set_active(&self, request: Option<ActiveRequest>) {
        if let Ok(mut active) = self.active.lock() {
            *active = request;
        }
    }

    fn put_pending(&self, chunk: PendingChunk) {
        if let Ok(mut pending) = self.pending.lock() {
            // Chunks of a request that ended, or left by a refusal, go.
            pending.retain(|p| p.request.id == chunk.request.id && p.chunk < chunk.chunk);
            pending.push(chunk);
        }
    }

    /// Takes the chunk waiting for this mark, if it is this run's.
    pub fn take_pending(&self, request: u64, chunk: u64) -> Option<PendingChunk> {
        let mut pending = self.pending.lock().ok()?;
        let at = pending
            .iter()
            .position(|p| p.request.id == request && p.chunk == chunk)?;
        Some(pending.remove(at))
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

    /// Waits until the reader has handled this mark: what it did, or `None` on the stop.
    async fn handled_by_reader(
        &self,
        request: u64,
        chunk: u64,
        mark: Mark,
        shutdown: &mut ShutdownSignal,
    ) -> Option<Handled> {
        // Every handled mark is queued, so one handled before this wait began is not
        // missed; older ones (of chunks given up on) are passed over.
        let mut handled = self.handled_rx.lock().await;
        let seen = async {
            while let Some(h) = handled.recv().await {
                if h.request == request && h.chunk == chunk && h.mark == mark {
                    return Some(h);
                }
            }
            None
        };
        tokio::select! {
            h = seen => h,
            _ = shutdown.wait() => None,
        }
    }

    /// Waits until a checkpoint past `at` is saved: every message up to it is confirmed.
    /// `false` on the stop.
    async fn confirmed(&self, at: &BinlogPosition, shutdown: &mut ShutdownSignal) -> bool {
        let mut saved = self.saved.clone();
        let past = saved.wait_for(|p| {
            p.as_ref()
                .is_some_and(|p| p.cmp_sequence(at) == std::cmp::Ordering::Greater)
        });
        tokio::select! {
            r = past => r.is_ok(),
            _ = shutdown.wait() => false,
        }
    }

    fn take_resume(&self) -> Option<BootstrapProgress> {
        self.resume.lock().ok().and_then(|mut r| r.take())
    }

    pub fn active(&self) -> Option<ActiveRequest> {
        self.active.lock().ok().and_then(|a| a.clone())
    }
}

/// Runs requests until stopped: the one the checkpoint says is under way first, from its
/// last confirmed chunk; then those left incomplete by an earlier run (from the start: none
/// of their chunks is confirmed); then each new one the reader reports.
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
        let mut resume = shared.take_resume();
        if let Some(progress) = &resume {
            // Its row says complete when the last chunks went out but were not confirmed:
            // they go out again, and so does bootstrap-complete.
            match requests::get(&mut conn, &shared.config, progress.request).await? {
                Some(row) => queue.insert(0, row),
                None => {
                    // The request's row was deleted: forget its progress.
                    warn!(
                        request = progress.request,
                        "the bootstrap under way at the checkpoint has no request row any more; dropping it"
                    );
                    shared
                        .mark(&mut conn, progress.request, 0, Mark::Done, 0)
                        .await?;
                    resume = None;
                }
            }
        }
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
            let resumed = resume.take().filter(|p| p.request == request.id);
            let Some(request) = requests::get(&mut conn, &shared.config, request.id)
                .await?
                .filter(|r| resumed.is_some() || !r.complete)
            else {
                continue;
            };
            let result = run_request(
                &mut conn,
                &source,
                &shared,
                &request,
                resumed,
                &mut shutdown,
            )
            .await;
            METRICS.bootstrap_request.set(0);
            METRICS.bootstrap_rows_read.set(0);
            METRICS.bootstrap_rows_expected.set(0);
            crate::metrics::STATUS.bootstrap_table(None);
            match result {
                Ok(()) => {}
                // The request cannot run as it is (no such table, a type this version cannot
                // read, bad SQL in its condition): it is closed, so later ones are not held
                // up behind it, and the log says why.
                Err(Error::Bootstrap(e)) if e.is_permanent() => {
                    warn!(request = request.id, database = %request.database, table = %request.table, error = %e, "bootstrap request cannot run; marking it complete");
                    crate::metrics::STATUS.error(format!(
                        "bootstrap request {} of {}.{} cannot run: {e}",
                        request.id, request.database, request.table
                    ));
                    // Started: its bootstrap-complete follows what was published. Not
                    // started: closed without a message.
                    let started = shared.active().is_some_and(|a| a.id == request.id);
                    shared.mark(&mut conn, request.id, 0, Mark::Done, 0).await?;
                    if started {
                        let Some(done) = shared
                            .handled_by_reader(request.id, 0, Mark::Done, &mut shutdown)
                            .await
                        else {
                            return Ok(());
                        };
                        shared.set_active(None);
                        if !shared.confirmed(&done.at, &mut shutdown).await {
                            return Ok(());
                        }
                    }
                    shared.set_active(None);
                    requests::complete(&mut conn, &shared.config, request.id).await?;
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

/// Runs one request; `resumed` is how far the checkpoint says it got.
async fn run_request(
    conn: &mut mysql_async::Conn,
    source: &BinlogSource,
    shared: &Shared,
    request: &RequestRow,
    resumed: Option<BootstrapProgress>,
    shutdown: &mut ShutdownSignal,
) -> Result<(), Error> {
    let active = ActiveRequest {
        id: request.id,
        database: request.database.as_str().into(),
        table: request.table.as_str().into(),
        comment: request.comment.clone(),
        key: Arc::from(Vec::new()),
        primary_key: Arc::from(Vec::new()),
    };
    if resumed.is_some() {
        // Its bootstrap-start is out: a request that cannot go on gets its
        // bootstrap-complete.
        shared.set_active(Some(active.clone()));
    }
    snapshot::check_commit_order(conn).await?;
    // The marks table first: a request written by maxwell-bootstrap may come before it.
    requests::ensure_table(conn, &shared.config.database).await?;
    let mut plan = TablePlan::load(
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
        key: key_names(&plan).into(),
        primary_key: if plan.key_is_primary {
            key_names(&plan).into()
        } else {
            Arc::from(Vec::new())
        },
        ..active
    };
    let expected = match request.total_rows {
        0 => snapshot::estimated_rows(conn, &plan).await,
        n => n,
    };
    METRICS.bootstrap_request.set(gauge(request.id));
    crate::metrics::STATUS.bootstrap_table(Some(format!("{}.{}", plan.database, plan.table)));
    METRICS.bootstrap_rows_expected.set(gauge(expected));
    shared.set_active(Some(active.clone()));
    let mut after: Option<Vec<mysql_common::Value>> = None;
    let mut inserted: u64 = 0;
    let mut chunk_no: u64 = 0;
    // A key that changed since the progress was saved makes its saved value meaningless:
    // the table is read again from the start, with a new bootstrap-start.
    let resumed = resumed.filter(|progress| {
        let same = progress.key.is_empty() || progress.key == *active.key;
        if !same {
            warn!(request = request.id, saved_key = ?progress.key, key = ?active.key, "the table's key changed since the bootstrap's progress was saved; reading it again from the start");
        }
        same
    });
    match resumed {
        Some(progress) => {
            after = match progress.after.as_deref().map(SavedKey::restore) {
                Some(Some(key)) => Some(key),
                None => None,
                Some(None) => {
                    return Err(Error::Bootstrap(snapshot::SnapshotError::Image {
                        database: plan.database.clone(),
                        table: plan.table.clone(),
                        source: snapshot::ImageError::Unsupported {
                            column: String::new(),
                            what: "a saved key the checkpoint holds damaged".into(),
                        },
                    }));
                }
            };
            inserted = progress.inserted;
            chunk_no = progress.chunk;
            info!(request = request.id, database = %plan.database, table = %plan.table, chunk = chunk_no, rows = inserted, "bootstrap resuming after its last confirmed chunk");
        }
        None => {
            info!(request = request.id, database = %plan.database, table = %plan.table, "bootstrap starting");
            shared.mark(conn, request.id, 0, Mark::Start, 0).await?;
        }
    }
    let max_rows = shared.config.chunk_rows;
    let max_bytes = shared.config.chunk_bytes();
    let mut limit = max_rows;
    let mut redos = 0;
    // A keyless table is read in one streamed pass on a session of its own; a restart
    // reads it again from its first row (docs/bootstrap.md).
    let mut scan_conn = None;
    if !plan.has_key() {
        if chunk_no > 0 {
            info!(
                request = request.id,
                "the table has no key to resume at; reading it again from the start"
            );
            after = None;
            inserted = 0;
        }
        let mut scan = source.dedicated_conn().await?;
        snapshot::prepare_session(&mut scan).await?;
        scan_conn = Some(scan);
    }
    let mut stream = match scan_conn.as_mut() {
        Some(scan) => Some(snapshot::Stream::open(scan, &plan).await?),
        None => None,
    };
    // Two chunks in flight: the next one is read while the reader publishes the last.
    // Each continues from the key the one before it ended at, and the reader takes a chunk
    // only where its progress stands (`reader::bootstrap`), so a refused chunk refuses
    // those after it too, and the walk goes back to it.
    let mut flights: std::collections::VecDeque<Flight> = std::collections::VecDeque::new();
    let mut next_from = after.clone();
    let mut table_read = false;
    let mut unconfirmed: std::collections::VecDeque<BinlogPosition> =
        std::collections::VecDeque::new();
    loop {
        if !table_read && flights.len() < FLIGHTS {
            // Memory: a chunk taken by the reader waits as messages until the broker
            // confirms them; the next read waits until all but the last taken are.
            while unconfirmed.len() > 1 {
                let Some(at) = unconfirmed.pop_front() else {
                    break;
                };
                if !shared.confirmed(&at, shutdown).await {
                    return Ok(());
                }
            }
            chunk_no += 1;
            METRICS.bootstrap_rows_read.set(gauge(inserted));
            shared
                .mark(conn, request.id, chunk_no, Mark::Low, inserted)
                .await?;
            if stream.is_none() {
                // The table's shape as of this chunk's low mark: a change before it is in
                // the rows read, one after it makes the reader refuse the chunk.
                let fresh = TablePlan::load(
                    conn,
                    &request.database,
                    &request.table,
                    request.condition.clone(),
                )
                .await?;
                if key_names(&fresh) != *active.key {
                    return Err(walk_error(
                        &fresh,
                        "its key changed during the bootstrap; request the bootstrap again",
                    ));
                }
                plan = fresh;
            }
            let chunk = match stream.as_mut() {
                Some(stream) => stream.next_chunk(&plan, limit, max_bytes).await?,
                None => {
                    snapshot::read_chunk(conn, &plan, next_from.as_deref(), limit, max_bytes)
                        .await?
                }
            };
            let read = u64::try_from(chunk.rows.len()).unwrap_or(u64::MAX);
            let ends = chunk.ends_table(limit);
            let cut = chunk.cut;
            let last_key = chunk.last_key.clone();
            // A server that hands back the same last key would have the walk loop for ever.
            if read > 0 && next_from.is_some() && last_key == next_from {
                return Err(walk_error(
                    &plan,
                    "a key walk that did not advance (the server returned the last key again)",
                ));
            }
            let before: u64 = flights.iter().map(|f| f.read).sum();
            shared.put_pending(PendingChunk {
                request: active.clone(),
                chunk: chunk_no,
                plan: plan.clone(),
                from: next_from.as_deref().map(SavedKey::save),
                rows: chunk,
                inserted: inserted + before + read,
            });
            shared
                .mark(
                    conn,
                    request.id,
                    chunk_no,
                    Mark::High,
                    inserted + before + read,
                )
                .await?;
            flights.push_back(Flight {
                chunk: chunk_no,
                from: next_from.clone(),
                read,
            });
            if ends {
                table_read = true;
            } else {
                next_from = last_key;
                // Wide rows: the next query asks for what fits, then grows back.
                limit = if cut {
                    usize::try_from(read).unwrap_or(1).max(1)
                } else {
                    limit.saturating_mul(2).min(max_rows)
                };
            }
            if shared.config.pause_ms > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(shared.config.pause_ms)) => {}
                    _ = shutdown.wait() => return Ok(()),
                }
            }
            if flights.len() < FLIGHTS && !table_read {
                continue;
            }
        }
        let Some(flight) = flights.pop_front() else {
            break;
        };
        match shared
            .handled_by_reader(request.id, flight.chunk, Mark::High, shutdown)
            .await
        {
            None => return Ok(()),
            Some(handled) if handled.taken => {
                redos = 0;
                inserted += flight.read;
                unconfirmed.push_back(handled.at);
            }
            Some(_) => {
                // The chunks after it are refused too: wait for the reader to pass them.
                for later in flights.drain(..) {
                    if shared
                        .handled_by_reader(request.id, later.chunk, Mark::High, shutdown)
                        .await
                        .is_none()
                    {
                        return Ok(());
                    }
                }
                redos += 1;
                if stream.is_some() {
                    // A pass's rows cannot be read again: the request starts over.
                    return Err(walk_error(
                        &plan,
                        "a keyless table's chunk the reader could not take; request the bootstrap again",
                    ));
                }
                if redos > MAX_REDOS {
                    return Err(walk_error(
                        &plan,
                        "a chunk the reader could not take several times over",
                    ));
                }
                warn!(
                    request = request.id,
                    chunk = flight.chunk,
                    "bootstrap chunk not taken at its high mark (the table changed shape around it); reading it again"
                );
                next_from = flight.from;
                table_read = false;
            }
        }
    }
    METRICS.bootstrap_rows_read.set(gauge(inserted));
    drop(stream);
    if let Some(scan) = scan_conn {
        let _ = scan.disconnect().await;
    }
    shared
        .mark(conn, request.id, chunk_no, Mark::Done, inserted)
        .await?;
    // The next request waits until the reader has published this one's bootstrap-complete
    // (it publishes only for the request in hand), and until that is confirmed: only then
    // is the request complete in its row. A stop before that leaves it incomplete, and the
    // next start runs it again, rather than take it as done with messages still unsent.
    let Some(done) = shared
        .handled_by_reader(request.id, chunk_no, Mark::Done, shutdown)
        .await
    else {
        return Ok(());
    };
    shared.set_active(None);
    if !shared.confirmed(&done.at, shutdown).await {
        return Ok(());
    }
    requests::complete(conn, &shared.config, request.id).await?;
    info!(
        request = request.id,
        rows = inserted,
        "bootstrap read every chunk"
    );
    Ok(())
}

/// The names of the columns of the key the walk follows.
fn key_names(plan: &TablePlan) -> Vec<String> {
    plan.primary_key
        .iter()
        .filter_map(|&i| plan.columns.get(i).map(|c| c.name.clone()))
        .collect()
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A key walk that cannot go on.
fn walk_error(plan: &TablePlan, what: &str) -> Error {
    Error::Bootstrap(snapshot::SnapshotError::Image {
        database: plan.database.clone(),
        table: plan.table.clone(),
        source: snapshot::ImageError::Unsupported {
            column: String::new(),
            what: what.into(),
        },
    })
}

/// Asks for a bootstrap of every base table the filter passes, except the server's own
/// databases and ours: the initial snapshot (`bootstrap.initial`) and the way back after a
/// purged binlog (`positions set --bootstrap`). Tables already waiting are not asked for
/// twice. Returns how many tables passed and how many requests were written.
pub async fn request_every_table(
    config: &Config,
    source: &BinlogSource,
    filter: &crate::filter::Filter,
) -> Result<(usize, usize), Error> {
    use mysql_async::prelude::Queryable;
    const SERVER_DATABASES: [&str; 4] =
        ["mysql", "information_schema", "performance_schema", "sys"];
    let ours = [
        config.bootstrap.database.as_str(),
        config.checkpoint.database.as_str(),
    ];
    let mut conn = source.dedicated_conn().await?;
    let result = async {
        let tables: Vec<(String, String)> = conn
            .query(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
            )
            .await
            .map_err(|source| snapshot::SnapshotError::Query {
                query: "SELECT FROM information_schema.TABLES",
                source,
            })?;
        let wanted: Vec<(String, String)> = tables
            .into_iter()
            .filter(|(db, table)| {
                !SERVER_DATABASES.contains(&db.as_str())
                    && !ours.contains(&db.as_str())
                    && filter.includes_table(db, Some(table))
            })
            .collect();
        let written = requests::submit_initial(&mut conn, &config.bootstrap, &wanted).await?;
        Ok::<_, Error>((wanted.len(), written))
    }
    .await;
    let _ = conn.disconnect().await;
    result
}
