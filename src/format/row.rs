//! One row change into Maxwell's message bytes: everything but the transaction fields
//! (`xid`, `xoffset`, `commit`), which only the commit can add.
//!
//! Field order (Maxwell's `RowMap.toJSON`): `database, table, [query], type, ts, [xid],
//! [xoffset], [commit], [position], [gtid], [server_id], [thread_id], [push_ts],
//! [primary_key], [primary_key_columns], data, [old]`. `data` is the after image (the
//! before image for deletes); with a MINIMAL row image, columns only in an update's before
//! image follow in `data`, as Maxwell puts them. `old` holds the columns present in both
//! images whose *rendered* values differ, so it is left out exactly when Maxwell leaves it
//! out.

use std::ops::Range;
use std::sync::Arc;

use super::json::{write_int, write_str};
use super::json_diff::write_patched_json;
use super::layout::{TableLayout, write_field};
use super::mask::{Mask, Masking};
use super::options::OutputOptions;
use super::value::{RenderError, write_value};
use crate::decode::{Cell, ColumnProblem, DecodeError, RowKind, payload};
use crate::position::BinlogPosition;
use crate::table::Table;

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

/// A column's rendered value in the scratch buffer.
#[derive(Debug, Clone)]
enum Rendered {
    Missing,
    Null(Range<usize>),
    Value(Range<usize>),
}

/// Renders rows under one set of output options, reusing its buffers from row to row.
#[derive(Debug)]
pub struct RowRenderer {
    options: Arc<OutputOptions>,
    /// Rendered values of the current row's images.
    scratch: Vec<u8>,
    before: Vec<Rendered>,
    after: Vec<Rendered>,
    /// `,"type":"insert","ts":` for inserts, updates and deletes, in [`RowKind`] order.
    type_ts: [Vec<u8>; 3],
    /// `,"data":` and `,"old":`.
    data_key: Vec<u8>,
    old_key: Vec<u8>,
    /// `,"type":"bootstrap-insert","ts":`.
    bootstrap_type_ts: Vec<u8>,
}

/// What a `bootstrap-insert` carries besides its values.
#[derive(Debug, Clone, Copy)]
pub struct BootstrapMeta<'a> {
    /// When the row was read, in seconds.
    pub ts: u32,
    /// Version of the tracked schema the row was rendered with.
    pub schema_id: Option<u64>,
    /// The request's comment.
    pub comment: Option<&'a str>,
}

/// Where a rendered row comes from.
#[derive(Clone, Copy)]
enum Provenance<'a> {
    Binlog(&'a RowMeta<'a>),
    Bootstrap(&'a BootstrapMeta<'a>),
}

/// `,"name":` with the naming strategy already applied to `name`.
pub(super) fn field_key(name: &str) -> Vec<u8> {
    let mut f = vec![b','];
    write_str(&mut f, name);
    f.push(b':');
    f
}

