//! Bootstrap's reads of a table: in primary-key order, one chunk at a time, each row
//! written as the row image the binlog would hold for it ([`image`]).
//!
//! A chunk is one autocommit `SELECT ... WHERE key > last ORDER BY key LIMIT n`: it holds
//! no lock and no long snapshot, so the binlog keeps flowing between chunks, and a chunk
//! read between two watermarks in the binlog is consistent with the changes around it
//! (the pipeline's bootstrap merges them; `docs/bootstrap.md` says why that is exact).

pub mod image;
pub mod jsonb;
pub mod requests;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use mysql_common::Value;

pub use image::{ImageColumn, ImageError, ImageRows, Labels};
pub use requests::{BootstrapConfig, NewRequest, RequestRow};

/// Why a table could not be read for a bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("`{database}`.`{table}` does not exist (or this user cannot see it)")]
    NoTable { database: String, table: String },
    #[error(transparent)]
    Source(#[from] super::SourceError),
    #[error("{what} got no answer within {millis} ms (source.query_timeout_ms)")]
    Timeout { what: &'static str, millis: u64 },
    #[error("{query} failed: {source}")]
    Query {
        query: &'static str,
        #[source]
        source: mysql_async::Error,
    },
    #[error(
        "the server runs with binlog_order_commits=OFF, so transactions may commit in another order than the binlog's and the watermarks cannot be trusted; set binlog_order_commits=ON (MySQL's default) to bootstrap"
    )]
    CommitOrder,
    #[error("`{database}`.`{table}`: {source}")]
    Image {
        database: String,
        table: String,
        #[source]
        source: ImageError,
    },
}

impl SnapshotError {
    /// Whether the request can never run as it is (the table, its types or its condition),
    /// as opposed to a connection or a server that may answer later.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::NoTable { .. } | Self::CommitOrder | Self::Image { .. } => true,
            // A lock wait, a deadlock, a statement time limit or a killed query may pass.
            Self::Query { source, .. } => matches!(
                source,
                mysql_async::Error::Server(e) if !matches!(e.code, 1205 | 1213 | 1317 | 3024 | 1969)
            ),
            Self::Source(_) | Self::Timeout { .. } => false,
        }
    }
}

/// How to read one table: its columns in table order and its primary key.
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    pub database: String,
    pub table: String,
    pub columns: Vec<PlanColumn>,
    /// Column indexes of the key the walk follows, in key order: the primary key, else a
    /// unique key of NOT NULL columns; empty when the table has neither.
    pub primary_key: Vec<usize>,
    /// Whether that key is the primary key (messages name only a primary key).
    pub key_is_primary: bool,
    /// The request's own condition, SQL as the operator wrote it.
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanColumn {
    pub name: String,
    /// ENUM and SET columns are read as numbers (`col+0`), as the binlog holds them.
    pub labels: Option<Labels>,
    /// How a key value read from this column is written back as a parameter so that the
    /// server compares it as the column's own type: text arrives in the column's charset
    /// (`character_set_results = NULL`) and must be read in it, under its collation; a
    /// DECIMAL arrives as text, which the server would compare as a double.
    pub key_param: String,
    /// MariaDB's JSON (text with a `json_valid` check): published as embedded JSON, as the
    /// binlog path publishes it.
    pub json: bool,
}

impl PlanColumn {
    /// Text keys travel as hex: the server converts a string parameter from the client's
    /// charset before any SQL sees it, which would garble bytes in another charset.
    fn key_as_hex(&self) -> bool {
        self.key_param.starts_with("CONVERT(UNHEX(") || self.key_param == "UNHEX(?)"
    }
}

