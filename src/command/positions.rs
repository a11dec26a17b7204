//! `binlog-relay positions show|set|copy-to-database|export-maxwell`: the operator's view
//! of the checkpoint, the way to move it (with the daemon stopped), for example after the
//! binlog it points into was purged, and the way back to Maxwell.

use std::process::ExitCode;

use crate::checkpoint::{Checkpoint, CheckpointStore, FileStore, StoreKind};
use crate::config::Config;
use crate::error::Error;
use crate::pipeline::leader::{self, with_exclusive_state};
use crate::pipeline::schema_start;
use crate::pipeline::state::State;
use crate::position::{BinlogPosition, FIRST_EVENT_OFFSET};
use crate::schema::history::HistoryStore as _;
use crate::source::{BinlogSource, MaxwellExport, MaxwellPositionRow, SourceError};

/// `positions show`: prints the checkpoint and the server's binlog files.
pub fn show_command(file: &super::ConfigFile) -> ExitCode {
    super::one_shot(file, async |config| show(&config).await, print_positions)
}

/// `positions set FILE:POS`: moves the checkpoint and says where it now is.
pub fn set_command(
    file: &super::ConfigFile,
    position: BinlogPosition,
    bootstrap: bool,
) -> ExitCode {
    super::one_shot(
        file,
        async move |config| {
            let checkpoint = set(&config, &position).await?;
            let requested = if bootstrap {
                // After the checkpoint moved: the daemon runs them from there, merging
                // each chunk with the changes it streams (docs/bootstrap.md).
                let source = BinlogSource::new(&config.source);
                let filter = config.filter.compile()?;
                let requested =
                    crate::pipeline::bootstrap::request_every_table(&config, &source, &filter)
                        .await;
                source.close().await;
                Some(requested?)
            } else {
                None
            };
            Ok::<_, Error>((checkpoint, requested))
        },
        |(cp, requested)| {
            println!(
                "checkpoint set to {} on server_id {}",
                cp.position, cp.server_id
            );
            if let Some((tables, written)) = requested {
                println!(
                    "bootstrap requested for {written} of the {tables} tables the filter passes (the others were already waiting); start the daemon to run them, and follow them with `binlog-relay bootstrap --status`"
                );
            }
        },
    )
}

/// `positions copy-to-database`: the file store's state into the database store.
pub fn copy_command(file: &super::ConfigFile) -> ExitCode {
    super::one_shot(
        file,
        async |config| leader::copy_files_to_database(&config).await,
        |cp| {
            println!(
                "checkpoint {} and its schema history copied into the database store; start the instances",
                cp.position
            )
        },
    )
}

fn print_positions(p: Positions) {
    if let Some(leader) = &p.leader {
        println!("leader: {leader}");
    }
    match &p.checkpoint {
        Some(cp) => {
            let available = if p.checkpoint_available() == Some(true) {
                "on the server"
            } else {
                "NOT on the server any more (purged?)"
            };
            println!("checkpoint: {} ({available})", cp.position);
            if let Some(gtid) = &cp.gtid {
                println!("checkpoint gtid: {gtid}");
            }
            if let Some(gtid) = &cp.gtid_position {
                println!("checkpoint gtid position: {gtid}");
            }
            println!("checkpoint server_id: {}", cp.server_id);
            if let Some(uuid) = &cp.server_uuid {
                println!("checkpoint server_uuid: {uuid}");
            }
        }
        None => println!("checkpoint: none"),
    }
    println!("server server_id: {}", p.server_id);
    println!("server position now: {}", p.current);
    for (file, size) in &p.files {
        println!("binlog file: {file} ({size} bytes)");
    }
}

/// What `positions show` reports.
#[derive(Debug, Clone)]
pub struct Positions {
    pub checkpoint: Option<Checkpoint>,
    /// With the database store: who leads (or "none").
    pub leader: Option<String>,
    /// The server's binlog files, oldest first, with their sizes.
    pub files: Vec<(String, u64)>,
    /// Where the server writes now.
    pub current: BinlogPosition,
    pub server_id: u32,
}

