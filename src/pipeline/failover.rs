//! Following a failover: the source is now another server of the replication topology.
//!
//! A checkpoint's binlog file and offset belong to the server that wrote them; a promoted
//! replica has other files. Its MariaDB GTID position names the same point everywhere, so
//! with `source.gtid_mode` the daemon finds that point in the new server's binlog, carries
//! the schema history over (the catalog as of the checkpoint becomes the new history's
//! base there), moves the checkpoint, and goes on as after any restart.

use tracing::warn;

use super::startup::check_same_server;
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::error::Error;
use crate::schema::SchemaError;
use crate::schema::history::{Base, HistoryStore, TrackedSchema};
use crate::source::gtid::GtidPosition;
use crate::source::{BinlogSource, ServerInfo};

/// Moves `cp`, taken on another server, to the same point on `server`, or says why not.
/// `history` makes handles on the schema history store.
pub async fn follow<H: HistoryStore>(
    source: &BinlogSource,
    server: &ServerInfo,
    cp: Checkpoint,
    store: &mut impl CheckpointStore,
    mut history: impl FnMut() -> H,
) -> Result<Checkpoint, Error> {
    if !server.is_mariadb {
        return Err(Error::FailoverNeedsMariadb {
            gtid_set: cp.gtid_position.clone().unwrap_or_default(),
        });
    }
    let gtid = cp.gtid_position.as_deref().and_then(GtidPosition::parse);
    let Some(gtid) = gtid else {
        // Without a GTID position there is nothing to follow by.
        check_same_server(&cp, server)?;
        return Ok(cp);
    };
    let position = source.position_of_gtid(&gtid).await?;
    let schema_error = |e| Error::Schema {
        position: cp.position.clone(),
        source: Box::new(SchemaError::History(Box::new(e))),
    };
    let before = TrackedSchema::resume(history(), &cp.position, cp.server_id)
        .map_err(schema_error)?
        .ok_or(Error::NoHistoryToFollow)?;
    let base = Base {
        position: position.clone(),
        server_id: server.server_id,
        catalog: before.catalog().clone(),
    };
    TrackedSchema::create(history(), base, Vec::new()).map_err(schema_error)?;
    let moved = Checkpoint::new(position, server.server_id, server.server_uuid.clone())
        .with_gtid(cp.gtid.clone())
        .with_gtid_position(Some(gtid.to_string()))
        // The rows, and so the bootstrap's key walk, are the same on every server.
        .with_bootstrap(cp.bootstrap.clone());
    store.save(&moved)?;
    warn!(
        gtid_position = %gtid,
        from_server_id = cp.server_id,
        from = %cp.position,
        to_server_id = server.server_id,
        to = %moved.position,
        "the source is another server than the checkpoint's; continuing from the same GTID position in its binlog"
    );
    Ok(moved)
}
