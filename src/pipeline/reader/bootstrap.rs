//! Bootstrap in the reader: requests and watermarks as they come in the binlog.
//!
//! An insert into `<bootstrap.database>.bootstrap` for this client id is a new request,
//! handed to the worker (`pipeline::bootstrap`). The worker's marks come back as rows of
//! the marks table, each at its exact place in the binlog's order:
//! - `start`: `bootstrap-start` is published;
//! - `low`: from here the primary keys of the table's live changes are noted;
//! - `high`: the chunk the worker read between the two marks is published as
//!   `bootstrap-insert`s, except the rows whose keys changed in between (the live changes
//!   already carry their newer values), and the worker is told it may read the next chunk;
//! - `done`: `bootstrap-complete` is published.
//!
//! Marks of another run (replayed from before a restart) are ignored. The messages go out
//! with the mark's own transaction, after its (dropped) rows.

use std::collections::HashSet;
use std::sync::Arc;

use crate::checkpoint::BootstrapProgress;
use crate::decode::{Cell, RowKind};
use crate::error::Error;
use crate::filter::Filter;
use crate::format::row::RowRenderer;
use crate::format::{Batch, BootstrapMeta, MessageKind, OutputOptions, TableLayout};
use crate::pipeline::bootstrap::{Handled, Shared};
use crate::position::BinlogPosition;
use crate::source::snapshot::requests::{MARKS_TABLE, Mark};
use crate::source::snapshot::{RequestRow, SavedKey};
use crate::table::Table;

/// The most live keys a window notes before it gives up on its chunk.
const MAX_WINDOW_KEYS: usize = 100_000;

/// The reader's side of bootstrap.
pub(crate) struct ReaderBootstrap {
    shared: Arc<Shared>,
    renderer: RowRenderer,
    window: Option<Window>,
    /// Messages waiting for the end of the mark's transaction.
    pub(super) pending: Batch,
}

/// Between a chunk's low and high marks.
struct Window {
    request: u64,
    chunk: u64,
    database: Arc<str>,
    table: Arc<str>,
    /// The names of the walk's key columns.
    key: Arc<[String]>,
    /// Rendered keys of the table's rows changed since the low mark.
    changed: HashSet<Vec<u8>>,
    /// The table's shape changed (DDL), or a live row lacked a key column: the chunk
    /// cannot be merged, and is read again.
    stale: bool,
}

impl ReaderBootstrap {
    pub(crate) fn new(shared: Arc<Shared>, options: Arc<OutputOptions>) -> Self {
        Self {
            shared,
            renderer: RowRenderer::new(options),
            window: None,
            pending: Batch::default(),
        }
    }

    /// Whether rows of this table are read by bootstrap whatever the operator's blacklist
    /// says: the requests and the marks.
    pub(super) fn watches(&self, database: &str, table: &str) -> bool {
        database == self.shared.config.database && (table == MARKS_TABLE || table == "bootstrap")
    }

    /// Whether rows of this table are bootstrap bookkeeping, never published: the marks,
    /// and changes to requests other than their insert (progress columns).
    pub(super) fn is_bookkeeping(&self, table: &Table, kind: RowKind) -> bool {
        let config = &self.shared.config;
        &*table.database == config.database.as_str()
            && (&*table.name == MARKS_TABLE
                || (&*table.name == "bootstrap" && kind != RowKind::Insert))
    }
}

impl ReaderBootstrap {
    /// A statement changed `database`.`table` (every table of it when `None`): a chunk read
    /// around it may have the old shape.
    pub(super) fn schema_changed(&mut self, database: &str, table: Option<&str>) {
        if let Some(window) = self.window.as_mut()
            && &*window.database == database
            && table.is_none_or(|t| t == &*window.table)
        {
            window.stale = true;
        }
    }
}

