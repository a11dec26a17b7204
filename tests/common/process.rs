//! The `binlog-relay` binary as a child process: start it, wait for it, read what it said.
//! Shared by the offline tests (configuration refused at start-up) and the live ones.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Starts the daemon; `env` adds environment variables.
pub fn spawn_daemon(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let config = config.to_string_lossy();
    let mut all = vec!["run", "--config", config.as_ref()];
    all.extend_from_slice(args);
    spawn_command(&all, env)
}

/// Runs `binlog-relay ARGS...` with extra environment variables.
pub fn spawn_command(args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_binlog-relay"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn binlog-relay")
}

/// Output of a finished daemon.
pub struct Finished {
    pub code: Option<i32>,
    pub stderr: String,
}

/// Waits for a child to exit on its own and collects what it printed.
pub async fn output_within(child: Child, timeout: Duration) -> std::process::Output {
    tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .expect("binlog-relay did not exit in time")
        .expect("wait for binlog-relay")
}

/// Waits for the daemon to exit on its own.
pub async fn wait(child: Child, timeout: Duration) -> Finished {
    let out = output_within(child, timeout).await;
    Finished {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
