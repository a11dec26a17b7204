//! The open transaction's rows, rendered as they are read and held until the commit
//! (Maxwell puts the transaction's `xid` on every row, and the XID is only known then).
//! Past a memory limit they wait in a temporary file ([`super::spill`]). On commit the
//! final messages are laid out with `xid`, `xoffset` and `commit`, in chunks: `xid` on every
//! row when the transaction ended with an XID event; the last row has `"commit":true` and
//! no `xoffset`; the others have `xoffset` 0, 1, ...

use std::ops::Range;
use std::sync::Arc;

use super::batch::{Batch, Chunk, Message};
use super::json::write_int;
use super::layout::TableLayout;
use super::options::OutputOptions;
use super::row::{RowMeta, RowRenderer, field_key};
use super::spill::{Spill, SpillError, TransactionsConfig};
use crate::decode::{Cell, DecodeError, RowKind};

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

/// The rows of the open transaction, already rendered except for the commit fields.
#[derive(Debug)]
pub struct TransactionBuffer {
    options: Arc<OutputOptions>,
    renderer: RowRenderer,
    rendered: Vec<u8>,
    rows: Vec<PendingRow>,
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
        let mut commit_field = field_key(&options.names.commit);
        commit_field.extend_from_slice(b"true");
        Self {
            xid_key: field_key(&options.names.xid),
            xoffset_key: field_key(&options.names.xoffset),
            commit_field,
            renderer: RowRenderer::new(options.clone()),
            options,
            rendered: Vec::new(),
            rows: Vec::new(),
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
                .write_row(&row.database, &row.table, row.kind.into(), head, tail)?;
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
        match self
            .renderer
            .render(&mut self.rendered, layout, kind, meta, before, after)
        {
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
                (row.database.clone(), row.table.clone(), row.kind.into())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::options::{NamingStrategy, OutputConfig};
    use crate::position::BinlogPosition;
    use crate::table::{Charset, Column, ColumnType, Table};

    fn table() -> Arc<Table> {
        let col = |name: &str, ty| Column {
            name: name.into(),
            ty,
            unsigned: false,
            charset: Charset::Utf8,
            labels: None,
            json_text: false,
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
                    json_text: false,
                },
                Column {
                    name: "body".into(),
                    ty: ColumnType::Json { prefix: 4 },
                    unsigned: false,
                    charset: Charset::Binary,
                    labels: None,
                    json_text: false,
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
    fn with_masking_configured_no_message_carries_the_statement() {
        use crate::format::mask::{MaskRuleConfig, MaskingConfig};
        let config = OutputConfig {
            row_query: true,
            ..OutputConfig::default()
        };
        let mut options = config.compile().unwrap();
        // A rule for another table: the statement of this one may still have written a
        // masked table's rows too (a multi-table UPDATE).
        let masking = MaskingConfig {
            rules: vec![MaskRuleConfig {
                tables: "hr.person".into(),
                null: vec!["NHS_Number".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        options.masking = Arc::new(masking.compile(|_| None).unwrap());
        let options = Arc::new(options);
        let layout = TableLayout::new(table(), &options);
        let mut tx = TransactionBuffer::new(options);
        let pos = BinlogPosition::new("bin.000003", 1234);
        tx.push_row(&layout, RowKind::Insert, &meta(&pos), &[], &[ONE, HI, X])
            .unwrap();
        let got = bodies(&tx.finish(Some(3)).unwrap());
        assert!(!got[0].contains("query"), "{}", got[0]);
        assert!(
            got[0].contains(r#""data":{"id":1,"note":"hi""#),
            "{}",
            got[0]
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
}
