//! Schema: what the columns of a binlog row are called and how their bytes are encoded.
//!
//! A rows event carries values only; the TABLE_MAP event before it gives each column's binlog
//! type, and, when the server logs `binlog_row_metadata=FULL`, also names, signedness and
//! character sets. When it does not, names come from a [`SchemaProvider`]. The daemon's
//! provider is [`history::TrackedSchema`]: a [`catalog::Catalog`] captured from
//! `information_schema` ([`capture`]) and moved forward by the DDL statements in the binlog
//! ([`ddl`]), with every change stored by position so a restart decodes with the schema of
//! its time. [`StaticSchema`] and [`PositionalNames`] serve replays of binlog files.
//!
//! The result is a [`Table`] (the leaf module `table`), which the decoder and the formatter
//! share: one per TABLE_MAP, cached by the reader while the table map stays the same.

pub mod catalog;
pub mod ddl;
pub mod history;
mod information_schema;
mod memory;

use mysql_common::binlog::events::{OptionalMetaExtractor, OptionalMetadataField, TableMapEvent};

pub use information_schema::capture;
pub use memory::{PositionalNames, StaticSchema};

use crate::position::BinlogPosition;
use crate::table::{Charset, Column, ColumnType, Table};

/// What a [`SchemaProvider`] knows about a column, for binlogs without full metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub unsigned: bool,
    /// `None` for columns that hold no text.
    pub charset: Option<Charset>,
    /// ENUM and SET columns: the labels in definition order.
    pub labels: Option<Vec<String>>,
    /// Position (1-based) in the primary key, if the column is part of it.
    pub primary_key_position: Option<u32>,
    /// Temporal columns: fractional-second digits. Needed for MariaDB's "hires" TIMESTAMP,
    /// DATETIME and TIME (tables created before 10.1 or with mysql56_temporal_format off),
    /// which the binlog logs with the old type codes and no metadata.
    pub fsp: Option<u8>,
    /// MariaDB's JSON (text with a `json_valid` check, or declared `JSON`): its text is
    /// published as embedded JSON. The binlog cannot tell, even with full metadata.
    pub json: bool,
}

/// Why a table could not be described.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "table `{database}`.`{table}` is not in the tracked schema at this position (created before the schema was captured and dropped since?), so its columns cannot be named. Enable binlog_row_metadata=FULL on the server so the binlog carries column names, or see docs/schema.md"
    )]
    TableNotFound { database: String, table: String },
    #[error(
        "the columns of `{database}`.`{table}` are not known at this position: {reason}. Enable binlog_row_metadata=FULL on the server (the binlog then names the columns), or, once you know the table's current definition held at the checkpoint, run `binlog-relay schema recapture`; see docs/schema.md"
    )]
    TableUnknown {
        database: String,
        table: String,
        reason: String,
    },
    #[error(
        "table `{database}`.`{table}` has {binlog} columns in the binlog but {schema} in the tracked schema: a change to it was missed. Run `binlog-relay schema recapture` once you know the current definition held at the checkpoint, or enable binlog_row_metadata=FULL; see docs/schema.md"
    )]
    ColumnCountMismatch {
        database: String,
        table: String,
        binlog: usize,
        schema: usize,
    },
    #[error("the TABLE_MAP event for `{database}`.`{table}` is malformed: {message}")]
    BadTableMap {
        database: String,
        table: String,
        message: String,
    },
    #[error("reading the schema from information_schema failed ({query}): {source}")]
    Capture {
        query: &'static str,
        #[source]
        source: mysql_async::Error,
    },
    #[error(
        "reading the schema from information_schema got no answer within {millis} ms ({query}); retrying. A server this slow to answer may need a larger source.query_timeout_ms"
    )]
    CaptureTimeout { query: &'static str, millis: u64 },
    #[error(transparent)]
    History(Box<history::HistoryError>),
    #[error(
        "the schema changed during each of {attempts} attempts to capture it; start binlog-relay when no schema migration is running"
    )]
    Unstable { attempts: usize },
}

impl SchemaError {
    /// Whether retrying later may succeed: reading `information_schema` failed on a lost
    /// connection. Everything else needs the operator.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Capture { source, .. } => crate::net::mysql_error_heals(source),
            Self::CaptureTimeout { .. } => true,
            _ => false,
        }
    }
}

/// Where column names come from when the binlog does not carry them.
pub trait SchemaProvider: Send {
    /// The columns of `database`.`table` in table order as of the event at `at`; `None`
    /// when the table is unknown.
    fn columns(
        &mut self,
        at: &BinlogPosition,
        database: &str,
        table: &str,
    ) -> impl std::future::Future<Output = Result<Option<Vec<ColumnInfo>>, SchemaError>> + Send;

