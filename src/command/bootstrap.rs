//! `binlog-relay bootstrap`: asks for a table to be resynced into the stream, or lists the
//! requests and their progress. A request is a row in Maxwell's `bootstrap` table
//! ([`crate::source::snapshot::requests`]), so Maxwell's own utility and this command write
//! the same thing.

use std::process::ExitCode;

use crate::config::Config;
use crate::error::Error;
use crate::source::BinlogSource;
use crate::source::snapshot::{NewRequest, RequestRow, SnapshotError, requests};

/// `bootstrap DB.TABLE [--where SQL] [--comment TEXT]`.
pub fn request_command(
    file: &super::ConfigFile,
    target: &str,
    condition: Option<String>,
    comment: Option<String>,
) -> ExitCode {
    let Some((database, table)) = target
        .split_once('.')
        .filter(|(d, t)| !d.is_empty() && !t.is_empty())
    else {
        eprintln!("binlog-relay: name the table as DATABASE.TABLE (got {target:?})");
        return ExitCode::from(2);
    };
    let request = NewRequest {
        database: database.into(),
        table: table.into(),
        condition: condition.filter(|c| !c.trim().is_empty()),
        comment,
    };
    super::one_shot(
        file,
        async move |config| submit(&config, &request).await,
        |row| {
            println!(
                "bootstrap request {} recorded for `{}`.`{}` ({} rows to read); follow it with `binlog-relay bootstrap --status`",
                row.id, row.database, row.table, row.total_rows
            )
        },
    )
}

/// `bootstrap --status`.
pub fn status_command(file: &super::ConfigFile) -> ExitCode {
    super::one_shot(
        file,
        async |config| {
            let source = BinlogSource::new(&config.source);
            let result = async {
                let mut conn = source.conn().await?;
                let timeout = source.query_timeout();
                let rows =
                    tokio::time::timeout(timeout, requests::list(&mut conn, &config.bootstrap))
                        .await
                        .map_err(|_| SnapshotError::Timeout {
                            what: "SELECT FROM bootstrap",
                            millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                        })??;
                Ok::<_, Error>(rows)
            }
            .await;
            source.close().await;
            result.map(|rows| (config.bootstrap.clone(), rows))
        },
        |(bootstrap, rows)| print_status(&bootstrap, &rows),
    )
}

async fn submit(config: &Config, request: &NewRequest) -> Result<RequestRow, Error> {
    let source = BinlogSource::new(&config.source);
    let result = async {
        let mut conn = source.conn().await?;
        Ok::<_, Error>(requests::submit(&mut conn, &config.bootstrap, request).await?)
    }
    .await;
    source.close().await;
    result
}

fn print_status(config: &crate::source::snapshot::BootstrapConfig, rows: &[RequestRow]) {
    if rows.is_empty() {
        println!(
            "no bootstrap requests for client_id {} in `{}`.bootstrap",
            config.client_id, config.database
        );
        return;
    }
    println!("id\tstate\ttable\trows\tstarted\tcompleted\tcomment");
    for r in rows {
        println!(
            "{}\t{}\t{}.{}\t{}/{}\t{}\t{}\t{}",
            r.id,
            r.state(),
            r.database,
            r.table,
            r.inserted_rows,
            r.total_rows,
            r.started_at.as_deref().unwrap_or("-"),
            r.completed_at.as_deref().unwrap_or("-"),
            r.comment.as_deref().unwrap_or("")
        );
    }
}
