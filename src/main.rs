//! The `binlog-relay` command: parses the command line, sets up logging, loads and checks the
//! configuration, runs the pipeline, and turns the result into an exit code. Everything else
//! lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use binlog_relay::config::Config;
use binlog_relay::pipeline::{self, Outcome, StopAt};
use binlog_relay::position::BinlogPosition;
use binlog_relay::shutdown::{self, Forced, Shutdown};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tracing::{error, info, warn};

/// Streams MySQL/MariaDB row changes to RabbitMQ as Maxwell-format JSON.
#[derive(Debug, Parser)]
#[command(name = "binlog-relay", version, about)]
struct Cli {
    /// Log format: human-readable lines, or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replicate: read the binlog and publish every row change.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Exit 0 once everything up to FILE:POS (or the server's position at start-up,
        /// `now`) is published, confirmed and checkpointed.
        #[arg(long, value_parser = parse_stop_at)]
        stop_at: Option<StopAt>,
    },
    /// Manage the schema history kept next to the checkpoint.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
    /// Check the source server, the broker and the checkpoint directory before starting:
    /// one line per item, with what to change for each failure. Exits 1 if any fails.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Inspect or move the checkpoint.
    Positions {
        #[command(subcommand)]
        action: PositionsAction,
    },
    /// Ask a running daemon's HTTP endpoint whether it is alive (/healthz) or ready
    /// (/readyz): exit 0 on 200, 1 otherwise. For container HEALTHCHECKs; needs no shell.
    Health {
        /// The daemon's http.listen address.
        #[arg(long, default_value = "127.0.0.1:9187")]
        address: String,
        /// /healthz (alive and answering) or /readyz (streaming, connected, caught up).
        #[arg(long, default_value = "/healthz")]
        path: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

/// Where the configuration comes from: our TOML, or a Maxwell `config.properties`.
#[derive(Debug, Args)]
struct ConfigArgs {
    /// TOML configuration file; BINLOG_RELAY__SECTION__KEY variables override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// A Maxwell config.properties to use as it is (see `config from-maxwell` for what it
    /// becomes); BINLOG_RELAY__SECTION__KEY variables still override.
    #[arg(long, conflicts_with = "config")]
    maxwell_config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print the TOML equivalent of a Maxwell config.properties, each key naming the Maxwell
    /// option it came from, and the options that have no effect. Exits 2 if an option cannot
    /// be carried over.
    FromMaxwell {
        /// The Maxwell config.properties.
        file: PathBuf,
        /// Write passwords into the output instead of ********.
        #[arg(long)]
        show_secrets: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PositionsAction {
    /// Print the checkpoint and the binlog files the server still has.
    Show {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Move the checkpoint to FILE:POS (the start of an event, as SHOW BINLOG EVENTS lists
    /// them) and capture the schema for it. Run it with the daemon stopped. Rows between the
    /// old and the new position are not published.
    Set {
        #[command(flatten)]
        config: ConfigArgs,
        position: BinlogPosition,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaAction {
    /// Replace the schema history with the server's current schema, valid from the
    /// checkpoint on. Tables changed since the checkpoint stay unknown up to the capture.
    /// Run it with the daemon stopped.
    Recapture {
        #[command(flatten)]
        config: ConfigArgs,
        /// Take every table as it is now for the whole range from the checkpoint on, even
        /// those a statement changed in between. Only when you know those changes did not
        /// touch columns (see docs/schema.md).
        #[arg(long)]
        trust_current: bool,
    },
}

fn parse_stop_at(s: &str) -> Result<StopAt, String> {
    if s == "now" {
        return Ok(StopAt::Now);
    }
    s.parse::<BinlogPosition>()
        .map(StopAt::At)
        .map_err(|e| format!("expected `now` or FILE:POS: {e}"))
}

fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Colour codes only for a terminal: journald, files and pipes get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `check` reports on stdout; the AMQP client's own errors about the probes it makes
    // (a missing exchange) are noise there.
    let default_filter = match cli.command {
        Command::Check { .. } => "warn,lapin=off",
        _ => "info",
    };
    init_logging(cli.log_format, default_filter);
    match cli.command {
        Command::Run { config, stop_at } => run(config, stop_at),
        Command::Schema {
            action:
                SchemaAction::Recapture {
                    config,
                    trust_current,
                },
        } => recapture(config, trust_current),
        Command::Check { config } => check(config),
        Command::Positions {
            action: PositionsAction::Show { config },
        } => positions_show(config),
        Command::Positions {
            action: PositionsAction::Set { config, position },
        } => positions_set(config, position),
        Command::Config {
            action: ConfigAction::FromMaxwell { file, show_secrets },
        } => from_maxwell(&file, show_secrets),
        Command::Health {
            address,
            path,
            timeout,
        } => health(&address, &path, timeout),
    }
}

/// Runs `work` on a small runtime and maps its error to the exit code.
fn one_shot<T>(
    config_path: ConfigArgs,
    work: impl AsyncFnOnce(Config) -> Result<T, binlog_relay::error::Error>,
    done: impl FnOnce(T),
) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map(|rt| rt.block_on(work(config)));
    match result {
        Ok(Ok(value)) => {
            done(value);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            error!(error = %e, "failed");
            eprintln!("binlog-relay: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("binlog-relay: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(config_path: ConfigArgs) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let items = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(binlog_relay::check::run(&config)),
        Err(e) => {
            eprintln!("binlog-relay: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    for item in &items {
        println!("{item}");
    }
    let failed = items
        .iter()
        .filter(|i| i.status == binlog_relay::check::Status::Fail)
        .count();
    if failed == 0 {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        println!("{failed} check(s) failed");
        ExitCode::FAILURE
    }
}

fn positions_show(config_path: ConfigArgs) -> ExitCode {
    one_shot(
        config_path,
        async |config| pipeline::positions::show(&config).await,
        |p| {
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
        },
    )
}

fn positions_set(config_path: ConfigArgs, position: BinlogPosition) -> ExitCode {
    one_shot(
        config_path,
        async move |config| pipeline::positions::set(&config, &position).await,
        |cp| {
            println!(
                "checkpoint set to {} on server_id {}",
                cp.position, cp.server_id
            )
        },
    )
}

fn load_config(args: ConfigArgs) -> Result<Config, ExitCode> {
    let loaded = match &args.maxwell_config {
        Some(path) => Config::load_maxwell(path).map(|(config, translation)| {
            for w in translation.warnings {
                warn!(option = %w.key, "Maxwell option has no effect: {}", w.message);
            }
            config
        }),
        None => Config::load(args.config.as_deref()),
    };
    loaded.map_err(|e| {
        error!(error = %e, "invalid configuration");
        eprintln!("binlog-relay: {e}");
        ExitCode::from(2)
    })
}

/// `health`: one probe of a running daemon.
fn health(address: &str, path: &str, timeout: u64) -> ExitCode {
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|rt| {
            rt.block_on(binlog_relay::http::probe(
                address,
                path,
                std::time::Duration::from_secs(timeout),
            ))
        });
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

/// `config from-maxwell`: the translation, printed only once it loads as `run` would load it.
fn from_maxwell(path: &std::path::Path, show_secrets: bool) -> ExitCode {
    use binlog_relay::config::maxwell::Secrets;
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

fn recapture(config_path: ConfigArgs, trust_current: bool) -> ExitCode {
    one_shot(
        config_path,
        async move |config| pipeline::recapture(&config, trust_current).await,
        |done| {
            info!(position = %done.position, tables = done.tables, unknown = done.unknown, "schema recaptured");
            println!(
                "schema recaptured for {}: {} tables, {} of them changed since and unknown until the capture point",
                done.position, done.tables, done.unknown
            );
        },
    )
}

fn run(config_path: ConfigArgs, stop_at: Option<StopAt>) -> ExitCode {
    // Validate everything before starting a runtime or connecting anywhere.
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map(|rt| {
            rt.block_on(async {
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
                    let listener = binlog_relay::http::bind(address)
                        .await
                        .map_err(binlog_relay::Error::from)?;
                    tokio::spawn(binlog_relay::http::serve(
                        listener,
                        config.http.ready_max_lag_seconds,
                    ));
                }
                tokio::spawn(binlog_relay::systemd::notify());
                let outcome = pipeline::run(&config, stop_at, signal).await;
                binlog_relay::systemd::stopping();
                outcome
            })
        });
    match result {
        Ok(Ok(Outcome::ReachedStop(cp))) => {
            info!(position = %cp.position, "stopped at the requested position");
            ExitCode::SUCCESS
        }
        Ok(Ok(Outcome::Stopped(cp))) => {
            match cp {
                Some(cp) => info!(position = %cp.position, "stopped; checkpoint saved"),
                None => info!("stopped before any transaction was confirmed"),
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            error!(error = %e, "stopping on error");
            eprintln!("binlog-relay: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("binlog-relay: {e:#}");
            ExitCode::FAILURE
        }
    }
}