    /// A statement from a QUERY event at `at`, run with `database` as the session's
    /// database. Providers that track DDL apply it and say what it changed.
    fn statement(
        &mut self,
        _at: &BinlogPosition,
        _database: &str,
        _sql: &str,
    ) -> impl std::future::Future<Output = Result<Vec<ddl::Effect>, SchemaError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// A statement at `at` whose bytes are not valid in the session's charset (`lossy` is
    /// for messages only). A tracking provider cannot follow it.
    fn unreadable_statement(
        &mut self,
        _at: &BinlogPosition,
        _lossy: &str,
    ) -> impl std::future::Future<Output = Result<(), SchemaError>> + Send {
        async { Ok(()) }
    }

    /// A table whose columns the binlog named itself (full metadata): the authority,
    /// which a tracking provider checks its own record against.
    fn named_by_binlog(
        &mut self,
        _at: &BinlogPosition,
        _table: &Table,
    ) -> impl std::future::Future<Output = Result<(), SchemaError>> + Send {
        async { Ok(()) }
    }

    /// The version of the schema in force, for `schema_id`; `None` when not tracked.
    fn schema_id(&self) -> Option<u64> {
        None
    }

    /// Whether a table it does not know gets positional names (`@1`, `@2`, ...) instead of
    /// an error. Only for looking at binlogs offline; the daemon never guesses names.
    fn positional_fallback(&self) -> bool {
        false
    }
}

/// Builds the [`Table`] for a TABLE_MAP event, asking `provider` only when the event lacks
/// column names.
pub async fn resolve(
    at: &BinlogPosition,
    tme: &TableMapEvent<'_>,
    provider: &mut impl SchemaProvider,
) -> Result<Table, SchemaError> {
    let database = tme.database_name().into_owned();
    let table = tme.table_name().into_owned();
    let bad = |message: String| SchemaError::BadTableMap {
        database: database.clone(),
        table: table.clone(),
        message,
    };

    let count = usize::try_from(tme.columns_count()).map_err(|e| bad(e.to_string()))?;
    let mut types = Vec::with_capacity(count);
    for i in 0..count {
        let wire = tme
            .get_column_type(i)
            .map_err(|e| bad(format!("column {i}: {e}")))?
            .ok_or_else(|| bad(format!("column {i} has no type")))?;
        let meta = tme.get_column_metadata(i).unwrap_or_default();
        types.push(ColumnType::from_table_map(wire, meta));
    }

    let meta = OptionalMetaExtractor::new(tme.iter_optional_meta())
        .map_err(|e| bad(format!("optional metadata: {e}")))?;
    let names: Vec<String> = meta
        .iter_column_name()
        .map(|n| n.map(|n| n.name().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("column names: {e}")))?;

    let logged_pk: Vec<usize> = meta
        .iter_primary_key()
        .filter_map(|i| i.ok().and_then(|i| usize::try_from(i).ok()))
        .filter(|&i| i < count)
        .collect();
    let mut primary_key = logged_pk;
    let from_binlog = names.len() == count;
    let columns = if from_binlog {
        from_metadata(tme, &types, names, &meta).map_err(bad)?
    } else {
        let infos = match provider.columns(at, &database, &table).await? {
            Some(infos) => infos,
            None if provider.positional_fallback() => (1..=count)
                .map(|i| ColumnInfo {
                    name: format!("@{i}"),
                    unsigned: false,
                    charset: None,
                    labels: None,
                    primary_key_position: None,
                    fsp: None,
                    json: false,
                })
                .collect(),
            None => {
                return Err(SchemaError::TableNotFound {
                    database: database.clone(),
                    table: table.clone(),
                });
            }
        };
        if infos.len() != count {
            return Err(SchemaError::ColumnCountMismatch {
                database,
                table,
                binlog: count,
                schema: infos.len(),
            });
        }
        if primary_key.is_empty() {
            let mut keyed: Vec<(u32, usize)> = infos
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.primary_key_position.map(|p| (p, i)))
                .collect();
            keyed.sort_unstable();
            primary_key = keyed.into_iter().map(|(_, i)| i).collect();
        }
        let mut columns: Vec<Column> = types
            .iter()
            .zip(infos)
            .map(|(&ty, info)| Column {
                name: info.name,
                ty: ty.with_schema_fsp(info.fsp),
                unsigned: info.unsigned,
                charset: info.charset.unwrap_or(Charset::Binary),
                labels: info.labels.map(Into::into),
                json_text: info.json && ty.is_character(),
            })
            .collect();
        // MINIMAL metadata has no names but does record signedness and charsets as they
        // were when the row was written; those beat today's information_schema.
        let names = columns.iter().map(|c| c.name.clone()).collect();
        if let Ok(logged) = from_metadata(tme, &types, names, &meta) {
            let has_signedness = meta.iter_signedness().next().is_some();
            let has_charsets = meta.iter_charset().next().is_some();
            for (column, logged) in columns.iter_mut().zip(logged) {
                if has_signedness && column.ty.is_numeric() {
                    column.unsigned = logged.unsigned;
                }
                if has_charsets && column.ty.is_character() {
                    column.charset = logged.charset;
                }
                if logged.labels.is_some() {
                    column.labels = logged.labels;
                }
            }
        }
        columns
    };

    let mut table = Table {
        database: database.into(),
        name: table.into(),
        columns,
        primary_key,
    };
    if from_binlog {
        // Names came from the binlog, but old-format temporal columns say nothing of their
        // fractional digits, and a MariaDB JSON column is text to the binlog; only the
        // schema knows either.
        let asks_schema = |c: &Column| {
            c.ty.is_legacy_temporal() || (c.ty.is_character() && c.charset != Charset::Binary)
        };
        if table.columns.iter().any(asks_schema)
            && let Ok(Some(infos)) = provider.columns(at, &table.database, &table.name).await
        {
            for column in &mut table.columns {
                if let Some(info) = infos.iter().find(|i| i.name == column.name) {
                    column.ty = column.ty.with_schema_fsp(info.fsp);
                    column.json_text = info.json && column.ty.is_character();
                }
            }
        }
        provider.named_by_binlog(at, &table).await?;
    }
    Ok(table)
}

