//! `binlog-relay config from-maxwell`: the TOML a Maxwell `config.properties` becomes,
//! printed only once it loads as `run` would load it.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;
use crate::config::maxwell::Secrets;

/// Prints the translation (passwords hidden unless `show_secrets`) and its warnings; exit
/// code 2 if the file cannot be carried over.
pub fn command(path: &Path, show_secrets: bool) -> ExitCode {
    let translation = match Config::load_maxwell(path) {
        Ok((_, translation)) => translation,
        Err(e) => {
            eprintln!("binlog-relay: {e}");
            return ExitCode::from(2);
        }
    };
    let secrets = if show_secrets {
        Secrets::Shown
    } else {
        Secrets::Hidden
    };
    print!("{}", translation.to_toml(secrets));
    for w in &translation.warnings {
        eprintln!("binlog-relay: warning: {w}");
    }
    ExitCode::SUCCESS
}