/// A name from `information_schema` used in SQL (a charset or collation): plain only.
fn plain(name: &str) -> Option<&str> {
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

fn key_param(
    data_type: &str,
    charset: Option<&str>,
    collation: Option<&str>,
    precision: Option<u64>,
    scale: Option<u64>,
) -> String {
    match (
        data_type,
        charset.and_then(plain),
        collation.and_then(plain),
    ) {
        ("decimal", ..) => match (precision, scale) {
            (Some(p), Some(s)) => format!("CAST(? AS DECIMAL({p},{s}))"),
            _ => "?".into(),
        },
        ("binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob", ..) => {
            "UNHEX(?)".into()
        }
        (_, Some(charset), Some(collation)) => {
            format!("CONVERT(UNHEX(?) USING {charset}) COLLATE {collation}")
        }
        _ => "?".into(),
    }
}

/// Backquotes a name for SQL.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The session settings every chunk query relies on (see [`image`]).
pub async fn prepare_session(conn: &mut Conn) -> Result<(), SnapshotError> {
    // PAD_CHAR_TO_FULL_LENGTH would pad CHAR values that the binlog holds unpadded.
    conn.query_drop(
        "SET time_zone = '+00:00', character_set_results = NULL, \
         sql_mode = REPLACE(@@sql_mode, 'PAD_CHAR_TO_FULL_LENGTH', '')",
    )
    .await
    .map_err(|source| SnapshotError::Query {
        query: "SET time_zone, character_set_results, sql_mode",
        source,
    })
}

/// The columns of `database`.`table` that MariaDB's `json_valid` check marks as JSON (none
/// on MySQL, whose JSON is its own type, or on a MariaDB without `CHECK_CONSTRAINTS`).
async fn json_columns(
    conn: &mut Conn,
    database: &str,
    table: &str,
) -> Result<Vec<String>, SnapshotError> {
    let version: Option<String> = conn
        .query_first("SELECT @@version")
        .await
        .map_err(|source| SnapshotError::Query {
            query: "SELECT @@version",
            source,
        })?;
    if !version.is_some_and(|v| v.to_ascii_lowercase().contains("mariadb")) {
        return Ok(Vec::new());
    }
    const CHECKS: &str = "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND CHECK_CLAUSE LIKE 'json_valid(%'";
    match conn.exec::<String, _, _>(CHECKS, (database, table)).await {
        Ok(clauses) => Ok(clauses
            .iter()
            .filter_map(|c| crate::table::json_valid_column(c))
            .collect()),
        Err(mysql_async::Error::Server(e)) if e.code == 1109 => Ok(Vec::new()),
        Err(source) => Err(SnapshotError::Query {
            query: CHECKS,
            source,
        }),
    }
}

impl TablePlan {
    /// Reads the table's columns and primary key from `information_schema`.
    pub async fn load(
        conn: &mut Conn,
        database: &str,
        table: &str,
        condition: Option<String>,
    ) -> Result<Self, SnapshotError> {
        let query = |query| move |source| SnapshotError::Query { query, source };
        type ColumnRow = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<u64>,
            Option<u64>,
            String,
            String,
        );
        let rows: Vec<ColumnRow> = conn
            .exec(
                "SELECT COLUMN_NAME, LOWER(DATA_TYPE), COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, \
                 NUMERIC_PRECISION, NUMERIC_SCALE, TABLE_SCHEMA, TABLE_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            .await
            .map_err(query("SELECT FROM information_schema.COLUMNS"))?;
        // The names as the server stores them (their case may differ from the request's).
        let Some((database, table)) = rows.first().map(|r| (r.7.clone(), r.8.clone())) else {
            return Err(SnapshotError::NoTable {
                database: database.into(),
                table: table.into(),
            });
        };
        let (database, table) = (database.as_str(), table.as_str());
        let columns: Vec<PlanColumn> = rows
            .into_iter()
            .map(
                |(name, data_type, column_type, charset, collation, precision, scale, _, _)| {
                    let labels = match data_type.as_str() {
                        "enum" => Some(Labels::Enum(parse_labels(&column_type))),
                        "set" => Some(Labels::Set(parse_labels(&column_type))),
                        _ => None,
                    };
                    let key_param = match labels {
                        // Read as its index, compared as its index.
                        Some(_) => "?".into(),
                        None => key_param(
                            &data_type,
                            charset.as_deref(),
                            collation.as_deref(),
                            precision,
                            scale,
                        ),
                    };
                    PlanColumn {
                        name,
                        labels,
                        key_param,
                        json: false,
                    }
                },
            )
            .collect();
        let mut columns = columns;
        for column in json_columns(conn, database, table).await? {
            if let Some(c) = columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&column))
            {
                c.json = true;
            }
        }
        // The primary key, else the narrowest unique key of NOT NULL columns (as good for
        // walking and merging: one row per value); else none, and the table is read in one
        // streamed pass (`docs/bootstrap.md`: what is weaker).
        // A functional key part (MySQL 8.0.13+) has no column name: such a key is not
        // walkable.
        let indexes: Vec<(String, Option<String>, String)> = conn
            .exec(
                "SELECT INDEX_NAME, COLUMN_NAME, NULLABLE FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 \
                 ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
                (database, table),
            )
            .await
            .map_err(query("SELECT FROM information_schema.STATISTICS"))?;
        let mut candidates: Vec<(bool, Vec<usize>, bool)> = Vec::new();
        let mut current: Option<&str> = None;
        for (index, column, nullable) in &indexes {
            if current != Some(index.as_str()) {
                current = Some(index.as_str());
                candidates.push((index == "PRIMARY", Vec::new(), true));
            }
            if let Some(last) = candidates.last_mut() {
                match column
                    .as_ref()
                    .and_then(|column| columns.iter().position(|c| &c.name == column))
                {
                    Some(i) if nullable != "YES" => last.1.push(i),
                    _ => last.2 = false,
                }
            }
        }
        let chosen = candidates
            .iter()
            .filter(|(_, key, usable)| *usable && !key.is_empty())
            .min_by_key(|(primary, key, _)| (!primary, key.len()));
        let (key_is_primary, primary_key) = chosen
            .map(|(primary, key, _)| (*primary, key.clone()))
            .unwrap_or_default();
        Ok(Self {
            database: database.into(),
            table: table.into(),
            columns,
            primary_key,
            key_is_primary,
            condition,
        })
    }

    /// Whether the table has a key to walk: without one it is read in one streamed pass.
    pub fn has_key(&self) -> bool {
        !self.primary_key.is_empty()
    }

    /// The chunk query: after the key `after` when given, `limit` rows in key order.
    pub fn select(&self, after: bool, limit: usize) -> String {
        let list: Vec<String> = self
            .columns
            .iter()
            .map(|c| match c.labels {
                Some(_) => format!("{}+0", quote(&c.name)),
                None => quote(&c.name),
            })
            .collect();
        let key: Vec<(String, &str)> = self
            .primary_key
            .iter()
            .filter_map(|&i| self.columns.get(i))
            .map(|c| (quote(&c.name), c.key_param.as_str()))
            .collect();
        let mut conditions = Vec::new();
        if let Some(c) = &self.condition {
            conditions.push(format!("({c})"));
        }
        if after {
            // (a, b) > (?, ?) spelled out, which every server plans as a range.
            let terms: Vec<String> = (0..key.len())
                .map(|i| {
                    let mut parts: Vec<String> =
                        key[..i].iter().map(|(k, p)| format!("{k} = {p}")).collect();
                    parts.push(format!("{} > {}", key[i].0, key[i].1));
                    format!("({})", parts.join(" AND "))
                })
                .collect();
            conditions.push(format!("({})", terms.join(" OR ")));
        }
        let mut sql = format!(
            "SELECT {} FROM {}.{}",
            list.join(", "),
            quote(&self.database),
            quote(&self.table)
        );
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        if key.is_empty() {
            // One streamed pass (see `read_stream`).
            return sql;
        }
        let order: Vec<&str> = key.iter().map(|(k, _)| k.as_str()).collect();
        sql.push_str(&format!(
            " ORDER BY {} LIMIT {}",
            order.join(", "),
            limit.max(1)
        ));
        sql
    }

    /// The parameters of [`Self::select`] for the key `after`.
    fn params(&self, after: &[Value]) -> Vec<Value> {
        let as_param = |k: usize, v: &Value| -> Value {
            let hex = self
                .primary_key
                .get(k)
                .and_then(|&c| self.columns.get(c))
                .is_some_and(PlanColumn::key_as_hex);
            match v {
                Value::Bytes(bytes) if hex => Value::Bytes(
                    bytes
                        .iter()
                        .flat_map(|b| format!("{b:02X}").into_bytes())
                        .collect(),
                ),
                other => other.clone(),
            }
        };
        let mut params = Vec::new();
        for i in 0..after.len() {
            params.extend(after[..=i].iter().enumerate().map(|(k, v)| as_param(k, v)));
        }
        params
    }
}

