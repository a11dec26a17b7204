//! Start-up: everything streaming needs, found before the stream opens.
//!
//! Checks the server, loads the checkpoint (following a failover by GTID when the source is
//! another server), decides where to start without one, finds the GTID state there, opens
//! or captures the schema, saves the first checkpoint, resolves `--stop-at`, and builds the
//! reader. What it returns is all [`super::stream`] needs; nothing here reads the stream.

use std::sync::Arc;

use tracing::{info, warn};

use super::reader::Reader;
use super::{StopAt, failover, schema_start};
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::config::Config;
use crate::error::Error;
use crate::metrics::METRICS;
use crate::position::BinlogPosition;
use crate::schema::catalog::{Catalog, TableEntry};
use crate::schema::history::{HistoryStore, TrackedSchema};
use crate::source::gtid::GtidState;
use crate::source::{BinlogSource, ServerInfo, StartFrom};

/// What start-up found.
pub enum Startup<P> {
    /// The start is already at or past `--stop-at`: nothing to stream. The checkpoint is
    /// the start.
    AtStop(Checkpoint),
    /// Ready to stream.
    Ready(Box<Ready<P>>),
}

/// Everything streaming needs.
pub struct Ready<P> {
    pub server: ServerInfo,
    /// Where the stream opens.
    pub start: BinlogPosition,
    /// What the checkpoint store holds now: the publisher's starting point.
    pub checkpoint: Checkpoint,
    /// The reader, positioned at `start`, with its schema, filter, options and GTID state.
    pub reader: Reader<P>,
}

/// Finds where and how to start. `history` makes a handle on the schema history store
/// (each call a new one, as the store is taken by value).
pub async fn prepare<C, H>(
    config: &Config,
    source: &BinlogSource,
    store: &mut C,
    mut history: impl FnMut() -> H,
    stop_at: Option<StopAt>,
) -> Result<Startup<TrackedSchema<H>>, Error>
where
    C: CheckpointStore,
    H: HistoryStore,
{
    let server = source.check_server().await?;
    METRICS.source_connected.set(1);
    info!(version = %server.version, server_id = server.server_id, "source server checked");

    let saved = match store.load()? {
        Some(cp) if config.source.gtid_mode && check_same_server(&cp, &server).is_err() => {
            Some(failover::follow(source, &server, cp, store, &mut history).await?)
        }
        other => other,
    };
    let (start, mut checkpoint) = match &saved {
        Some(cp) => {
            check_same_server(cp, &server)?;
            source.check_available(&cp.position).await?;
            info!(position = %cp.position, "resuming from checkpoint");
            (cp.position.clone(), cp.clone())
        }
        None => {
            let start = start_without_checkpoint(config, source, &server).await?;
            info!(position = %start, from = %config.source.start, "no checkpoint; starting");
            // Saved once the schema for it is captured, below.
            let checkpoint =
                Checkpoint::new(start.clone(), server.server_id, server.server_uuid.clone());
            (start, checkpoint)
        }
    };
    // The GTID position (MariaDB) or executed GTID set (MySQL) is followed alongside the
    // file and offset, so the checkpoint names its point in a form every server of the
    // topology knows (source.gtid_mode). Taken before the stream opens: finding the MySQL
    // set reads the binlog on a connection registered with the same replica server_id.
    let saved_gtids = saved
        .as_ref()
        .and_then(|cp| cp.gtid_position.as_deref())
        .and_then(|text| GtidState::parse(text, &server));
    let gtids = match saved_gtids {
        Some(state) => Some(state),
        None => source.gtids_at(&start, &server).await?,
    };
    if saved.is_none() {
        checkpoint.gtid_position = gtids.as_ref().map(ToString::to_string);
    }

    // Before the stream opens: a first capture reads ahead in the binlog on a connection
    // that registers with the same replica server_id, and the server allows one at a time.
    let mut schema =
        schema_start::open(source, &server, &start, saved.is_some(), &mut history).await?;
    let mut filter = config.filter.compile()?;
    // Maxwell's schema database is where bootstrap requests live (`schema_database`).
    filter.set_maxwell_schema(&config.bootstrap.database);
    if config.checkpoint.store == crate::checkpoint::StoreKind::Database {
        // Our own checkpoint and history writes are in the binlog too.
        filter.blacklist_database(&config.checkpoint.database);
    }
    let filter = Arc::new(filter);
    let blacklist = filter.clone();
    schema.untrack(Box::new(move |db, table| {
        blacklist.is_blacklisted(db, table)
    }));
    if saved.is_none() && config.bootstrap.initial && stop_at.is_none() {
        // Before the first checkpoint: a crash in between starts over and asks again
        // (tables already asked for are skipped), rather than stream without them.
        let (tables, requested) =
            super::bootstrap::request_every_table(config, source, &filter).await?;
        info!(
            tables,
            requested, "first start: initial snapshot requested (bootstrap.initial)"
        );
    }
    if saved.is_none() {
        // Record the starting point at once, as Maxwell does: a crash before the first
        // transaction must not turn "latest" into a later position on restart. Only now,
        // with the schema history for it on disk: a checkpoint always has its history.
        store.save(&checkpoint)?;
        METRICS.checkpoint_saved(&checkpoint.position);
    }
    let stop_at = match stop_at {
        None => None,
        Some(StopAt::Now) => Some(source.current_position().await?),
        Some(StopAt::At(p)) => {
            let now = source.current_position().await?;
            if !now.reached(&p) {
                warn!(stop_at = %p, server_position = %now, "the stop position is beyond what the server has written; waiting until it gets there");
            }
            Some(p)
        }
    };
    if let Some(stop) = &stop_at
        && start.reached(stop)
    {
        info!(position = %start, stop_at = %stop, "already at the stop position");
        return Ok(Startup::AtStop(checkpoint));
    }

    let masking = config.masking.compile(|name| std::env::var(name).ok())?;
    if !masking.is_empty() {
        for problem in masking.unmatched(known_tables(schema.catalog())) {
            warn!("{problem}; check the names in [masking]");
        }
    }
    let options = config.output.compile_with(masking)?;
    let reader = Reader::new(
        schema,
        Arc::new(options),
        start.clone(),
        server.server_id,
        stop_at,
    )
    .with_limits(&config.transactions)
    .with_server_uuid(server.server_uuid.clone())
    .with_filter(filter)
    .with_gtids(gtids)
    .with_bootstrap_progress(checkpoint.bootstrap.clone());
    Ok(Startup::Ready(Box::new(Ready {
        server,
        start,
        checkpoint,
        reader,
    })))
}

