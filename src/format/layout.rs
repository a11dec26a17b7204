//! A table prepared for rendering: every message's opening, each column's key, escaped
//! and renamed once per table map, and which columns are excluded or masked.

use std::sync::Arc;

use super::json::write_str;
use super::mask::Mask;
use super::options::OutputOptions;
use crate::table::Table;

/// A table prepared for rendering under one set of output options: column keys already
/// escaped and renamed, excluded columns marked. Built once per table map.
#[derive(Debug)]
pub struct TableLayout {
    pub table: Arc<Table>,
    /// `{"database":"..","table":".."`: every message's opening, escaped once.
    pub(super) head: Box<[u8]>,
    /// `"name":` for each column.
    pub(super) keys: Vec<Box<[u8]>>,
    pub(super) excluded: Vec<bool>,
    /// `["id","other"]`: the primary key's column names (never renamed, as in Maxwell).
    pub(super) pk_names: Box<[u8]>,
    /// Each column's mask, when a masking rule applies to the table.
    pub(super) masks: Option<Vec<Mask>>,
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

/// Appends `,"name":` (or `"name":` for the first field).
pub(super) fn write_field(out: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    write_str(out, name);
    out.push(b':');
}
