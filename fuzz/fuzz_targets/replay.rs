//! A binlog file's bytes, replayed through the pipeline as `examples/replay.rs` does: the
//! same event parsing (mysql_common), reader, decoder and Maxwell formatting as the live
//! stream, into a memory sink. Any outcome is fine but a panic, an abort, a hang or an
//! allocation over the bound.

#![no_main]

mod bounded;

use std::io::Write;
use std::sync::OnceLock;

use binlog_relay::format::OutputOptions;
use binlog_relay::pipeline::replay::replay_file;
use binlog_relay::position::FIRST_EVENT_OFFSET;
use binlog_relay::schema::PositionalNames;
use binlog_relay::sink::memory::MemorySink;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: bounded::Bounded = bounded::Bounded;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    // The reader reads files; a file in memory-backed /dev/shm when there is one.
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let mut file = tempfile::NamedTempFile::new_in(dir).expect("a temporary file");
    file.write_all(data).expect("write the input");
    let sink = MemorySink::new();
    let _ = runtime().block_on(replay_file(
        file.path(),
        FIRST_EVENT_OFFSET,
        PositionalNames,
        OutputOptions::default(),
        sink,
    ));
});
