//! Maxwell's message layout for row changes, and its transaction rules.
//!
//! Field order (maxwell.md §1.2, `RowMap.toJSON`): `database, table, [query], type, ts,
//! [xid], [xoffset], [commit], [position], [gtid], [server_id], [thread_id], [push_ts],
//! [primary_key], [primary_key_columns], data, [old]`. `xid` is on every row when the
//! transaction ended with an XID event; the last row has `"commit":true` and no `xoffset`;
//! the others have `xoffset` 0, 1, ...
//!
//! `data` is the after image (the before image for deletes); with a MINIMAL row image,
//! columns only in an update's before image follow in `data`, as Maxwell puts them.
//! `old` holds the columns present in both images whose *rendered* values differ, so it
//! is left out exactly when Maxwell leaves it out.

use std::ops::Range;
use std::sync::Arc;

use super::json::{write_int, write_str};
use super::json_diff::write_patched_json;
use super::mask::{Mask, Masking};
use super::options::OutputOptions;
use super::spill::{Spill, SpillError, TransactionsConfig};
use super::value::{RenderError, write_value};
use crate::decode::{Cell, ColumnProblem, DecodeError, RowKind, payload};
use crate::position::BinlogPosition;
use crate::table::Table;

/// One message of a [`Batch`]: where its body lies and what to route it by.
#[derive(Debug, Clone)]
pub struct Message {
    pub database: Arc<str>,
    pub table: Arc<str>,
    /// `insert`, `update`, `delete` or `ddl`, for metrics.
    pub kind: &'static str,
    /// The message body's bytes in [`Batch::body`].
    pub range: Range<usize>,
}

/// The messages of one committed transaction, in binlog order, sharing one buffer.
#[derive(Debug, Default)]
pub struct Batch {
    pub body: Vec<u8>,
    pub messages: Vec<Message>,
}

impl Batch {
    /// The body of message `m`.
    pub fn body_of(&self, m: &Message) -> &[u8] {
        self.body.get(m.range.clone()).unwrap_or_default()
    }

    /// This batch's messages, then `next`'s.
    pub fn followed_by(mut self, next: Batch) -> Batch {
        let offset = self.body.len();
        self.body.extend_from_slice(&next.body);
        self.messages
            .extend(next.messages.into_iter().map(|m| Message {
                range: m.range.start + offset..m.range.end + offset,
                ..m
            }));
        self
    }
}

/// A table prepared for rendering under one set of output options: column keys already
/// escaped and renamed, excluded columns marked. Built once per table map.
#[derive(Debug)]
pub struct TableLayout {
    pub table: Arc<Table>,
    /// `{"database":"..","table":".."`: every message's opening, escaped once.
    head: Box<[u8]>,
    /// `"name":` for each column.
    keys: Vec<Box<[u8]>>,
    excluded: Vec<bool>,
    /// `["id","other"]`: the primary key's column names (never renamed, as in Maxwell).
    pk_names: Box<[u8]>,
    /// Each column's mask, when a masking rule applies to the table.
    masks: Option<Vec<Mask>>,
}

impl TableLayout {
    pub fn new(table: Arc<Table>, options: &OutputOptions) -> Self {
        let strategy = options.config.naming_strategy;
        let keys = table
            .columns
            .iter()
            .map(|c| {
                let mut key = Vec::with_capacity(c.name.len() + 3);
                write_str(&mut key, &strategy.apply(&c.name));
                key.push(b':');
                key.into_boxed_slice()
            })
            .collect();
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let (masks, missing) = options
            .masking
            .masks_for(&table.database, &table.name, &names);
        if !missing.is_empty() {
            tracing::warn!(
                database = %table.database,
                table = %table.name,
                columns = %missing.join(", "),
                "masking rules name columns this table does not have; check the names in [masking]"
            );
        }
        let masks = masks.iter().any(|m| *m != Mask::Keep).then_some(masks);
        let excluded = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                options.excludes(&c.name) || masks.as_ref().is_some_and(|m| m[i] == Mask::Drop)
            })
            .collect();
        let mut pk_names = vec![b'['];
        for (n, &i) in table.primary_key.iter().enumerate() {
            if n > 0 {
                pk_names.push(b',');
            }
            let name = table
                .columns
                .get(i)
                .map(|c| c.name.as_str())
                .unwrap_or_default();
            write_str(&mut pk_names, name);
        }
        pk_names.push(b']');
        let mut head = vec![b'{'];
        write_field(&mut head, &options.names.database, true);
        write_str(&mut head, &table.database);
        write_field(&mut head, &options.names.table, false);
        write_str(&mut head, &table.name);
        Self {
            table,
            head: head.into_boxed_slice(),
            keys,
            excluded,
            pk_names: pk_names.into_boxed_slice(),
            masks,
        }
    }
}

/// What a row carries besides its values.
#[derive(Debug, Clone, Copy)]
pub struct RowMeta<'a> {
    /// The rows event's timestamp, in seconds.
    pub ts: u32,
    /// Where the rows event starts.
    pub position: &'a BinlogPosition,
    /// `server_id` in the rows event's header.
    pub server_id: u32,
    /// The client thread, from the transaction's BEGIN.
    pub thread_id: Option<u32>,
    /// The transaction's GTID.
    pub gtid: Option<&'a str>,
    /// The statement behind the row (ROWS_QUERY / ANNOTATE_ROWS).
    pub query: Option<&'a str>,
    /// Version of the tracked schema the row was labelled with.
    pub schema_id: Option<u64>,
}

