//! QUERY events: transaction control, and statements for the schema provider (and DDL
//! messages, when `output.ddl` asks for them).

use mysql_common::binlog::events::QueryEvent;
use tracing::debug;

use super::Reader;
use crate::error::Error;
use crate::filter;
use crate::format::ddl::{DdlMeta, push_ddl};
use crate::metrics::METRICS;
use crate::pipeline::Delivery;
use crate::schema::SchemaProvider;
use crate::source::event::StatementKind;
use crate::source::query::statement_text;

impl<P: SchemaProvider> Reader<P> {
    /// A QUERY event: transaction control, or a statement for the schema history. The
    /// statement is classified on its lossy UTF-8 text (also what DDL messages carry); only
    /// statements that reach the schema history are decoded in the session's charset.
    pub(super) async fn query(
        &mut self,
        query: &QueryEvent<'_>,
        ts: u32,
    ) -> Result<Option<Delivery>, Error> {
        let sql = query.query();
        let sql = sql.as_ref();
        let trimmed = sql.trim();
        match StatementKind::classify(trimmed) {
            StatementKind::Begin => {
                self.begin(Some(query.thread_id()))?;
                return Ok(None);
            }
            // Non-transactional tables end their "transaction" with a COMMIT query, no XID.
            StatementKind::Commit => return self.commit(None).map(Some),
            StatementKind::Rollback => return self.rollback().map(Some),
            StatementKind::Savepoint | StatementKind::Comment => return Ok(None),
            StatementKind::Xa => {
                // XA rows are logged at PREPARE and committed (or rolled back) later, possibly
                // after other transactions; publishing them needs care this version lacks.
                return Err(self.malformed(
                    "XA transaction",
                    "XA transactions are not supported yet; binlog-relay stops rather than publish rows that may be rolled back or lose them",
                ));
            }
            StatementKind::Other => {}
        }
        let database = query.schema();
        let database = database.as_ref();
        debug!(statement = %crate::schema::ddl::without_literals(trimmed, 60, true), "statement outside rows events");
        // Anything else may change a table's shape: the schema provider follows it, and
        // is stored before anything after it is published. The server gives a changed
        // table a new table id, so cached table maps stay correct, but dropping them keeps
        // the cache from growing with every DDL.
        let schema_error = |source: crate::schema::SchemaError| {
            // A lost connection during a capture heals by itself: not a schema problem.
            if !source.is_transient() {
                METRICS.schema_errors.inc();
            }
            Error::Schema {
                position: self.event_start.clone(),
                source: Box::new(source),
            }
        };
        let version = self.provider.schema_id();
        let effects = match &statement_text(query) {
            Ok(text) => self
                .provider
                .statement(&self.event_start, database, text.trim())
                .await
                .map_err(schema_error)?,
            Err(lossy) => {
                self.provider
                    .unreadable_statement(&self.event_start, lossy)
                    .await
                    .map_err(schema_error)?;
                Vec::new()
            }
        };
        if let Some(boot) = self.bootstrap.as_mut() {
            for effect in &effects {
                let (db, table) = filter::ddl_subject(effect);
                boot.schema_changed(db, table);
            }
        }
        super::tables::count_schema_changes(version, self.provider.schema_id());
        self.tables.clear();
        if self.options.config.ddl {
            let meta = DdlMeta {
                ts: u64::from(ts),
                sql,
                position: &self.event_start,
                gtid: self.gtid.as_deref(),
                schema_id: self.provider.schema_id(),
            };
            for effect in &effects {
                let (db, table) = filter::ddl_subject(effect);
                if !self.filter.ddl_dropped(effect) && self.filter.includes_table(db, table) {
                    push_ddl(&mut self.pending_ddl, effect, &meta, &self.options);
                }
            }
        }
        if self.transaction.open {
            // MySQL 8 logs CREATE TABLE ... SELECT inside the transaction that fills the
            // table; its message goes out with that transaction.
            return Ok(None);
        }
        let mut delivery = self.position_only()?;
        delivery.batch = std::mem::take(&mut self.pending_ddl);
        Ok(Some(delivery))
    }
}