impl RowRenderer {
    pub fn new(options: Arc<OutputOptions>) -> Self {
        let type_ts = [RowKind::Insert, RowKind::Update, RowKind::Delete].map(|kind| {
            let mut f = field_key(&options.names.kind);
            write_str(&mut f, kind.as_str());
            f.extend_from_slice(&field_key(&options.names.ts));
            f
        });
        let mut bootstrap_type_ts = field_key(&options.names.kind);
        write_str(&mut bootstrap_type_ts, "bootstrap-insert");
        bootstrap_type_ts.extend_from_slice(&field_key(&options.names.ts));
        Self {
            type_ts,
            bootstrap_type_ts,
            data_key: field_key(&options.names.data),
            old_key: field_key(&options.names.old),
            options,
            scratch: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Renders one row change into `out`: the message's head (up to `ts`) and, after the
    /// place for the transaction fields, its tail. Returns where the head ends and the tail
    /// ends. `before` is used by updates and deletes, `after` by inserts and updates. On
    /// error `out` may hold part of the row: the caller truncates it.
    pub fn render(
        &mut self,
        out: &mut Vec<u8>,
        layout: &TableLayout,
        kind: RowKind,
        meta: &RowMeta<'_>,
        before: &[Cell<'_>],
        after: &[Cell<'_>],
    ) -> Result<(usize, usize), DecodeError> {
        self.render_row(out, layout, kind, Provenance::Binlog(meta), before, after)
    }

    /// Renders one `bootstrap-insert`: a row read from the table, as Maxwell writes it (no
    /// position, transaction or thread fields; `ts` the read time; `comment` when the
    /// request has one), its values rendered exactly as a binlog insert's. `after` is the
    /// row as the binlog would image it. Returns where the message ends.
    pub fn render_bootstrap_insert(
        &mut self,
        out: &mut Vec<u8>,
        layout: &TableLayout,
        bootstrap: &BootstrapMeta<'_>,
        after: &[Cell<'_>],
    ) -> Result<usize, DecodeError> {
        self.render_row(
            out,
            layout,
            RowKind::Insert,
            Provenance::Bootstrap(bootstrap),
            &[],
            after,
        )
        .map(|(_, end)| end)
    }

    /// Renders `bootstrap-start` or `bootstrap-complete` (`data` empty), as Maxwell writes
    /// them: with `primary_keys`/`primary_key_columns`, the key's names (`key`: the table's
    /// primary key on the start, none on the end) and a `null` value for each.
    pub fn render_bootstrap_marker(
        &self,
        out: &mut Vec<u8>,
        database: &str,
        table: &str,
        kind: &str,
        key: &[String],
        bootstrap: &BootstrapMeta<'_>,
    ) {
        let options = &*self.options;
        let names = &options.names;
        out.push(b'{');
        write_str(out, &names.database);
        out.push(b':');
        write_str(out, database);
        out.extend_from_slice(&field_key(&names.table));
        write_str(out, table);
        out.extend_from_slice(&field_key(&names.kind));
        write_str(out, kind);
        out.extend_from_slice(&field_key(&names.ts));
        write_int(out, bootstrap.ts);
        if options.config.push_timestamp {
            write_field(out, &names.push_ts, false);
            write_push_ts(out, std::time::SystemTime::now());
        }
        if let Some(comment) = bootstrap.comment {
            out.extend_from_slice(b",\"comment\":");
            write_str(out, comment);
        }
        if options.config.primary_keys {
            write_field(out, &names.primary_key, false);
            out.push(b'[');
            for i in 0..key.len() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"null");
            }
            out.push(b']');
        }
        if options.config.primary_key_columns {
            write_field(out, &names.primary_key_columns, false);
            out.push(b'[');
            for (i, name) in key.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, name);
            }
            out.push(b']');
        }
        out.extend_from_slice(&self.data_key);
        out.extend_from_slice(b"{}}");
    }

    fn render_row(
        &mut self,
        out: &mut Vec<u8>,
        layout: &TableLayout,
        kind: RowKind,
        provenance: Provenance<'_>,
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

        out.extend_from_slice(&layout.head);
        let meta = match provenance {
            Provenance::Binlog(meta) => meta,
            Provenance::Bootstrap(bootstrap) => {
                out.extend_from_slice(&self.bootstrap_type_ts);
                write_int(out, bootstrap.ts);
                let head_end = out.len();
                // Maxwell's bootstrap rows: no position (so no GTID either), server or
                // thread.
                if config.schema_id {
                    write_field(out, &names.schema_id, false);
                    match bootstrap.schema_id {
                        Some(id) => write_int(out, id),
                        None => out.extend_from_slice(b"null"),
                    }
                }
                if config.push_timestamp {
                    write_field(out, &names.push_ts, false);
                    write_push_ts(out, std::time::SystemTime::now());
                }
                if let Some(comment) = bootstrap.comment {
                    // Not renamed by the naming strategy, as in Maxwell.
                    out.extend_from_slice(b",\"comment\":");
                    write_str(out, comment);
                }
                self.write_keys_and_data(out, layout, kind, direct, data_cells)?;
                return Ok((head_end, out.len()));
            }
        };
        // With any masking configured, no statement text: it would carry masked values in
        // clear, and one statement (a multi-table UPDATE, a multi-statement) can write the
        // rows of a masked table and of an unmasked one.
        if config.row_query
            && options.masking.is_empty()
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
        self.write_keys_and_data(out, layout, kind, direct, data_cells)?;
        Ok((head_end, out.len()))
    }

    /// `primary_key`, `primary_key_columns`, `data`, `old` and the closing brace.
    fn write_keys_and_data(
        &mut self,
        out: &mut Vec<u8>,
        layout: &TableLayout,
        kind: RowKind,
        direct: bool,
        data_cells: &[Cell<'_>],
    ) -> Result<(), DecodeError> {
        let table = &*layout.table;
        let options = &*self.options;
        let config = &options.config;
        let names = &options.names;
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
            return Ok(());
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
        Ok(())
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
    fn bootstrap_markers_name_the_key_as_maxwell_does() {
        let config = crate::format::OutputConfig {
            primary_keys: true,
            primary_key_columns: true,
            naming_strategy: crate::format::NamingStrategy::UnderscoreToCamelcase,
            ..Default::default()
        };
        let renderer = RowRenderer::new(Arc::new(config.compile().unwrap()));
        let meta = BootstrapMeta {
            ts: 7,
            schema_id: None,
            comment: Some("c"),
        };
        let render = |kind: &str, key: &[String]| {
            let mut out = Vec::new();
            renderer.render_bootstrap_marker(&mut out, "db", "t", kind, key, &meta);
            String::from_utf8(out).unwrap()
        };
        // The start names the table's key, a null value for each column; the end has none.
        assert_eq!(
            render("bootstrap-start", &["id".into(), "part_no".into()]),
            r#"{"database":"db","table":"t","type":"bootstrap-start","ts":7,"comment":"c","primaryKey":[null,null],"primaryKeyColumns":["id","part_no"],"data":{}}"#
        );
        assert_eq!(
            render("bootstrap-complete", &[]),
            r#"{"database":"db","table":"t","type":"bootstrap-complete","ts":7,"comment":"c","primaryKey":[],"primaryKeyColumns":[],"data":{}}"#
        );
    }

    #[test]
    fn row_query_truncates_by_utf16_units() {
        assert_eq!(truncate_utf16("abc", 0), "abc");
        assert_eq!(truncate_utf16("abc", 2), "ab");
        assert_eq!(truncate_utf16("a😀b", 2), "a");
        assert_eq!(truncate_utf16("a😀b", 3), "a😀");
    }
}
