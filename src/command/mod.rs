//! The `binlog-relay` subcommands: each loads its configuration, runs on its own runtime,
//! prints what the operator asked for, and turns the result into an exit code. `main.rs`
//! only parses the command line and calls one of these.
//!
//! Exit codes: 0 for success (and a clean stop), 2 for invalid configuration, 3 when the
//! binlog file the checkpoint points into was purged, 1 for anything else.

pub mod bootstrap;
pub mod check;
pub mod from_maxwell;
pub mod health;
pub mod positions;
pub mod recapture;
pub mod run;
pub mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use tracing::{error, warn};

use crate::config::Config;
use crate::error::Error;

/// Where a command's configuration comes from: our TOML, or a Maxwell
/// `config.properties`. `BINLOG_RELAY__SECTION__KEY` variables override either.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    pub toml: Option<PathBuf>,
    pub maxwell: Option<PathBuf>,
}

/// Loads and checks the configuration; on failure says why and gives exit code 2.
pub fn load_config(file: &ConfigFile) -> Result<Config, ExitCode> {
    let loaded = match &file.maxwell {
        Some(path) => Config::load_maxwell(path).map(|(config, translation)| {
            for w in translation.warnings {
                warn!(option = %w.key, "Maxwell option has no effect: {}", w.message);
            }
            config
        }),
        None => Config::load(file.toml.as_deref()),
    };
    loaded.map_err(|e| {
        error!(error = %e, "invalid configuration");
        eprintln!("binlog-relay: {e}");
        ExitCode::from(2)
    })
}

/// The exit code for an error that ended a command.
pub fn exit_code(e: &Error) -> ExitCode {
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
}

/// A runtime on the current thread, for commands that do one thing.
fn small_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    // Two workers: the database state store blocks one while it waits on the server.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("binlog-relay: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

/// Loads the configuration, runs `work` on a small runtime, and calls `done` with what it
/// returned; an error is logged, printed and mapped to its exit code.
fn one_shot<T>(
    file: &ConfigFile,
    work: impl AsyncFnOnce(Config) -> Result<T, Error>,
    done: impl FnOnce(T),
) -> ExitCode {
    let config = match load_config(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let runtime = match small_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(work(config)) {
        Ok(value) => {
            done(value);
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!(error = %e, "failed");
            eprintln!("binlog-relay: {e}");
            exit_code(&e)
        }
    }
}