/// A key value as the checkpoint keeps it, so that a restart continues the key walk where
/// the last confirmed chunk ended: every form the binary protocol hands back, bytes in
/// base64, floats by their bits (exact, and comparable).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedKey {
    Null,
    Bytes(String),
    Int(i64),
    Uint(u64),
    FloatBits(u32),
    DoubleBits(u64),
    Date(u16, u8, u8, u8, u8, u8, u32),
    Time(bool, u32, u8, u8, u8, u32),
}

impl SavedKey {
    pub fn save(values: &[Value]) -> Vec<Self> {
        use base64::Engine as _;
        values
            .iter()
            .map(|v| match v {
                Value::NULL => Self::Null,
                Value::Bytes(b) => Self::Bytes(base64::engine::general_purpose::STANDARD.encode(b)),
                Value::Int(i) => Self::Int(*i),
                Value::UInt(u) => Self::Uint(*u),
                Value::Float(f) => Self::FloatBits(f.to_bits()),
                Value::Double(d) => Self::DoubleBits(d.to_bits()),
                &Value::Date(y, mo, d, h, mi, s, us) => Self::Date(y, mo, d, h, mi, s, us),
                &Value::Time(neg, d, h, mi, s, us) => Self::Time(neg, d, h, mi, s, us),
            })
            .collect()
    }

