//! Replays a binlog file through the reader and prints the Maxwell messages, one per line.
//! Tables whose binlog carries no column names get positional names (`@1`, `@2`, ...), as
//! `mysqlbinlog -v` shows them.
//!
//! `cargo run --example replay -- tests/fixtures/binlog/rust_mysql_common/mariadb-bin.000001`

use std::sync::Arc;

use binlog_relay::format::OutputOptions;
use binlog_relay::pipeline::reader::Reader;
use binlog_relay::position::BinlogPosition;
use binlog_relay::schema::PositionalNames;
use binlog_relay::source::file::BinlogFileEvents;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: replay BINLOG_FILE"))?;
    let events = BinlogFileEvents::open(std::path::Path::new(&path))?;
    let start = BinlogPosition::new(events.file_name(), 4);
    let mut reader = Reader::new(
        PositionalNames,
        Arc::new(OutputOptions::default()),
        start,
        0,
        None,
    );
    for event in events {
        if let Some(delivery) = reader.handle_event(&event?).await? {
            for m in &delivery.batch.messages {
                println!("{}", String::from_utf8_lossy(delivery.batch.body_of(m)));
            }
        }
    }
    Ok(())
}
