//! `binlog-relay run`: the daemon. Signals, the HTTP endpoint and systemd notification
//! around the pipeline, and the outcome as an exit code.

use std::process::ExitCode;

use tracing::{error, info, warn};

use crate::pipeline::{self, Outcome, StopAt};
use crate::shutdown::{self, Forced, Shutdown};

/// Runs until stopped, `--stop-at`, or an error the operator must fix.
pub fn command(file: &super::ConfigFile, stop_at: Option<StopAt>) -> ExitCode {
    // Validate everything before starting a runtime or connecting anywhere.
    let config = match super::load_config(file) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // One writer per state directory, for the life of the process
    // (declared before the runtime, so released after its last task).
    // With the database store the leader lock on the server is that guarantee, and
    // instances on one host may share the directory.
    let dir_lock = match config.checkpoint.store {
        crate::checkpoint::StoreKind::File => {
            crate::checkpoint::DirLock::acquire(&config.checkpoint.dir).map(Some)
        }
        crate::checkpoint::StoreKind::Database => Ok(None),
    };
    let _lock = match dir_lock {
        Ok(lock) => lock,
        Err(e) => {
            let e = crate::Error::from(e);
            error!(error = %e, "cannot start");
            eprintln!("binlog-relay: {e}");
            return super::exit_code(&e);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("binlog-relay: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.sink.kind == crate::sink::SinkKind::Rabbitmq {
        for node in config.sink.rabbitmq.plaintext_remote_nodes() {
            warn!(
                node = %node,
                "plain-text AMQP to a broker over the network: the password and every row cross it unencrypted; use amqps://"
            );
        }
    }
    let result = runtime.block_on(async {
        let (trigger, signal) = Shutdown::new();
        let deadline = config.shutdown.deadline();
        tokio::spawn(async move {
            let forced = shutdown::on_signals(trigger, deadline).await;
            let why = match forced {
                Forced::SecondSignal => "a second signal arrived",
                Forced::Deadline => "the shutdown deadline passed",
            };
            error!(reason = why, "exiting before outstanding confirms settled; the checkpoint holds only confirmed work, so the rest is sent again on the next start");
            eprintln!("binlog-relay: stopped early: {why}; unconfirmed messages will be sent again on the next start");
            std::process::exit(1);
        });
        if let Ok(Some(address)) = config.http.address() {
            let config_read_timeout_ms = config.source.read_timeout_ms;
            let listener = crate::http::bind(address)
                .await
                .map_err(crate::Error::from)?;
            let http = config.http.clone();
            tokio::spawn(async move {
                crate::http::serve(
                    listener,
                    crate::http::Readiness {
                        max_lag_seconds: http.ready_max_lag_seconds,
                        max_silence: std::time::Duration::from_millis(
                            config_read_timeout_ms,
                        ),
                    },
                    &http,
                )
                .await
            });
        }
        tokio::spawn(crate::systemd::notify());
        let outcome = pipeline::run(&config, stop_at, signal).await;
        crate::systemd::stopping();
        outcome
    });
    match result {
        Ok(Outcome::ReachedStop(cp)) => {
            info!(position = %cp.position, "stopped at the requested position");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Stopped(cp) | Outcome::Ended(cp)) => {
            match cp {
                Some(cp) => info!(position = %cp.position, "stopped; checkpoint saved"),
                None => info!("stopped before any transaction was confirmed"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!(error = %e, "stopping on error");
            eprintln!("binlog-relay: {e}");
            super::exit_code(&e)
        }
    }
}
