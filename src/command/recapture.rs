//! `binlog-relay schema recapture`: replaces the schema history with a new capture valid
//! from the checkpoint. The operator's way out when a table is unknown.

use std::process::ExitCode;

use tracing::info;

use crate::checkpoint::CheckpointStore;
use crate::config::Config;
use crate::error::Error;
use crate::pipeline::leader::with_exclusive_state;
use crate::pipeline::schema_start;
use crate::pipeline::startup::check_same_server;
use crate::pipeline::state::State;
use crate::position::BinlogPosition;
use crate::schema::catalog::TableEntry;
use crate::source::BinlogSource;

/// What a recapture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recaptured {
    /// The position the new history starts at: the checkpoint's.
    pub position: BinlogPosition,
    pub tables: usize,
    /// Tables still unknown at that position (changed between it and the capture).
    pub unknown: usize,
}

/// The command: recaptures and says what it found.
pub fn command(file: &super::ConfigFile, trust_current: bool) -> ExitCode {
    super::one_shot(
        file,
        async move |config| recapture(&config, trust_current).await,
        |done| {
            info!(position = %done.position, tables = done.tables, unknown = done.unknown, "schema recaptured");
            println!(
                "schema recaptured for {}: {} tables, {} of them changed since and unknown until the capture point",
                done.position, done.tables, done.unknown
            );
        },
    )
}

/// Replaces the schema history with a new capture valid from the checkpoint. With
/// `trust_current`, tables changed since the checkpoint are taken as they are now.
pub async fn recapture(config: &Config, trust_current: bool) -> Result<Recaptured, Error> {
    // Not while a daemon runs on this state: it follows the history it would replace.
    with_exclusive_state(config, async |state| {
        recapture_held(config, trust_current, state).await
    })
    .await
}

async fn recapture_held(
    config: &Config,
    trust_current: bool,
    state: &State,
) -> Result<Recaptured, Error> {
    let source = BinlogSource::new(&config.source);
    let server = source.check_server().await?;
    let store = state.checkpoint_store()?;
    let position = match store.load()? {
        Some(cp) => {
            check_same_server(&cp, &server)?;
            cp.position
        }
        None => return Err(Error::NoCheckpointToRecapture),
    };
    let tracked = schema_start::capture_for(
        &source,
        &server,
        &position,
        state.history_store(),
        trust_current,
    )
    .await?;
    source.close().await;
    let catalog = tracked.catalog();
    let entries = catalog.databases.values().flat_map(|d| d.tables.values());
    let (mut tables, mut unknown) = (0, 0);
    for entry in entries {
        tables += 1;
        if matches!(entry, TableEntry::Unknown { .. }) {
            unknown += 1;
        }
    }
    Ok(Recaptured {
        position,
        tables,
        unknown,
    })
}