impl Positions {
    /// Whether the server still has the checkpoint's file.
    pub fn checkpoint_available(&self) -> Option<bool> {
        let cp = self.checkpoint.as_ref()?;
        Some(self.files.iter().any(|(f, _)| *f == cp.position.file))
    }
}

/// Reads the checkpoint and the server's binlog files.
pub async fn show(config: &Config) -> Result<Positions, Error> {
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    let (checkpoint, leader) = match config.checkpoint.store {
        StoreKind::File => (FileStore::open(&config.checkpoint.dir)?.load()?, None),
        StoreKind::Database => {
            // Read on an ordinary session: no lock needed to look.
            let mut conn = source.conn().await?;
            let row = crate::checkpoint::database::read(
                &mut conn,
                &config.checkpoint.database,
                &config.checkpoint.client_id,
            )
            .await?;
            let leader = match &row {
                Some(r) if !r.leader.is_empty() => format!(
                    "{} (connection {}, since {})",
                    r.leader,
                    r.leader_connection.map_or("?".into(), |c| c.to_string()),
                    r.leader_since.as_deref().unwrap_or("?")
                ),
                _ => "none recorded".into(),
            };
            (row.and_then(|r| r.checkpoint), Some(leader))
        }
    };
    let positions = Positions {
        checkpoint,
        leader,
        files: source.binlog_files().await?,
        current: source.current_position().await?,
        server_id: server.server_id,
    };
    source.close().await;
    Ok(positions)
}

/// Moves the checkpoint to `position` on this server and captures the schema for it. The
/// position must be the start of an event (as `SHOW BINLOG EVENTS` lists them) in a file
/// the server has.
pub async fn set(config: &Config, position: &BinlogPosition) -> Result<Checkpoint, Error> {
    // Not while a daemon runs on this state: it would overwrite the new checkpoint.
    with_exclusive_state(config, async |state| {
        set_held(config, position, state).await
    })
    .await
}

