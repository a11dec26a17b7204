//! Replays a binlog file through the pipeline and prints the Maxwell messages, one per line
//! (the stdout sink). Tables whose binlog carries no column names get positional names
//! (`@1`, `@2`, ...), as `mysqlbinlog -v` shows them.
//!
//! `cargo run --example replay -- tests/fixtures/binlog/rust_mysql_common/mariadb-bin.000001`

use binlog_relay::format::OutputOptions;
use binlog_relay::pipeline::replay::replay_file;
use binlog_relay::position::FIRST_EVENT_OFFSET;
use binlog_relay::schema::PositionalNames;
use binlog_relay::sink::stdout::StdoutSink;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: replay BINLOG_FILE"))?;
    replay_file(
        std::path::Path::new(&path),
        FIRST_EVENT_OFFSET,
        PositionalNames,
        OutputOptions::default(),
        StdoutSink::new(),
    )
    .await?;
    Ok(())
}