/// A rendered row waiting for its transaction's commit.
#[derive(Debug)]
struct PendingRow {
    database: Arc<str>,
    table: Arc<str>,
    kind: RowKind,
    /// `{"database":..,"table":..,[query,]"type":..,"ts":N` in `rendered`.
    head: Range<usize>,
    /// everything after the commit fields, up to the closing `}`, in `rendered`.
    tail: Range<usize>,
}

/// A column's rendered value in the scratch buffer.
#[derive(Debug, Clone)]
enum Rendered {
    Missing,
    Null(Range<usize>),
    Value(Range<usize>),
}

/// The rows of the open transaction, already rendered except for the commit fields.
#[derive(Debug)]
pub struct TransactionBuffer {
    options: Arc<OutputOptions>,
    rendered: Vec<u8>,
    rows: Vec<PendingRow>,
    /// Rendered values of the current row's images.
    scratch: Vec<u8>,
    before: Vec<Rendered>,
    after: Vec<Rendered>,
    /// `,"type":"insert","ts":` for inserts, updates and deletes, in [`RowKind`] order.
    type_ts: [Vec<u8>; 3],
    /// `,"data":` and `,"old":`.
    data_key: Vec<u8>,
    old_key: Vec<u8>,
    /// `,"xid":`, `,"xoffset":`, `,"commit":true` with the naming strategy applied.
    xid_key: Vec<u8>,
    xoffset_key: Vec<u8>,
    commit_field: Vec<u8>,
    /// Bytes of rendered rows kept in memory before they move to `spill`.
    memory_limit: usize,
    spill: Spill,
    /// The committed transaction being handed out in chunks.
    draining: Option<Draining>,
    /// A spilled row's head and tail, read back.
    spilled_head: Vec<u8>,
    spilled_tail: Vec<u8>,
}

/// Progress through a committed transaction's rows: first the spilled ones, then memory.
#[derive(Debug)]
struct Draining {
    xid: Option<u64>,
    /// Index in the transaction of the next row.
    next: usize,
    total: usize,
    spilled: usize,
}

/// Part of a committed transaction's messages, in order.
#[derive(Debug)]
pub struct Chunk {
    pub batch: Batch,
    /// Index in the transaction of the first message.
    pub first_index: usize,
    /// The transaction's last chunk.
    pub last: bool,
}

impl Default for TransactionBuffer {
    fn default() -> Self {
        Self::new(Arc::new(OutputOptions::default()))
    }
}

impl TransactionBuffer {
    /// A buffer with the default memory limit, spilling to the system's temporary directory.
    pub fn new(options: Arc<OutputOptions>) -> Self {
        Self::with_limits(options, &TransactionsConfig::default())
    }

