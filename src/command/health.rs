//! `binlog-relay health`: one probe of a running daemon's endpoint, for a container's
//! `HEALTHCHECK` with no shell or curl in the image.

use std::process::ExitCode;
use std::time::Duration;

/// Asks `address` for `path`; exit code 0 on 200, 1 otherwise.
pub fn command(address: &str, path: &str, timeout: Duration) -> ExitCode {
    let runtime = match super::small_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let answer = runtime.block_on(crate::http::probe(address, path, timeout));
    match answer {
        Ok(200) => {
            println!("{path} on {address}: 200");
            ExitCode::SUCCESS
        }
        Ok(code) => {
            println!("{path} on {address}: {code}");
            ExitCode::FAILURE
        }
        Err(e) => {
            println!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