/// Columns named `names`, typed from the table map, with signedness, charsets and ENUM/SET
/// labels from its optional metadata (unsigned = false, charset binary and no labels where
/// the metadata is silent).
fn from_metadata(
    tme: &TableMapEvent<'_>,
    types: &[ColumnType],
    names: Vec<String>,
    meta: &OptionalMetaExtractor<'_>,
) -> Result<Vec<Column>, String> {
    let mut signedness = meta.iter_signedness();
    let mut charsets = meta.iter_charset();
    let mut enum_charsets = meta.iter_enum_and_set_charset();
    let (mut enum_labels, mut set_labels) = labels_from_metadata(tme)?;
    let mut columns = Vec::with_capacity(types.len());
    for (&ty, name) in types.iter().zip(names) {
        let unsigned = ty.is_numeric() && signedness.next().unwrap_or(false);
        let is_enum_or_set = matches!(ty, ColumnType::Enum { .. } | ColumnType::Set { .. });
        // GEOMETRY is stored as a BLOB and takes a charset entry too (seen on MariaDB 10.11:
        // without this, every text column after a GEOMETRY got its neighbour's charset).
        let collation = if ty.is_character() || matches!(ty, ColumnType::Geometry { .. }) {
            charsets.next().transpose().map_err(|e| e.to_string())?
        } else if is_enum_or_set {
            enum_charsets
                .next()
                .transpose()
                .map_err(|e| e.to_string())?
        } else {
            None
        };
        let charset = collation.map_or(Charset::Binary, Charset::from_collation_id);
        let raw_labels = match ty {
            ColumnType::Enum { .. } => enum_labels.next(),
            ColumnType::Set { .. } => set_labels.next(),
            _ => None,
        };
        // Labels are stored in the column's charset; a binary or unknown one is read as UTF-8.
        let labels = raw_labels.map(|raw| {
            raw.iter()
                .map(|l| match charset.decode(l) {
                    Some(text) => text.into_owned(),
                    None => String::from_utf8_lossy(l).into_owned(),
                })
                .collect::<Vec<_>>()
                .into()
        });
        columns.push(Column {
            name,
            ty,
            unsigned,
            charset,
            labels,
            json_text: false,
        });
    }
    Ok(columns)
}

/// One column's ENUM or SET labels, as the binlog stores them (bytes in the column's charset).
type RawLabels = Vec<Vec<u8>>;

/// The ENUM and SET label lists of a table map's optional metadata, one list per ENUM
/// (respectively SET) column in column order; empty when the server did not log them.
fn labels_from_metadata(
    tme: &TableMapEvent<'_>,
) -> Result<(std::vec::IntoIter<RawLabels>, std::vec::IntoIter<RawLabels>), String> {
    let mut enums = Vec::new();
    let mut sets = Vec::new();
    for field in tme.iter_optional_meta() {
        match field.map_err(|e| e.to_string())? {
            OptionalMetadataField::EnumStrValue(values) => {
                for column in values.iter_values() {
                    let column = column.map_err(|e| e.to_string())?;
                    enums.push(
                        column
                            .values()
                            .iter()
                            .map(|v| v.value_raw().to_vec())
                            .collect(),
                    );
                }
            }
            OptionalMetadataField::SetStrValue(values) => {
                for column in values.iter_values() {
                    let column = column.map_err(|e| e.to_string())?;
                    sets.push(
                        column
                            .values()
                            .iter()
                            .map(|v| v.value_raw().to_vec())
                            .collect(),
                    );
                }
            }
            _ => {}
        }
    }
    Ok((enums.into_iter(), sets.into_iter()))
}