    /// The values back; `None` when a saved byte string is not base64 (a damaged
    /// checkpoint).
    pub fn restore(saved: &[Self]) -> Option<Vec<Value>> {
        use base64::Engine as _;
        saved
            .iter()
            .map(|k| {
                Some(match k {
                    Self::Null => Value::NULL,
                    Self::Bytes(b) => {
                        Value::Bytes(base64::engine::general_purpose::STANDARD.decode(b).ok()?)
                    }
                    Self::Int(i) => Value::Int(*i),
                    Self::Uint(u) => Value::UInt(*u),
                    Self::FloatBits(f) => Value::Float(f32::from_bits(*f)),
                    Self::DoubleBits(d) => Value::Double(f64::from_bits(*d)),
                    &Self::Date(y, mo, d, h, mi, s, us) => Value::Date(y, mo, d, h, mi, s, us),
                    &Self::Time(neg, d, h, mi, s, us) => Value::Time(neg, d, h, mi, s, us),
                })
            })
            .collect()
    }
}

/// The labels of an ENUM's or SET's `COLUMN_TYPE` (`enum('a','b''c')`).
fn parse_labels(column_type: &str) -> Vec<String> {
    let inner = column_type
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map_or("", |(inner, _)| inner);
    let mut labels = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, current.as_mut()) {
            ('\'', Some(label)) if chars.peek() == Some(&'\'') => {
                chars.next();
                label.push('\'');
            }
            ('\'', Some(_)) => labels.extend(current.take()),
            ('\'', None) => current = Some(String::new()),
            (c, Some(label)) => label.push(c),
            (_, None) => {}
        }
    }
    labels
}

/// One chunk: its rows as row images, and the key of its last row (where the next chunk
/// starts).
#[derive(Debug)]
pub struct Chunk {
    pub columns: Vec<ImageColumn>,
    pub rows: ImageRows,
    pub last_key: Option<Vec<Value>>,
    /// Rows were left out for the byte bound: the table goes on after `last_key`.
    pub cut: bool,
}

impl Chunk {
    /// Whether the table has no more rows after this chunk.
    pub fn ends_table(&self, limit: usize) -> bool {
        !self.cut && self.rows.len() < limit
    }
}

impl Chunk {
    /// The table as this chunk's result describes it, for rendering its rows: the binlog
    /// types its bytes were written in, the charsets its text is in, the labels and key
    /// from the plan.
    pub fn table(&self, plan: &TablePlan) -> crate::table::Table {
        let columns = self
            .columns
            .iter()
            .zip(&plan.columns)
            .map(|(c, p)| crate::table::Column {
                name: p.name.clone(),
                ty: c.ty,
                unsigned: c.unsigned,
                charset: crate::table::Charset::from_collation_id(c.collation),
                labels: p.labels.as_ref().map(|l| l.names().to_vec().into()),
                json_text: p.json && c.ty.is_character(),
            })
            .collect();
        crate::table::Table {
            database: plan.database.as_str().into(),
            name: plan.table.as_str().into(),
            columns,
            primary_key: if plan.key_is_primary {
                plan.primary_key.clone()
            } else {
                Vec::new()
            },
        }
    }
}

/// Refuses a server whose commits may not follow binlog order (MySQL's
/// `binlog_order_commits=OFF`): the watermark argument rests on it. MariaDB has no such
/// setting and always commits in binlog order.
pub async fn check_commit_order(conn: &mut Conn) -> Result<(), SnapshotError> {
    match conn
        .query_first::<Option<i64>, _>("SELECT @@GLOBAL.binlog_order_commits")
        .await
    {
        Ok(Some(Some(0))) => Err(SnapshotError::CommitOrder),
        Ok(_) => Ok(()),
        // 1193: no such variable (MariaDB).
        Err(mysql_async::Error::Server(e)) if e.code == 1193 => Ok(()),
        Err(source) => Err(SnapshotError::Query {
            query: "SELECT @@binlog_order_commits",
            source,
        }),
    }
}

