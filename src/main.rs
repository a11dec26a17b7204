//! The `binlog-relay` command: parses the command line, sets up logging, and hands over to
//! the subcommand (`binlog_relay::command`), which loads the configuration, does the work
//! and picks the exit code.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use binlog_relay::command::{self, ConfigFile};
use binlog_relay::pipeline::StopAt;
use binlog_relay::position::BinlogPosition;
use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// One screen about a running daemon, from its /status endpoint: role, position, lag,
    /// rates, in-flight messages, connections, reconnects, the last error and the bootstrap
    /// under way. Plain text when not on a terminal; --watch redraws it.
    Status {
        /// The daemon's http.listen address.
        #[arg(long, default_value = "127.0.0.1:9187")]
        address: String,
        /// Show a new screen every --interval seconds until interrupted.
        #[arg(long)]
        watch: bool,
        /// Seconds between the readings the rates are taken over.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
    /// Resync a table into the stream: record a bootstrap request (a row in Maxwell's
    /// `bootstrap` table, as maxwell-bootstrap writes it), or list the requests with --status.
    Bootstrap {
        #[command(flatten)]
        config: ConfigArgs,
        /// The table, as DATABASE.TABLE.
        #[arg(required_unless_present = "status")]
        table: Option<String>,
        /// Only the rows this SQL condition selects.
        #[arg(long = "where", value_name = "SQL", conflicts_with = "status")]
        condition: Option<String>,
        /// Carried in every bootstrap message's `comment` field.
        #[arg(long, conflicts_with = "status")]
        comment: Option<String>,
        /// List this pipeline's requests and their progress instead.
        #[arg(long)]
        status: bool,
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

impl From<ConfigArgs> for ConfigFile {
    fn from(args: ConfigArgs) -> Self {
        Self {
            toml: args.config,
            maxwell: args.maxwell_config,
        }
    }
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
        /// Also ask for a bootstrap of every table the filter passes, which the daemon runs
        /// when it starts: the way back after a purged binlog (docs/bootstrap.md).
        #[arg(long)]
        bootstrap: bool,
    },
    /// Copy the checkpoint and schema history from checkpoint.dir into the database store
    /// (checkpoint.database on the source server), which must be empty for this client_id:
    /// the move from one instance to several. Run it with the daemon stopped.
    CopyToDatabase {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Roll back to Maxwell: write the checkpoint into Maxwell's positions table
    /// (bootstrap.database, for bootstrap.client_id) as Maxwell's position store writes it,
    /// so that Maxwell resumes where binlog-relay stopped. Run it with the daemon stopped
    /// (docs/migrating-from-maxwell.md).
    ExportMaxwell {
        #[command(flatten)]
        config: ConfigArgs,
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

const QUIET_RETURNS: &str = "lapin::returned_messages=off";

fn init_logging(format: LogFormat, default_filter: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // lapin logs every message the broker returns, body and all, at WARN: row data in the
    // log, once per resend. The publisher logs returns itself, without the rows and at
    // most every few seconds, so this one is off whatever RUST_LOG says.
    if let Ok(quiet) = QUIET_RETURNS.parse::<tracing_subscriber::filter::Directive>() {
        filter = filter.add_directive(quiet);
    }
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
        Command::Run { config, stop_at } => command::run::command(&config.into(), stop_at),
        Command::Schema {
            action:
                SchemaAction::Recapture {
                    config,
                    trust_current,
                },
        } => command::recapture::command(&config.into(), trust_current),
        Command::Check { config } => command::check::command(&config.into()),
        Command::Positions {
            action: PositionsAction::Show { config },
        } => command::positions::show_command(&config.into()),
        Command::Positions {
            action:
                PositionsAction::Set {
                    config,
                    position,
                    bootstrap,
                },
        } => command::positions::set_command(&config.into(), position, bootstrap),
        Command::Positions {
            action: PositionsAction::CopyToDatabase { config },
        } => command::positions::copy_command(&config.into()),
        Command::Positions {
            action: PositionsAction::ExportMaxwell { config },
        } => command::positions::export_maxwell_command(&config.into()),
        Command::Config {
            action: ConfigAction::FromMaxwell { file, show_secrets },
        } => command::from_maxwell::command(&file, show_secrets),
        Command::Bootstrap {
            config,
            table,
            condition,
            comment,
            status,
        } => match (status, table) {
            (false, Some(table)) => {
                command::bootstrap::request_command(&config.into(), &table, condition, comment)
            }
            _ => command::bootstrap::status_command(&config.into()),
        },
        Command::Health {
            address,
            path,
            timeout,
        } => command::health::command(&address, &path, std::time::Duration::from_secs(timeout)),
        Command::Status {
            address,
            watch,
            interval,
        } => command::status::command(
            &address,
            watch,
            std::time::Duration::from_secs(interval.max(1)),
        ),
    }
}