async fn set_held(
    config: &Config,
    position: &BinlogPosition,
    state: &State,
) -> Result<Checkpoint, Error> {
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    let files = source.binlog_files().await?;
    let Some((_, size)) = files.iter().find(|(f, _)| *f == position.file) else {
        return Err(Error::Source(SourceError::PositionUnavailable {
            position: position.clone(),
            message: format!(
                "the server has no binlog file of that name (it has {})",
                files
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    };
    if position.offset < FIRST_EVENT_OFFSET || position.offset > *size {
        return Err(Error::Source(SourceError::PositionUnavailable {
            position: position.clone(),
            message: format!("the file is {size} bytes long"),
        }));
    }
    let mut store = state.checkpoint_store()?;
    schema_start::capture_for(&source, &server, position, state.history_store(), false).await?;
    let checkpoint = Checkpoint::new(
        position.clone(),
        server.server_id,
        server.server_uuid.clone(),
    )
    .with_gtid_position(
        source
            .gtids_at(position, &server)
            .await?
            .map(|state| state.to_string()),
    );
    store.save(&checkpoint)?;
    source.close().await;
    Ok(checkpoint)
}

/// `positions export-maxwell`: the roll-back. Writes the checkpoint into Maxwell's
/// `positions` table as Maxwell's own position store writes it, so that Maxwell, started
/// again, resumes exactly where binlog-relay stopped.
pub fn export_maxwell_command(file: &super::ConfigFile) -> ExitCode {
    super::one_shot(
        file,
        async |config| export_maxwell(&config).await,
        print_hand_back,
    )
}

/// What `export-maxwell` wrote, and what Maxwell will need to know about the schema.
#[derive(Debug)]
pub struct HandBack {
    pub database: String,
    pub export: MaxwellExport,
    /// Schema statements binlog-relay followed after Maxwell's newest stored schema and
    /// before the checkpoint (position, statement): Maxwell's schema lacks them.
    pub schema_changes: Vec<(BinlogPosition, String)>,
}

/// Hands the checkpoint to Maxwell (its `schema_database` and `client_id` are
/// `bootstrap.database` and `bootstrap.client_id`, as `config from-maxwell` writes them).
/// Holds the state meanwhile, so no daemon moves the checkpoint under it.
pub async fn export_maxwell(config: &Config) -> Result<HandBack, Error> {
    with_exclusive_state(config, async |state| {
        let checkpoint = state
            .checkpoint_store()?
            .load()?
            .ok_or(Error::NothingToExport)?;
        let source = BinlogSource::new(&config.source);
        let result = async {
            let server = source.check_server().await?;
            let gtid_mode = config.source.gtid_mode;
            if !gtid_mode && checkpoint.server_id != server.server_id {
                return Err(Error::ExportServerChanged {
                    checkpoint: checkpoint.server_id,
                    server: server.server_id,
                });
            }
            let gtid_set = if gtid_mode {
                Some(
                    checkpoint
                        .gtid_position
                        .clone()
                        .ok_or(Error::ExportNeedsGtid)?,
                )
            } else {
                None
            };
            let maxwell = crate::source::MaxwellState {
                database: config.bootstrap.database.clone(),
                client_id: config.bootstrap.client_id.clone(),
            };
            let row = MaxwellPositionRow {
                server_id: if gtid_mode { 0 } else { server.server_id },
                client_id: maxwell.client_id.clone(),
                binlog_file: checkpoint.position.file.clone(),
                binlog_position: checkpoint.position.offset,
                gtid_set,
                last_heartbeat_read: 0,
            };
            let export = source
                .export_maxwell_position(&maxwell, row, server.server_id)
                .await?;
            let history = state
                .history_store()
                .load()
                .map_err(|e| schema_start::history_error(&checkpoint.position, e))?;
            let schema_changes = schema_changes_since(
                history,
                export.schema_position.as_ref(),
                export.previous.as_ref(),
                &checkpoint.position,
            );
            Ok(HandBack {
                database: maxwell.database,
                export,
                schema_changes,
            })
        }
        .await;
        source.close().await;
        result
    })
    .await
}

/// What binlog-relay's schema history holds that Maxwell's stored schema (at
/// `maxwell_schema`) cannot know, up to `until`: every change after it (statements, tables
/// re-read from the binlog, recaptures), and a base captured after the point Maxwell had
/// reached (`maxwell_stopped`): the history was started or replaced there, so what changed
/// in between is unknown. No history at all counts as unknown too.
fn schema_changes_since(
    history: Option<crate::schema::history::History>,
    maxwell_schema: Option<&BinlogPosition>,
    maxwell_stopped: Option<&BinlogPosition>,
    until: &BinlogPosition,
) -> Vec<(BinlogPosition, String)> {
    let after_maxwell = |at: &BinlogPosition| maxwell_schema.is_none_or(|m| at.reached(m));
    let Some(history) = history else {
        return vec![(
            until.clone(),
            "(no schema history in the checkpoint's state)".into(),
        )];
    };
    let mut changes = Vec::new();
    // Maxwell's schema holds every change up to where it stopped.
    let known_until = match (maxwell_schema, maxwell_stopped) {
        (Some(a), Some(b)) => Some(if a.reached(b) { a } else { b }),
        (a, b) => a.or(b),
    };
    if known_until.is_some_and(|k| history.base.position.cmp_sequence(k).is_gt()) {
        changes.push((
            history.base.position.clone(),
            "(schema captured here by binlog-relay)".into(),
        ));
    }
    changes.extend(
        history
            .entries
            .into_iter()
            .filter(|e| !e.position.reached(until) && after_maxwell(&e.position))
            .map(|e| {
                let what = match e.origin {
                    _ if !e.statement.is_empty() => e.statement,
                    crate::schema::history::Origin::TableMap => {
                        "(a table re-read from the binlog's column names)".into()
                    }
                    _ => "(the schema captured again)".into(),
                };
                (e.position, what)
            }),
    );
    changes
}

fn print_hand_back(h: HandBack) {
    let r = &h.export.row;
    println!(
        "Maxwell's position for client_id {:?} set in `{}`.positions: server_id {}, {}:{}, gtid_set {}, last_heartbeat_read {}",
        r.client_id,
        h.database,
        r.server_id,
        r.binlog_file,
        r.binlog_position,
        r.gtid_set.as_deref().unwrap_or("NULL"),
        r.last_heartbeat_read
    );
    match (&h.export.schema_position, h.schema_changes.first()) {
        (_, Some(_)) => {
            println!(
                "Maxwell's stored schema predates {} schema change(s) binlog-relay followed. Start Maxwell the first time with recapture_schema=true, before any other schema change, so that it reads the tables as they are now. The changes:",
                h.schema_changes.len()
            );
            const SHOWN: usize = 10;
            for (at, what) in h.schema_changes.iter().take(SHOWN) {
                println!("  {at}: {what}");
            }
            if h.schema_changes.len() > SHOWN {
                println!("  ... and {} more", h.schema_changes.len() - SHOWN);
            }
        }
        (None, None) => println!(
            "Maxwell has no stored schema for this server: it captures the tables as they are when it starts"
        ),
        (Some(at), None) => println!(
            "Maxwell's stored schema (at {at}) is current: binlog-relay followed no schema change since"
        ),
    }
    println!(
        "Stop binlog-relay for good before starting Maxwell: both would publish the same rows"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::catalog::Catalog;
    use crate::schema::history::{Base, Entry, History, Origin};

    fn at(offset: u64) -> BinlogPosition {
        BinlogPosition::new("bin.000002", offset)
    }

    fn history(base: u64, entries: &[(u64, Origin, &str)]) -> History {
        History {
            base: Base {
                position: at(base),
                server_id: 1,
                catalog: Catalog::default(),
            },
            entries: entries
                .iter()
                .map(|&(offset, origin, statement)| Entry {
                    position: at(offset),
                    origin,
                    statement: statement.into(),
                    changes: Vec::new(),
                })
                .collect(),
        }
    }

    fn offsets(changes: &[(BinlogPosition, String)]) -> Vec<u64> {
        changes.iter().map(|(p, _)| p.offset).collect()
    }

    #[test]
    fn maxwell_is_told_what_its_stored_schema_lacks() {
        let h = || {
            history(
                100,
                &[
                    (150, Origin::Ddl, "ALTER TABLE a ADD x INT"),
                    (250, Origin::TableMap, ""),
                    (300, Origin::Ddl, "DROP TABLE b"),
                    (900, Origin::Ddl, "CREATE TABLE late (id INT)"),
                ],
            )
        };
        let since = |h, schema: Option<u64>, stopped: Option<u64>| {
            schema_changes_since(
                h,
                schema.map(at).as_ref(),
                stopped.map(at).as_ref(),
                &at(800),
            )
        };
        // Maxwell's schema at 200, stopped at 200: what binlog-relay followed after it, up
        // to the checkpoint (800), counts; a change past the checkpoint does not.
        let changes = since(Some(h()), Some(200), Some(200));
        assert_eq!(offsets(&changes), [250, 300]);
        assert!(changes[0].1.contains("re-read"), "{changes:?}");
        // Nothing after Maxwell's schema: current.
        assert!(since(Some(h()), Some(400), Some(400)).is_empty());
        // binlog-relay's history begins after the point Maxwell had reached: what changed
        // in between is unknown, so it counts.
        let changes = since(Some(history(500, &[])), Some(100), Some(400));
        assert_eq!(offsets(&changes), [500]);
        assert!(changes[0].1.contains("captured"), "{changes:?}");
        // A history begun where Maxwell stopped, after its schema: nothing unknown.
        assert!(since(Some(history(400, &[])), Some(100), Some(400)).is_empty());
        // No Maxwell schema at all: everything counts. No history at all: unknown.
        assert_eq!(offsets(&since(Some(h()), None, None)), [150, 250, 300]);
        assert_eq!(since(None, Some(1), None).len(), 1);
    }
}