/// The server's estimate of a table's rows (`information_schema.TABLES.TABLE_ROWS`: exact
/// for MyISAM, an estimate for InnoDB); 0 when unknown.
pub async fn estimated_rows(conn: &mut Conn, plan: &TablePlan) -> u64 {
    conn.exec_first::<Option<u64>, _, _>(
        "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        (&plan.database, &plan.table),
    )
    .await
    .ok()
    .flatten()
    .flatten()
    .unwrap_or(0)
}

fn image_error(plan: &TablePlan) -> impl Fn(ImageError) -> SnapshotError + '_ {
    |source| SnapshotError::Image {
        database: plan.database.clone(),
        table: plan.table.clone(),
        source,
    }
}

fn chunk_query(source: mysql_async::Error) -> SnapshotError {
    SnapshotError::Query {
        query: "the bootstrap chunk query",
        source,
    }
}

/// How a result's columns are written as row images, checked against the plan.
fn result_columns(
    result: &mysql_async::QueryResult<'_, 'static, mysql_async::BinaryProtocol>,
    plan: &TablePlan,
) -> Result<Vec<ImageColumn>, SnapshotError> {
    let image = image_error(plan);
    let columns: Vec<ImageColumn> = result
        .columns_ref()
        .iter()
        .zip(&plan.columns)
        .map(|(c, p)| image::image_column(c, p.labels.as_ref()))
        .collect::<Result<_, _>>()
        .map_err(&image)?;
    if columns.len() != plan.columns.len() {
        return Err(image(ImageError::Unsupported {
            column: String::new(),
            what: format!(
                "a result of {} columns for a table of {}",
                columns.len(),
                plan.columns.len()
            ),
        }));
    }
    Ok(columns)
}

/// Reads the chunk after `after` (from the start when `None`).
///
/// At most `limit` rows, and no more once the rows hold `max_bytes` (always one at least):
/// such a chunk is `cut`, and the rest of the query's rows are read and dropped.
pub async fn read_chunk(
    conn: &mut Conn,
    plan: &TablePlan,
    after: Option<&[Value]>,
    limit: usize,
    max_bytes: usize,
) -> Result<Chunk, SnapshotError> {
    let image = image_error(plan);
    let sql = plan.select(after.is_some(), limit);
    let params = after.map(|a| plan.params(a)).unwrap_or_default();
    let mut result = conn.exec_iter(sql, params).await.map_err(chunk_query)?;
    let columns = result_columns(&result, plan)?;
    let mut rows = ImageRows::new(columns.len());
    let mut last_key = None;
    let mut cut = false;
    while let Some(row) = result.next().await.map_err(chunk_query)? {
        if cut {
            continue;
        }
        let values = row.unwrap();
        rows.push(&columns, &values).map_err(&image)?;
        last_key = Some(
            plan.primary_key
                .iter()
                .filter_map(|&i| values.get(i).cloned())
                .collect(),
        );
        cut = rows.bytes() >= max_bytes;
    }
    // Cut at the last row: nothing was dropped.
    let cut = cut && rows.len() < limit;
    Ok(Chunk {
        columns,
        rows,
        last_key,
        cut,
    })
}

/// A keyless table read in one pass: one SELECT, its rows taken a chunk at a time. The
/// server holds the statement's snapshot (and its read view) until the pass ends.
pub struct Stream<'c> {
    result: mysql_async::QueryResult<'c, 'static, mysql_async::BinaryProtocol>,
    columns: Vec<ImageColumn>,
    ended: bool,
}

/// How long the server waits for the pass's reader between chunks (its default, 60 s, is
/// shorter than a broker that holds the stream back may take).
const STREAM_WRITE_TIMEOUT_S: u32 = 3600;

impl<'c> Stream<'c> {
    /// Starts the pass on `conn`, a session of its own.
    pub async fn open(conn: &'c mut Conn, plan: &TablePlan) -> Result<Self, SnapshotError> {
        conn.query_drop(format!(
            "SET SESSION net_write_timeout = {STREAM_WRITE_TIMEOUT_S}"
        ))
        .await
        .map_err(|source| SnapshotError::Query {
            query: "SET net_write_timeout",
            source,
        })?;
        let params: Vec<Value> = Vec::new();
        let result = conn
            .exec_iter(plan.select(false, 0), params)
            .await
            .map_err(chunk_query)?;
        let columns = result_columns(&result, plan)?;
        Ok(Self {
            result,
            columns,
            ended: false,
        })
    }