/// The key of `image` (its columns `key`) as rendered JSON values: the same bytes for a
/// binlog row and a chunk row of the same key (they share the renderer). `None` when a key
/// column is missing from the image.
fn rendered_key(table: &Table, key_columns: &[usize], image: &[Cell<'_>]) -> Option<Vec<u8>> {
    let mut key = Vec::new();
    for &i in key_columns {
        let column = table.columns.get(i)?;
        match image.get(i)? {
            Cell::Value(raw) => {
                crate::format::value::write_value(&mut key, column, raw, false).ok()?;
            }
            Cell::Null => key.extend_from_slice(b"null"),
            Cell::Missing | Cell::JsonDiff(_) => return None,
        }
        key.push(0);
    }
    Some(key)
}

/// A column's text by name, for reading our own tables' rows.
fn text(table: &Table, image: &[Cell<'_>], name: &str) -> Option<String> {
    let mut scratch = Vec::new();
    super::rows::column_text(table, image, name, &mut scratch).flatten()
}

/// What a mark needs from the reader.
pub(super) struct Context<'a> {
    pub filter: &'a Filter,
    pub options: &'a Arc<OutputOptions>,
    pub schema_id: Option<u64>,
    pub position: &'a BinlogPosition,
    /// The bootstrap progress the reader's checkpoints carry: moved by the marks.
    pub progress: &'a mut Option<BootstrapProgress>,
}

impl ReaderBootstrap {
    /// Looks at one decoded row for requests, marks and changes inside a window.
    pub(super) fn row(
        &mut self,
        cx: &mut Context<'_>,
        table: &Table,
        kind: RowKind,
        before: &[Cell<'_>],
        after: &[Cell<'_>],
    ) -> Result<(), Error> {
        let boot = self;
        let config = &boot.shared.config;
        if &*table.database == config.database.as_str() {
            if &*table.name == "bootstrap" && kind == RowKind::Insert {
                if text(table, after, "client_id").as_deref() == Some(config.client_id.as_str())
                    && let Some(id) = text(table, after, "id").and_then(|s| s.parse().ok())
                {
                    let request = RequestRow {
                        id,
                        database: text(table, after, "database_name").unwrap_or_default(),
                        table: text(table, after, "table_name").unwrap_or_default(),
                        condition: text(table, after, "where_clause"),
                        complete: false,
                        inserted_rows: 0,
                        total_rows: 0,
                        started_at: None,
                        completed_at: None,
                        comment: text(table, after, "comment"),
                    };
                    let _ = boot.shared.requests.send(request);
                }
                return Ok(());
            }
            if &*table.name == MARKS_TABLE && kind != RowKind::Delete {
                return boot.mark(cx, table, after);
            }
        }
        if boot
            .window
            .as_ref()
            .is_some_and(|w| w.database == table.database && w.table == table.name)
            && boot.shared.active().map(|a| a.id) != boot.window.as_ref().map(|w| w.request)
        {
            // The worker stopped between its marks: no high mark will come.
            boot.window = None;
        }
        if let Some(window) = boot.window.as_mut()
            && window.database == table.database
            && window.table == table.name
            && !window.key.is_empty()
        {
            // The walk's key by name: a unique key stands in for a missing primary key.
            let columns: Vec<usize> = window
                .key
                .iter()
                .filter_map(|name| table.columns.iter().position(|c| &c.name == name))
                .collect();
            if columns.len() != window.key.len() {
                // The key is gone from the table (DDL): nothing can be matched safely.
                window.stale = true;
            }
            for image in [before, after] {
                if image.is_empty() {
                    continue;
                }
                match rendered_key(table, &columns, image) {
                    Some(key) => {
                        window.changed.insert(key);
                    }
                    // A key column left out of the image (binlog_row_image=NOBLOB with a
                    // BLOB key): the change cannot be matched.
                    None => window.stale = true,
                }
            }
            // A window open far longer than a chunk takes (a worker that died between its
            // marks) stops growing: its chunk is refused anyway.
            if window.changed.len() > MAX_WINDOW_KEYS {
                window.changed.clear();
                window.stale = true;
            }
        }
        Ok(())
    }

    fn mark(
        &mut self,
        cx: &mut Context<'_>,
        table: &Table,
        after: &[Cell<'_>],
    ) -> Result<(), Error> {
        let ts = u32::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        )
        .unwrap_or(u32::MAX);
        let schema_id = cx.schema_id;
        let boot = self;
        if text(table, after, "client_id").as_deref() != Some(boot.shared.config.client_id.as_str())
            || text(table, after, "run").as_deref() != Some(boot.shared.run.as_str())
        {
            return Ok(());
        }
        let (Some(request), Some(chunk), Some(mark)) = (
            text(table, after, "request_id").and_then(|s| s.parse::<u64>().ok()),
            text(table, after, "chunk").and_then(|s| s.parse::<u64>().ok()),
            text(table, after, "mark").as_deref().and_then(Mark::parse),
        ) else {
            return Ok(());
        };
        if mark == Mark::Done && cx.progress.as_ref().is_some_and(|p| p.request == request) {
            // Whether or not the request is in hand (its row may be gone), it is over.
            *cx.progress = None;
        }
        let Some(active) = boot.shared.active().filter(|a| a.id == request) else {
            return Ok(());
        };
        let included = cx
            .filter
            .includes_table(&active.database, Some(&active.table));
        let meta = BootstrapMeta {
            ts,
            schema_id,
            comment: active.comment.as_deref(),
        };
        match mark {
            Mark::Start | Mark::Done => {
                // A window the worker left open (it failed between its marks) ends here.
                boot.window = None;
                if mark == Mark::Start {
                    *cx.progress = Some(BootstrapProgress {
                        request,
                        chunk: 0,
                        inserted: 0,
                        after: None,
                        key: active.key.to_vec(),
                    });
                }
                if included {
                    // Maxwell names the key on the start and an empty one on the end.
                    let (kind, name, key) = if mark == Mark::Start {
                        (
                            MessageKind::BootstrapStart,
                            "bootstrap-start",
                            &active.primary_key[..],
                        )
                    } else {
                        (
                            MessageKind::BootstrapComplete,
                            "bootstrap-complete",
                            &[][..],
                        )
                    };
                    let renderer = &boot.renderer;
                    boot.pending
                        .push(active.database.clone(), active.table.clone(), kind, |out| {
                            renderer.render_bootstrap_marker(
                                out,
                                &active.database,
                                &active.table,
                                name,
                                key,
                                &meta,
                            )
                        });
                }
            }
            Mark::Low => {
                boot.window = Some(Window {
                    request,
                    chunk,
                    database: active.database.clone(),
                    table: active.table.clone(),
                    key: active.key.clone(),
                    changed: HashSet::new(),
                    stale: false,
                });
            }
            Mark::High => {
                let window = boot
                    .window
                    .take()
                    .filter(|w| w.request == request && w.chunk == chunk && !w.stale);
                let pending = boot.shared.take_pending(request, chunk);
                // A chunk continues where the request's published rows end: after the key
                // of the last chunk taken (a keyless pass: the next chunk in number).
                let continues = |p: &crate::pipeline::bootstrap::PendingChunk| {
                    cx.progress.as_ref().is_some_and(|progress| {
                        progress.request == request
                            && if p.plan.has_key() {
                                p.from == progress.after
                            } else {
                                progress.chunk + 1 == chunk
                            }
                    })
                };
                // Without all three, the chunk cannot be published safely: the worker reads
                // it again between new marks.
                let (Some(window), Some(pending)) = (window, pending.filter(continues)) else {
                    let _ = boot.shared.handled.send(Handled {
                        request,
                        chunk,
                        mark,
                        taken: false,
                        at: cx.position.clone(),
                    });
                    return Ok(());
                };
                *cx.progress = Some(BootstrapProgress {
                    request,
                    chunk,
                    inserted: pending.inserted,
                    key: active.key.to_vec(),
                    // An empty last chunk leaves the walk where it was.
                    after: pending
                        .rows
                        .last_key
                        .as_deref()
                        .map(SavedKey::save)
                        .or_else(|| pending.from.clone()),
                });
                crate::metrics::METRICS.bootstrap_chunks.inc();
                if included {
                    let table = Arc::new(pending.rows.table(&pending.plan));
                    let layout = TableLayout::new(table.clone(), cx.options);
                    let mut out = Vec::new();
                    let mut scratch = Vec::new();
                    for i in 0..pending.rows.rows.len() {
                        let cells: Vec<Cell<'_>> = pending
                            .rows
                            .rows
                            .row(i)
                            .map(|c| c.map_or(Cell::Null, Cell::Value))
                            .collect();
                        if !window.changed.is_empty()
                            && rendered_key(&table, &pending.plan.primary_key, &cells)
                                .is_some_and(|k| window.changed.contains(&k))
                        {
                            continue;
                        }
                        if !cx
                            .filter
                            .includes_row(&table.database, &table.name, |name| {
                                super::rows::column_text(&table, &cells, name, &mut scratch)
                            })
                        {
                            continue;
                        }
                        out.clear();
                        boot.renderer
                            .render_bootstrap_insert(&mut out, &layout, &meta, &cells)
                            .map_err(|source| Error::Decode {
                                position: cx.position.clone(),
                                source: Box::new(source),
                            })?;
                        boot.pending.push(
                            table.database.clone(),
                            table.name.clone(),
                            MessageKind::BootstrapInsert,
                            |body| body.extend_from_slice(&out),
                        );
                    }
                }
            }
        }
        // The worker goes on once the reader has handled its mark: the next chunk after a
        // high mark, the next request after a done mark.
        if matches!(mark, Mark::High | Mark::Done) {
            let _ = boot.shared.handled.send(Handled {
                request,
                chunk,
                mark,
                taken: true,
                at: cx.position.clone(),
            });
        }
        Ok(())
    }
}