    pub fn with_limits(options: Arc<OutputOptions>, limits: &TransactionsConfig) -> Self {
        let field = |name: &str| {
            let mut f = vec![b','];
            write_str(&mut f, name);
            f.push(b':');
            f
        };
        let mut commit_field = field(&options.names.commit);
        commit_field.extend_from_slice(b"true");
        let type_ts = [RowKind::Insert, RowKind::Update, RowKind::Delete].map(|kind| {
            let mut f = field(&options.names.kind);
            write_str(&mut f, kind.as_str());
            f.extend_from_slice(&field(&options.names.ts));
            f
        });
        Self {
            type_ts,
            data_key: field(&options.names.data),
            old_key: field(&options.names.old),
            xid_key: field(&options.names.xid),
            xoffset_key: field(&options.names.xoffset),
            commit_field,
            options,
            rendered: Vec::new(),
            rows: Vec::new(),
            scratch: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            memory_limit: limits.memory_limit(),
            spill: Spill::new(&limits.dir()),
            draining: None,
            spilled_head: Vec::new(),
            spilled_tail: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows of the open transaction, in memory and spilled.
    pub fn len(&self) -> usize {
        self.rows.len() + self.spill.rows()
    }

    /// Rows of the open transaction that went to disk.
    pub fn spilled(&self) -> usize {
        self.spill.rows()
    }

    /// Bytes of the open transaction in the spill file.
    pub fn spilled_bytes(&self) -> u64 {
        self.spill.bytes()
    }

    /// Forgets the open transaction (ROLLBACK).
    pub fn discard(&mut self) {
        self.rendered.clear();
        self.rows.clear();
        self.spill.clear();
        self.draining = None;
    }

    /// Moves the rows held in memory to the spill file once they take more than the memory
    /// limit. Called between rows events, so memory overshoots by one event at most.
    pub fn enforce_limit(&mut self) -> Result<(), SpillError> {
        let in_memory = self.rendered.len() + self.rows.len() * std::mem::size_of::<PendingRow>();
        if in_memory <= self.memory_limit {
            return Ok(());
        }
        for row in &self.rows {
            let head = self.rendered.get(row.head.clone()).unwrap_or_default();
            let tail = self.rendered.get(row.tail.clone()).unwrap_or_default();
            self.spill
                .write_row(&row.database, &row.table, row.kind.as_str(), head, tail)?;
        }
        self.rows.clear();
        self.rendered.clear();
        Ok(())
    }

    /// Renders one row change. `before` is used by updates and deletes, `after` by inserts
    /// and updates. On error nothing is added.
    pub fn push_row(
        &mut self,
        layout: &TableLayout,
        kind: RowKind,
        meta: &RowMeta<'_>,
        before: &[Cell<'_>],
        after: &[Cell<'_>],
    ) -> Result<(), DecodeError> {
        let start = self.rendered.len();
        match self.render_row(layout, kind, meta, before, after) {
            Ok((head_end, end)) => {
                self.rows.push(PendingRow {
                    database: layout.table.database.clone(),
                    table: layout.table.name.clone(),
                    kind,
                    head: start..head_end,
                    tail: head_end..end,
                });
                Ok(())
            }
            Err(e) => {
                self.rendered.truncate(start);
                Err(e)
            }
        }
    }

    fn render_row(
        &mut self,
        layout: &TableLayout,
        kind: RowKind,
        meta: &RowMeta<'_>,
        before: &[Cell<'_>],
        after: &[Cell<'_>],
    ) -> Result<(usize, usize), DecodeError> {
        let table = &*layout.table;
        let options = &*self.options;
        let config = &options.config;
        let names = &options.names;

        let (data_cells, old_cells) = match kind {
            RowKind::Delete => (before, &[][..]),
            RowKind::Insert => (after, &[][..]),
            RowKind::Update => (after, before),
        };
        // An insert or delete with nothing to compare, mask or pick keys from is written
        // straight into the message; the rest is rendered first, and `data`, `old` and
        // `primary_key` assembled from the rendered values.
        let direct = kind != RowKind::Update
            && layout.masks.is_none()
            && !config.primary_keys
            && !data_cells.iter().any(|c| matches!(c, Cell::JsonDiff(_)));
        self.scratch.clear();
        self.after.clear();
        self.before.clear();
        if !direct {
            render_image(
                &mut self.scratch,
                &mut self.after,
                table,
                data_cells,
                old_cells,
                config.null_zerodates,
            )?;
            render_image(
                &mut self.scratch,
                &mut self.before,
                table,
                old_cells,
                &[],
                config.null_zerodates,
            )?;
            if let Some(masks) = &layout.masks {
                apply_masks(&mut self.scratch, &mut self.after, masks, &options.masking);
                apply_masks(&mut self.scratch, &mut self.before, masks, &options.masking);
            }
        }

        let out = &mut self.rendered;
        out.extend_from_slice(&layout.head);
        // A masked table's statement text would carry the values in clear.
        if config.row_query
            && layout.masks.is_none()
            && let Some(query) = meta.query
        {
            write_field(out, &names.query, false);
            write_str(out, truncate_utf16(query, config.row_query_max_length));
        }
        out.extend_from_slice(&self.type_ts[kind_index(kind)]);
        write_int(out, meta.ts);
        let head_end = out.len();

        if config.binlog_position {
            write_field(out, &names.position, false);
            // `"file:offset"`: the escaped file name with its closing quote moved to the end.
            write_str(out, &meta.position.file);
            out.pop();
            out.push(b':');
            write_int(out, meta.position.offset);
            out.push(b'"');
        }
        if config.gtid_position {
            write_field(out, &names.gtid, false);
            match meta.gtid {
                Some(g) => write_str(out, g),
                None => out.extend_from_slice(b"null"),
            }
        }
        if config.server_id {
            write_field(out, &names.server_id, false);
            write_int(out, meta.server_id);
        }
        if config.thread_id
            && let Some(thread) = meta.thread_id
        {
            write_field(out, &names.thread_id, false);
            write_int(out, thread);
        }
        if config.schema_id {
            write_field(out, &names.schema_id, false);
            match meta.schema_id {
                Some(id) => write_int(out, id),
                None => out.extend_from_slice(b"null"),
            }
        }
        if config.push_timestamp {
            write_field(out, &names.push_ts, false);
            write_push_ts(out, std::time::SystemTime::now());
        }
        if config.primary_keys {
            write_field(out, &names.primary_key, false);
            out.push(b'[');
            for (n, &i) in table.primary_key.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                // The value `data` holds for the column (before image for MINIMAL updates).
                let value = match (self.after.get(i), self.before.get(i)) {
                    (Some(Rendered::Value(r) | Rendered::Null(r)), _) => Some(r),
                    (_, Some(Rendered::Value(r) | Rendered::Null(r))) => Some(r),
                    _ => None,
                };
                match value {
                    Some(r) => out.extend_from_slice(&self.scratch[r.clone()]),
                    None => out.extend_from_slice(b"null"),
                }
            }
            out.push(b']');
        }
        if config.primary_key_columns {
            write_field(out, &names.primary_key_columns, false);
            out.extend_from_slice(&layout.pk_names);
        }

        out.extend_from_slice(&self.data_key);
        if direct {
            write_data_direct(out, layout, data_cells, config)?;
            out.push(b'}');
            return Ok((head_end, out.len()));
        }
        out.push(b'{');
        let mut first = true;
        for i in 0..table.columns.len() {
            if let Some(r) = self.after.get(i) {
                write_entry(out, &self.scratch, layout, i, r, config.nulls, &mut first);
            }
        }
        // MINIMAL images: what only the before image has goes into `data` too.
        if kind == RowKind::Update {
            for i in 0..table.columns.len() {
                if matches!(self.after.get(i), Some(Rendered::Missing) | None)
                    && let Some(r) = self.before.get(i)
                {
                    write_entry(out, &self.scratch, layout, i, r, config.nulls, &mut first);
                }
            }
        }
        out.push(b'}');

        if kind == RowKind::Update {
            let scratch = &self.scratch;
            let changed = |i: usize| -> Option<&Rendered> {
                if layout.excluded.get(i).copied().unwrap_or(true) {
                    return None;
                }
                let text = |r: &Rendered| match r {
                    Rendered::Value(range) | Rendered::Null(range) => Some(&scratch[range.clone()]),
                    Rendered::Missing => None,
                };
                let (b, a) = (self.before.get(i)?, self.after.get(i)?);
                let (bt, at) = (text(b)?, text(a)?);
                // Maxwell compares Java values: SQL NULL never equals a JSON `null` document.
                let kinds_differ = matches!(b, Rendered::Null(_)) != matches!(a, Rendered::Null(_));
                (kinds_differ || bt != at).then_some(b)
            };
            if (0..table.columns.len()).any(|i| changed(i).is_some()) {
                out.extend_from_slice(&self.old_key);
                out.push(b'{');
                let mut first = true;
                for i in 0..table.columns.len() {
                    if let Some(r) = changed(i) {
                        write_entry(out, scratch, layout, i, r, config.nulls, &mut first);
                    }
                }
                out.push(b'}');
            }
        }
        out.push(b'}');
        Ok((head_end, out.len()))
    }

    /// Ends the open transaction: its messages are then taken with [`Self::next_chunk`].
    /// `xid` is `None` when the transaction ended with a `COMMIT` query (non-transactional
    /// tables), in which case Maxwell writes no `xid`.
    pub fn commit(&mut self, xid: Option<u64>) -> Result<(), SpillError> {
        self.spill.start_reading()?;
        self.draining = Some(Draining {
            xid,
            next: 0,
            total: self.len(),
            spilled: self.spill.rows(),
        });
        Ok(())
    }

    /// The committed transaction's next messages, about `max_bytes` of them (at least one
    /// message), with `xid`, `xoffset` and `commit` in place. After the last chunk the buffer
    /// is empty. `None` when no transaction is committed; a transaction without rows gives
    /// one empty chunk.
    pub fn next_chunk(&mut self, max_bytes: usize) -> Result<Option<Chunk>, SpillError> {
        let Some(mut d) = self.draining.take() else {
            return Ok(None);
        };
        let config = &self.options.config;
        let first_index = d.next;
        let left = d.total - d.next;
        let mut body = Vec::with_capacity(max_bytes.min(self.rendered.len() + left * 40));
        let mut messages = Vec::new();
        let fields = CommitFields {
            xid: if config.commit_info { d.xid } else { None },
            commit_info: config.commit_info,
            xoffset: config.xoffset,
            xid_key: &self.xid_key,
            xoffset_key: &self.xoffset_key,
            commit_field: &self.commit_field,
            last: d.total.saturating_sub(1),
        };
        while d.next < d.total && (messages.is_empty() || body.len() < max_bytes) {
            let start = body.len();
            let (database, table, kind) = if d.next < d.spilled {
                self.spilled_head.clear();
                self.spilled_tail.clear();
                let names = self
                    .spill
                    .read_row(&mut self.spilled_head, &mut self.spilled_tail)?;
                let Some(names) = names else {
                    // The file holds fewer rows than were written: never expected, and
                    // guessing would lose rows.
                    self.draining = Some(d);
                    return Err(self.spill.ended_early());
                };
                fields.write(&mut body, &self.spilled_head, &self.spilled_tail, d.next);
                names
            } else {
                let row = &self.rows[d.next - d.spilled];
                let head = self.rendered.get(row.head.clone()).unwrap_or_default();
                let tail = self.rendered.get(row.tail.clone()).unwrap_or_default();
                fields.write(&mut body, head, tail, d.next);
                (row.database.clone(), row.table.clone(), row.kind.as_str())
            };
            messages.push(Message {
                database,
                table,
                kind,
                range: start..body.len(),
            });
            d.next += 1;
        }
        let last = d.next == d.total;
        if last {
            self.rendered.clear();
            self.rows.clear();
            self.spill.clear();
        } else {
            self.draining = Some(d);
        }
        Ok(Some(Chunk {
            batch: Batch { body, messages },
            first_index,
            last,
        }))
    }

    /// Commits and lays out every message in one batch (tests, benchmarks, small
    /// transactions).
    pub fn finish(&mut self, xid: Option<u64>) -> Result<Batch, SpillError> {
        self.commit(xid)?;
        let mut batch = Batch::default();
        while let Some(chunk) = self.next_chunk(usize::MAX)? {
            batch = batch.followed_by(chunk.batch);
            if chunk.last {
                break;
            }
        }
        Ok(batch)
    }
}

/// Maxwell's transaction fields, written between a row's head and tail.
struct CommitFields<'a> {
    xid: Option<u64>,
    commit_info: bool,
    xoffset: bool,
    xid_key: &'a [u8],
    xoffset_key: &'a [u8],
    commit_field: &'a [u8],
    /// Index of the transaction's last row.
    last: usize,
}

impl CommitFields<'_> {
    fn write(&self, body: &mut Vec<u8>, head: &[u8], tail: &[u8], index: usize) {
        body.extend_from_slice(head);
        if self.commit_info {
            if let Some(xid) = self.xid {
                body.extend_from_slice(self.xid_key);
                write_int(body, xid);
            }
            if index == self.last {
                body.extend_from_slice(self.commit_field);
            } else if self.xoffset {
                body.extend_from_slice(self.xoffset_key);
                write_int(body, index);
            }
        }
        body.extend_from_slice(tail);
    }
}

/// Where `kind`'s `type`/`ts` fields sit in [`TransactionBuffer::type_ts`].
fn kind_index(kind: RowKind) -> usize {
    match kind {
        RowKind::Insert => 0,
        RowKind::Update => 1,
        RowKind::Delete => 2,
    }
}

/// Appends `,"name":` (or `"name":` for the first field).
fn write_field(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
}

/// Renders each cell of an image into `scratch`, recording where each value went. `base`
/// is the before image of an update, which partial JSON updates in `cells` apply to.
fn render_image(
    scratch: &mut Vec<u8>,
    rendered: &mut Vec<Rendered>,
    table: &Table,
    cells: &[Cell<'_>],
    base: &[Cell<'_>],
    null_zerodates: bool,
) -> Result<(), DecodeError> {
    rendered.clear();
    for (i, (column, cell)) in table.columns.iter().zip(cells).enumerate() {
        let start = scratch.len();
        let r = match cell {
            Cell::Missing => Rendered::Missing,
            Cell::Null => {
                scratch.extend_from_slice(b"null");
                Rendered::Null(start..scratch.len())
            }
            Cell::Value(raw) => {
                let is_null = write_value(scratch, column, raw, null_zerodates)
                    .map_err(|e| render_error(table, i, e))?;
                if is_null {
                    Rendered::Null(start..scratch.len())
                } else {
                    Rendered::Value(start..scratch.len())
                }
            }
            Cell::JsonDiff(diffs) => {
                let Some(Cell::Value(before)) = base.get(i) else {
                    return Err(DecodeError::column(
                        table,
                        i,
                        ColumnProblem::PartialJsonWithoutBefore,
                    ));
                };
                write_patched_json(
                    scratch,
                    payload(column.ty, before),
                    payload(column.ty, diffs),
                )
                .map_err(|e| {
                    DecodeError::column(
                        table,
                        i,
                        ColumnProblem::BadJsonDiff {
                            reason: e.to_string(),
                        },
                    )
                })?;
                Rendered::Value(start..scratch.len())
            }
        };
        rendered.push(r);
    }
    Ok(())
}

/// Replaces the rendered values of masked columns with their masked form (NULL stays null,
/// columns missing from the image stay missing).
fn apply_masks(
    scratch: &mut Vec<u8>,
    rendered: &mut [Rendered],
    masks: &[Mask],
    masking: &Masking,
) {
    for (r, mask) in rendered.iter_mut().zip(masks) {
        let Rendered::Value(range) = r else {
            continue;
        };
        let start = scratch.len();
        match mask {
            Mask::Keep => continue,
            Mask::Drop | Mask::Null => {
                scratch.extend_from_slice(b"null");
                *r = Rendered::Null(start..scratch.len());
            }
            Mask::Redact(text) => {
                scratch.extend_from_slice(text);
                *r = Rendered::Value(start..scratch.len());
            }
            Mask::Hash => {
                let hash = masking.hash(scratch.get(range.clone()).unwrap_or_default());
                scratch.extend_from_slice(&hash);
                *r = Rendered::Value(start..scratch.len());
            }
        }
    }
}

/// Appends the `data` map of an insert or delete, rendering each value straight into the
/// message: the same entries [`write_entry`] writes from rendered values, without the copy.
fn write_data_direct(
    out: &mut Vec<u8>,
    layout: &TableLayout,
    cells: &[Cell<'_>],
    config: &crate::format::OutputConfig,
) -> Result<(), DecodeError> {
    let table = &*layout.table;
    out.push(b'{');
    let mut first = true;
    for (i, (column, cell)) in table.columns.iter().zip(cells).enumerate() {
        if layout.excluded.get(i).copied().unwrap_or(true) || matches!(cell, Cell::Missing) {
            continue;
        }
        if matches!(cell, Cell::Null) && !config.nulls {
            continue;
        }
        let mark = out.len();
        if !first {
            out.push(b',');
        }
        if let Some(key) = layout.keys.get(i) {
            out.extend_from_slice(key);
        }
        let is_null = match cell {
            Cell::Value(raw) => write_value(out, column, raw, config.null_zerodates)
                .map_err(|e| render_error(table, i, e))?,
            _ => {
                out.extend_from_slice(b"null");
                true
            }
        };
        if is_null && !config.nulls {
            // A zero date written as null, with nulls left out.
            out.truncate(mark);
            continue;
        }
        first = false;
    }
    out.push(b'}');
    Ok(())
}

/// Appends `"key":value` for column `i` of a `data`/`old` map, unless the column is excluded,
/// missing from the image, or null while `nulls` is off.
fn write_entry(
    out: &mut Vec<u8>,
    scratch: &[u8],
    layout: &TableLayout,
    i: usize,
    rendered: &Rendered,
    nulls: bool,
    first: &mut bool,
) {
    if layout.excluded.get(i).copied().unwrap_or(true) {
        return;
    }
    let range = match rendered {
        Rendered::Missing => return,
        Rendered::Null(_) if !nulls => return,
        Rendered::Null(r) | Rendered::Value(r) => r,
    };
    if !*first {
        out.push(b',');
    }
    *first = false;
    if let Some(key) = layout.keys.get(i) {
        out.extend_from_slice(key);
    }
    out.extend_from_slice(&scratch[range.clone()]);
}

/// `push_ts` as Maxwell writes it: epoch seconds plus `BigDecimal.valueOf` of the fraction
/// as a double, so the fraction has as many digits as `Double.toString` gives it
/// (`1690000000.12`, `1690000000.0`, `1690000000.0000010`).
fn write_push_ts(out: &mut Vec<u8>, now: std::time::SystemTime) {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let micros = since.subsec_micros();
    let fraction = f64::from(micros) / 1_000_000.0;
    let mut text = Vec::new();
    super::number::write_f64(&mut text, fraction);
    // Java's BigDecimal of that string: digits and scale.
    let text = String::from_utf8_lossy(&text);
    let (mantissa, exp) = match text.split_once('E') {
        Some((m, e)) => (m.to_owned(), e.parse::<i64>().unwrap_or(0)),
        None => (text.into_owned(), 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((&mantissa, ""));
    let scale = frac_part.len() as i64 - exp;
    let unscaled: u64 = format!("{int_part}{frac_part}").parse().unwrap_or(0);
    write_int(out, since.as_secs());
    if scale > 0 {
        out.push(b'.');
        let digits = unscaled.to_string();
        let scale = scale as usize;
        out.extend(std::iter::repeat_n(
            b'0',
            scale.saturating_sub(digits.len()),
        ));
        out.extend_from_slice(digits.as_bytes());
    }
}

/// The first `max` UTF-16 code units of `s` (Java's `substring`), never splitting a pair;
/// `max == 0` keeps everything.
fn truncate_utf16(s: &str, max: usize) -> &str {
    if max == 0 {
        return s;
    }
    let mut units = 0;
    for (at, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..at];
        }
    }
    s
}

fn render_error(table: &Table, index: usize, e: RenderError) -> DecodeError {
    let problem = match e {
        RenderError::BadValue => ColumnProblem::BadValue,
        RenderError::UnsupportedType | RenderError::UnsupportedCharset => {
            ColumnProblem::Unsupported
        }
        RenderError::NoLabels => ColumnProblem::NoLabels,
    };
    let mut error = DecodeError::column(table, index, problem);
    if let (RenderError::UnsupportedCharset, DecodeError::Column(column)) = (e, &mut error) {
        column.ty = format!(
            "{} in charset {:?}",
            column.ty,
            table.columns.get(index).map(|c| &c.charset)
        );
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::options::{NamingStrategy, OutputConfig};
    use crate::table::ColumnType;
    use crate::table::{Charset, Column};

    fn table() -> Arc<Table> {
        let col = |name: &str, ty| Column {
            name: name.into(),
            ty,
            unsigned: false,
            charset: Charset::Utf8,
            labels: None,
        };
        Arc::new(Table {
            database: "shop".into(),
            name: "Order".into(),
            columns: vec![
                col("id", ColumnType::Long),
                col("note", ColumnType::VarString { prefix: 1 }),
                col("pass_word", ColumnType::VarString { prefix: 1 }),
            ],
            primary_key: vec![0],
        })
    }

    fn meta(pos: &BinlogPosition) -> RowMeta<'_> {
        RowMeta {
            ts: 5,
            position: pos,
            server_id: 7,
            thread_id: Some(9),
            gtid: Some("0-1-2"),
            query: Some("INSERT INTO shop.Order VALUES (1, 'ü😀')"),
            schema_id: Some(4),
        }
    }

    fn bodies(batch: &Batch) -> Vec<String> {
        batch
            .messages
            .iter()
            .map(|m| String::from_utf8(batch.body_of(m).to_vec()).unwrap())
            .collect()
    }

    fn run(
        config: OutputConfig,
        rows: &[(RowKind, Vec<Cell<'_>>, Vec<Cell<'_>>)],
        xid: Option<u64>,
    ) -> Vec<String> {
        let options = Arc::new(config.compile().unwrap());
        let layout = TableLayout::new(table(), &options);
        let mut tx = TransactionBuffer::new(options);
        let pos = BinlogPosition::new("bin.000003", 1234);
        for (kind, before, after) in rows {
            tx.push_row(&layout, *kind, &meta(&pos), before, after)
                .unwrap();
        }
        bodies(&tx.finish(xid).unwrap())
    }

    /// `{"a":1}` as MySQL binary JSON behind a 4-byte length prefix.
    const DOC_A1: &[u8] = &[
        13, 0, 0, 0, 0x00, 1, 0, 12, 0, 11, 0, 1, 0, 0x05, 1, 0, b'a',
    ];
    /// One REPLACE diff of `$.a` with the int16 2, behind a 4-byte length prefix.
    const DIFF_A2: &[u8] = &[9, 0, 0, 0, 0, 3, b'$', b'.', b'a', 3, 0x05, 2, 0];

    #[test]
    fn partial_json_updates_are_applied_to_the_before_image() {
        let options = Arc::new(OutputConfig::default().compile().unwrap());
        let table = Arc::new(Table {
            database: "shop".into(),
            name: "doc".into(),
            columns: vec![
                Column {
                    name: "id".into(),
                    ty: ColumnType::Long,
                    unsigned: false,
                    charset: Charset::Binary,
                    labels: None,
                },
                Column {
                    name: "body".into(),
                    ty: ColumnType::Json { prefix: 4 },
                    unsigned: false,
                    charset: Charset::Binary,
                    labels: None,
                },
            ],
            primary_key: vec![0],
        });
        let layout = TableLayout::new(table, &options);
        let mut tx = TransactionBuffer::new(options);
        let pos = BinlogPosition::new("bin.000003", 1234);
        tx.push_row(
            &layout,
            RowKind::Update,
            &meta(&pos),
            &[ONE, Cell::Value(DOC_A1)],
            &[ONE, Cell::JsonDiff(DIFF_A2)],
        )
        .unwrap();
        // MINIMAL before images do not hold the document: an error naming the column.
        let err = tx
            .push_row(
                &layout,
                RowKind::Update,
                &meta(&pos),
                &[ONE, Cell::Missing],
                &[ONE, Cell::JsonDiff(DIFF_A2)],
            )
            .unwrap_err();
        assert!(
            err.to_string().contains("column `body` of `shop`.`doc`")
                && err.to_string().contains("binlog_row_image=FULL"),
            "{err}"
        );
        assert_eq!(
            bodies(&tx.finish(Some(3)).unwrap()),
            vec![
                r#"{"database":"shop","table":"doc","type":"update","ts":5,"xid":3,"commit":true,"data":{"id":1,"body":{"a":2}},"old":{"body":{"a":1}}}"#
            ]
        );
    }

    #[test]
    fn a_spilled_transaction_comes_back_byte_for_byte_in_chunks() {
        let options = Arc::new(OutputConfig::default().compile().unwrap());
        let layout = TableLayout::new(table(), &options);
        let pos = BinlogPosition::new("bin.000003", 1234);
        let dir = tempfile::tempdir().unwrap();
        let tiny = TransactionsConfig {
            memory_limit_mb: 1,
            spill_dir: Some(dir.path().to_owned()),
        };
        let mut spilling = TransactionBuffer::with_limits(options.clone(), &tiny);
        let mut in_memory = TransactionBuffer::new(options);
        let ids: Vec<[u8; 4]> = (0..30_000u32).map(u32::to_le_bytes).collect();
        for (i, id) in ids.iter().enumerate() {
            let row = [Cell::Value(id), HI, Cell::Null];
            for tx in [&mut spilling, &mut in_memory] {
                tx.push_row(&layout, RowKind::Insert, &meta(&pos), &[], &row)
                    .unwrap();
                if i % 100 == 99 {
                    tx.enforce_limit().unwrap();
                }
            }
        }
        assert!(spilling.spilled() > 0, "nothing was spilled");
        assert_eq!(in_memory.spilled(), 0);
        assert_eq!(spilling.len(), 30_000);
        let want = bodies(&in_memory.finish(Some(8)).unwrap());

        spilling.commit(Some(8)).unwrap();
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = spilling.next_chunk(64 * 1024).unwrap() {
            assert_eq!(chunk.first_index, got.len());
            chunks += 1;
            got.extend(bodies(&chunk.batch));
            if chunk.last {
                break;
            }
        }
        assert!(chunks > 10, "{chunks} chunks");
        assert_eq!(got.len(), want.len());
        assert!(got == want, "spilled and in-memory messages differ");
        assert!(got[29_999].contains(r#""xid":8,"commit":true"#));
        assert!(got[12_345].contains(r#""xid":8,"xoffset":12345,"#));
        // The buffer is empty and usable again.
        assert!(spilling.is_empty());
        assert!(spilling.next_chunk(1).unwrap().is_none());
    }

    #[test]
    fn inserts_and_deletes_written_directly_match_the_rendered_path() {
        // `primary_key` makes a row take the rendered path; without it inserts and deletes
        // are written straight into the message. Both must give the same `data`.
        let strip_pk = |body: &str| {
            let start = body.find(",\"primary_key\":").expect("primary_key");
            let end = start + body[start..].find(']').expect("]") + 1;
            format!("{}{}", &body[..start], &body[end..])
        };
        let rows = [
            (RowKind::Insert, vec![], vec![ONE, HI, Cell::Null]),
            (RowKind::Delete, vec![ONE, Cell::Null, X], vec![]),
            (RowKind::Insert, vec![], vec![ONE, Cell::Missing, X]),
            (RowKind::Delete, vec![ONE, HI, Cell::Missing], vec![]),
        ];
        for nulls in [true, false] {
            for exclude in [
                vec![],
                vec!["pass_word".to_string()],
                vec!["/^id$/".to_string()],
            ] {
                let config = |primary_keys| OutputConfig {
                    nulls,
                    primary_keys,
                    exclude_columns: exclude.clone(),
                    ..OutputConfig::default()
                };
                let direct = run(config(false), &rows, Some(3));
                let rendered: Vec<String> = run(config(true), &rows, Some(3))
                    .iter()
                    .map(|b| strip_pk(b))
                    .collect();
                assert_eq!(direct, rendered, "nulls={nulls} exclude={exclude:?}");
            }
        }
    }

    const ONE: Cell<'static> = Cell::Value(&[1, 0, 0, 0]);
    const HI: Cell<'static> = Cell::Value(b"\x02hi");
    const X: Cell<'static> = Cell::Value(b"\x01x");

    #[test]
    fn a_transaction_gets_xid_xoffset_and_one_commit() {
        let got = run(
            OutputConfig::default(),
            &[
                (RowKind::Insert, vec![], vec![ONE, HI, Cell::Null]),
                (
                    RowKind::Insert,
                    vec![],
                    vec![Cell::Value(&[2, 0, 0, 0]), Cell::Null, X],
                ),
            ],
            Some(77),
        );
        assert_eq!(
            got,
            vec![
                r#"{"database":"shop","table":"Order","type":"insert","ts":5,"xid":77,"xoffset":0,"data":{"id":1,"note":"hi","pass_word":null}}"#,
                r#"{"database":"shop","table":"Order","type":"insert","ts":5,"xid":77,"commit":true,"data":{"id":2,"note":null,"pass_word":"x"}}"#,
            ]
        );
    }

    #[test]
    fn updates_carry_only_changed_columns_in_old() {
        let got = run(
            OutputConfig::default(),
            &[
                (RowKind::Update, vec![ONE, Cell::Null, X], vec![ONE, X, X]),
                (RowKind::Update, vec![ONE, X, X], vec![ONE, X, X]),
                (RowKind::Delete, vec![ONE, X, X], vec![]),
            ],
            None,
        );
        assert_eq!(
            got,
            vec![
                r#"{"database":"shop","table":"Order","type":"update","ts":5,"xoffset":0,"data":{"id":1,"note":"x","pass_word":"x"},"old":{"note":null}}"#,
                r#"{"database":"shop","table":"Order","type":"update","ts":5,"xoffset":1,"data":{"id":1,"note":"x","pass_word":"x"}}"#,
                r#"{"database":"shop","table":"Order","type":"delete","ts":5,"commit":true,"data":{"id":1,"note":"x","pass_word":"x"}}"#,
            ]
        );
    }

    #[test]
    fn every_optional_field_in_maxwells_order() {
        let config = OutputConfig {
            binlog_position: true,
            gtid_position: true,
            server_id: true,
            thread_id: true,
            schema_id: true,
            row_query: true,
            row_query_max_length: 37,
            primary_keys: true,
            primary_key_columns: true,
            ..OutputConfig::default()
        };
        let got = run(
            config,
            &[(RowKind::Insert, vec![], vec![ONE, HI, X])],
            Some(3),
        );
        assert_eq!(
            got,
            vec![
                r#"{"database":"shop","table":"Order","query":"INSERT INTO shop.Order VALUES (1, 'ü","type":"insert","ts":5,"xid":3,"commit":true,"position":"bin.000003:1234","gtid":"0-1-2","server_id":7,"thread_id":9,"schema_id":4,"primary_key":[1],"primary_key_columns":["id"],"data":{"id":1,"note":"hi","pass_word":"x"}}"#
            ]
        );
    }

    #[test]
    fn commit_info_off_and_xoffset_off() {
        let rows = [
            (RowKind::Insert, vec![], vec![ONE, HI, X]),
            (RowKind::Insert, vec![], vec![ONE, HI, X]),
        ];
        let no_commit = OutputConfig {
            commit_info: false,
            ..OutputConfig::default()
        };
        let got = run(no_commit, &rows, Some(3));
        assert!(
            got.iter()
                .all(|m| !m.contains("xid") && !m.contains("commit") && !m.contains("xoffset"))
        );
        let no_xoffset = OutputConfig {
            xoffset: false,
            ..OutputConfig::default()
        };
        let got = run(no_xoffset, &rows, Some(3));
        assert!(got[0].contains(r#""ts":5,"xid":3,"data""#), "{}", got[0]);
        assert!(
            got[1].contains(r#""xid":3,"commit":true,"data""#),
            "{}",
            got[1]
        );
    }

    #[test]
    fn nulls_off_drops_null_columns_and_can_leave_an_empty_old() {
        let config = OutputConfig {
            nulls: false,
            ..OutputConfig::default()
        };
        let got = run(
            config,
            &[(
                RowKind::Update,
                vec![ONE, Cell::Null, X],
                vec![ONE, HI, Cell::Null],
            )],
            Some(1),
        );
        // `old` holds note (null before) and pass_word ("x" before); only the non-null stays.
        assert!(
            got[0].ends_with(r#""data":{"id":1,"note":"hi"},"old":{"pass_word":"x"}}"#),
            "{}",
            got[0]
        );
        let config = OutputConfig {
            nulls: false,
            ..OutputConfig::default()
        };
        let got = run(
            config,
            &[(RowKind::Update, vec![ONE, Cell::Null, X], vec![ONE, HI, X])],
            Some(1),
        );
        assert!(
            got[0].ends_with(r#","old":{}}"#),
            "Maxwell writes an empty old: {}",
            got[0]
        );
    }

    #[test]
    fn excluded_columns_leave_data_and_old_but_not_the_primary_key() {
        let config = OutputConfig {
            exclude_columns: vec!["/pass_.*/".into(), "id".into()],
            primary_keys: true,
            ..OutputConfig::default()
        };
        let got = run(
            config,
            &[(RowKind::Update, vec![ONE, HI, HI], vec![ONE, HI, X])],
            Some(1),
        );
        assert!(
            got[0].ends_with(r#""primary_key":[1],"data":{"note":"hi"}}"#),
            "{}",
            got[0]
        );
    }

    #[test]
    fn camel_case_renames_fields_and_columns_but_not_key_names() {
        let config = OutputConfig {
            naming_strategy: NamingStrategy::UnderscoreToCamelcase,
            server_id: true,
            primary_key_columns: true,
            ..OutputConfig::default()
        };
        let got = run(
            config,
            &[(RowKind::Insert, vec![], vec![ONE, HI, X])],
            Some(1),
        );
        assert!(
            got[0].ends_with(r#""serverId":7,"primaryKeyColumns":["id"],"data":{"id":1,"note":"hi","passWord":"x"}}"#),
            "{}",
            got[0]
        );
    }

    #[test]
    fn minimal_images_put_before_only_columns_in_data() {
        // MINIMAL: before image has the key, after image only the changed column.
        let got = run(
            OutputConfig::default(),
            &[(
                RowKind::Update,
                vec![ONE, Cell::Missing, Cell::Missing],
                vec![Cell::Missing, HI, Cell::Missing],
            )],
            Some(1),
        );
        assert!(
            got[0].ends_with(r#""data":{"note":"hi","id":1}}"#),
            "{}",
            got[0]
        );
    }

    #[test]
    fn a_row_that_cannot_render_leaves_the_buffer_unchanged() {
        let options = Arc::new(OutputOptions::default());
        let layout = TableLayout::new(table(), &options);
        let mut tx = TransactionBuffer::new(options);
        let pos = BinlogPosition::new("bin.000003", 4);
        let bad = [ONE, Cell::Value(b"\x05x"), X];
        assert!(
            tx.push_row(&layout, RowKind::Insert, &meta(&pos), &[], &bad)
                .is_err()
        );
        assert!(tx.is_empty());
        assert!(tx.finish(Some(1)).unwrap().messages.is_empty());
    }

    #[test]
    fn push_ts_keeps_javas_digits() {
        let at = |micros: u64| {
            let mut out = Vec::new();
            write_push_ts(
                &mut out,
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_micros(1_690_000_000_000_000 + micros),
            );
            String::from_utf8(out).unwrap()
        };
        assert_eq!(at(123_456), "1690000000.123456");
        assert_eq!(at(120_000), "1690000000.12");
        assert_eq!(at(0), "1690000000.0");
        assert_eq!(at(1), "1690000000.0000010");
    }

    #[test]
    fn row_query_truncates_by_utf16_units() {
        assert_eq!(truncate_utf16("abc", 0), "abc");
        assert_eq!(truncate_utf16("abc", 2), "ab");
        assert_eq!(truncate_utf16("a😀b", 2), "a");
        assert_eq!(truncate_utf16("a😀b", 3), "a😀");
    }
}