    /// The next chunk: up to `limit` rows and about `max_bytes`; fewer than `limit` (and
    /// not `cut`) once the pass ends.
    pub async fn next_chunk(
        &mut self,
        plan: &TablePlan,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Chunk, SnapshotError> {
        let image = image_error(plan);
        let mut rows = ImageRows::new(self.columns.len());
        let mut cut = false;
        while !self.ended && rows.len() < limit && !cut {
            match self.result.next().await.map_err(chunk_query)? {
                Some(row) => {
                    rows.push(&self.columns, &row.unwrap()).map_err(&image)?;
                    cut = rows.bytes() >= max_bytes;
                }
                None => self.ended = true,
            }
        }
        Ok(Chunk {
            columns: self.columns.clone(),
            rows,
            last_key: None,
            cut: cut && !self.ended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_key_comes_back_as_the_same_values() {
        let key = vec![
            Value::NULL,
            Value::Bytes(vec![0, 0xff, b'a', 0x80]),
            Value::Int(-7),
            Value::UInt(u64::MAX),
            Value::Float(-0.5),
            Value::Double(f64::MIN_POSITIVE),
            Value::Date(2026, 12, 4, 23, 59, 58, 999_999),
            Value::Time(true, 34, 22, 1, 2, 3),
        ];
        let saved = SavedKey::save(&key);
        let text = serde_json::to_string(&saved).unwrap();
        let back: Vec<SavedKey> = serde_json::from_str(&text).unwrap();
        assert_eq!(SavedKey::restore(&back), Some(key));
        assert_eq!(
            SavedKey::restore(&[SavedKey::Bytes("not base64!".into())]),
            None
        );
    }

    fn plan(key: &[usize]) -> TablePlan {
        TablePlan {
            key_is_primary: true,
            database: "d".into(),
            table: "t`x".into(),
            columns: vec![
                PlanColumn {
                    name: "a".into(),
                    labels: None,
                    key_param: "?".into(),
                    json: false,
                },
                PlanColumn {
                    name: "e".into(),
                    labels: Some(Labels::Enum(vec!["x".into(), "y".into()])),
                    key_param: "?".into(),
                    json: false,
                },
                PlanColumn {
                    name: "b".into(),
                    labels: None,
                    key_param: key_param(
                        "varchar",
                        Some("latin1"),
                        Some("latin1_swedish_ci"),
                        None,
                        None,
                    ),
                    json: false,
                },
            ],
            primary_key: key.to_vec(),
            condition: None,
        }
    }

    #[test]
    fn the_chunk_query_walks_the_key_in_order() {
        assert_eq!(
            plan(&[0]).select(false, 10),
            "SELECT `a`, `e`+0, `b` FROM `d`.`t``x` ORDER BY `a` LIMIT 10"
        );
        let mut p = plan(&[0, 2]);
        p.condition = Some("b > 5".into());
        assert_eq!(
            p.select(true, 10),
            "SELECT `a`, `e`+0, `b` FROM `d`.`t``x` WHERE (b > 5) AND ((`a` > ?) OR (`a` = ? AND `b` > CONVERT(UNHEX(?) USING latin1) COLLATE latin1_swedish_ci)) ORDER BY `a`, `b` LIMIT 10"
        );
        assert_eq!(
            p.params(&[Value::Int(1), Value::Bytes(vec![0xE9, b'a'])]),
            [Value::Int(1), Value::Int(1), Value::Bytes(b"E961".to_vec())],
            "a text key travels as hex"
        );
    }

    #[test]
    fn key_parameters_are_read_as_the_columns_type() {
        assert_eq!(
            key_param("decimal", None, None, Some(20), Some(10)),
            "CAST(? AS DECIMAL(20,10))"
        );
        assert_eq!(key_param("int", None, None, Some(10), Some(0)), "?");
        assert_eq!(key_param("varbinary", None, None, None, None), "UNHEX(?)");
        assert_eq!(
            key_param("varchar", Some("utf8mb4"), Some("x'; DROP"), None, None),
            "?",
            "a name that is not plain is never pasted into SQL"
        );
    }

    #[test]
    fn labels_are_read_with_quotes_inside_them() {
        assert_eq!(parse_labels("enum('a','b','c')"), ["a", "b", "c"]);
        assert_eq!(parse_labels("set('x,y','it''s')"), ["x,y", "it's"]);
        assert_eq!(parse_labels("enum('')"), [""]);
    }
}