/// Where `source.start` says to begin when there is no checkpoint.
async fn start_without_checkpoint(
    config: &Config,
    source: &BinlogSource,
    server: &ServerInfo,
) -> Result<BinlogPosition, Error> {
    Ok(match &config.source.start {
        StartFrom::Latest => source.current_position().await?,
        StartFrom::Earliest => source.earliest_position().await?,
        StartFrom::At(p) => p.clone(),
        StartFrom::Maxwell(state) => {
            match source.maxwell_position(state, server.server_id).await? {
                Some(p) => {
                    source.check_available(&p).await?;
                    info!(position = %p, client_id = %state.client_id, "continuing where Maxwell stopped");
                    p
                }
                None => {
                    info!(database = %state.database, "no Maxwell state on the source server; starting at its current position");
                    source.current_position().await?
                }
            }
        }
    })
}

/// Refuses a checkpoint taken on another server: its binlog positions mean nothing here.
/// The server_id must match, and the server_uuid too when both sides have one (MySQL).
pub fn check_same_server(cp: &Checkpoint, server: &ServerInfo) -> Result<(), Error> {
    let uuid_differs = matches!(
        (&cp.server_uuid, &server.server_uuid),
        (Some(a), Some(b)) if a != b
    );
    if cp.server_id != server.server_id || uuid_differs {
        let describe = |id: u32, uuid: &Option<String>| match uuid {
            Some(u) => format!("server_id {id}, server_uuid {u}"),
            None => format!("server_id {id}"),
        };
        return Err(Error::ServerChanged {
            checkpoint: describe(cp.server_id, &cp.server_uuid),
            server: describe(server.server_id, &server.server_uuid),
        });
    }
    Ok(())
}

/// Each known table's database, name and column names, for start-up checks.
fn known_tables(catalog: &Catalog) -> impl Iterator<Item = (&str, &str, Vec<&str>)> + Clone {
    catalog.databases.iter().flat_map(|(db, database)| {
        database
            .tables
            .iter()
            .filter_map(move |(name, entry)| match entry {
                TableEntry::Known(def) => Some((
                    db.as_str(),
                    name.as_str(),
                    def.columns.iter().map(|c| c.name.as_str()).collect(),
                )),
                TableEntry::Unknown { .. } => None,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: u32, uuid: Option<&str>) -> ServerInfo {
        ServerInfo {
            version: "8.4.0".into(),
            is_mariadb: false,
            server_id: id,
            binlog_row_image: "FULL".into(),
            server_uuid: uuid.map(str::to_owned),
        }
    }

    fn checkpoint(id: u32, uuid: Option<&str>) -> Checkpoint {
        Checkpoint::new(
            BinlogPosition::new("binlog.000001", 4),
            id,
            uuid.map(str::to_owned),
        )
    }

    #[test]
    fn a_checkpoint_from_another_server_is_refused() {
        let a = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let b = "8a94f357-aab4-11df-86ab-c80aa9429563";
        assert!(check_same_server(&checkpoint(1, Some(a)), &server(1, Some(a))).is_ok());
        // MariaDB, or a checkpoint written before the uuid was recorded.
        assert!(check_same_server(&checkpoint(1, None), &server(1, Some(a))).is_ok());
        assert!(check_same_server(&checkpoint(1, None), &server(1, None)).is_ok());
        // A rebuilt server that kept its server_id but not its uuid.
        let err = check_same_server(&checkpoint(1, Some(a)), &server(1, Some(b)))
            .unwrap_err()
            .to_string();
        assert!(err.contains(a) && err.contains(b), "{err}");
        assert!(err.contains("positions set"), "{err}");
        let err = check_same_server(&checkpoint(1, None), &server(2, None))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("server_id 1") && err.contains("server_id 2"),
            "{err}"
        );
    }
}
