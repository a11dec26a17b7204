//! Crashes between two steps, made with the named failpoints (`--features failpoints`):
//! before and after the checkpoint file's rename, and between publishing a message and
//! awaiting its confirmation. Each time the checkpoint on disk is one a restart can trust,
//! and the restart delivers every row.
//!
//! A binary of its own: failpoints are configured for the whole process, and
//! `fail::FailScenario` keeps these tests from overlapping one another.

#[path = "common/harness.rs"]
mod harness;

use std::collections::BTreeSet;

use binlog_relay::checkpoint::{CheckpointStore, FileStore};
use binlog_relay::failpoints::{
    CHECKPOINT_AFTER_RENAME, CHECKPOINT_BEFORE_RENAME, PUBLISH_BEFORE_CONFIRM, READER_HANDLE_EVENT,
};
use binlog_relay::pipeline::Outcome;
use binlog_relay::position::BinlogPosition;
use binlog_relay::shutdown::Shutdown;
use binlog_relay::sink::memory::MemorySink;

use harness::*;

fn bodies(sink: &MemorySink) -> Vec<String> {
    sink.recorded()
        .iter()
        .map(|m| m.text().expect("UTF-8").to_owned())
        .collect()
}

/// A first run that stops after the first transaction, leaving its checkpoint on disk.
async fn first_transaction_checkpointed(dir: &std::path::Path) -> Vec<String> {
    let sink = MemorySink::new();
    let setup = Setup {
        stop_at: Some(BinlogPosition::new(FILE, T1_END)),
        ..Setup::default()
    };
    let (_trigger, signal) = Shutdown::new();
    let outcome = run(
        None,
        sink.clone(),
        FileStore::open(dir).unwrap(),
        &setup,
        signal,
    )
    .await
    .expect("first run");
    assert!(matches!(outcome, Outcome::ReachedStop(_)), "{outcome:?}");
    bodies(&sink)
}

/// The rest of the file from what `dir` holds; the messages.
async fn resume(dir: &std::path::Path) -> Vec<String> {
    let store = FileStore::open(dir).unwrap();
    let from = store.load().unwrap();
    let sink = MemorySink::new();
    let (_trigger, signal) = Shutdown::new();
    run(
        from.as_ref(),
        sink.clone(),
        store,
        &Setup::default(),
        signal,
    )
    .await
    .expect("resume");
    bodies(&sink)
}

#[tokio::test]
async fn a_crash_before_the_checkpoint_rename_keeps_the_previous_checkpoint() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let first = first_transaction_checkpointed(dir.path()).await;
    fail::cfg(CHECKPOINT_BEFORE_RENAME, "return").unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let from = store.load().unwrap();
    let sink = MemorySink::new();
    let (_trigger, signal) = Shutdown::new();
    let crashed = run(from.as_ref(), sink, store, &Setup::default(), signal).await;
    fail::cfg(CHECKPOINT_BEFORE_RENAME, "off").unwrap();
    let err = crashed.expect_err("the checkpoint write fails").to_string();
    assert!(err.contains("before the rename"), "{err}");
    let kept = FileStore::open(dir.path())
        .unwrap()
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(kept.position, BinlogPosition::new(FILE, T1_END));
    // The restart sends everything after the kept checkpoint: no row is lost.
    let rest = resume(dir.path()).await;
    let all: Vec<String> = first.into_iter().chain(rest).collect();
    let changes: Vec<Change> = all.iter().map(|m| change_of(m)).collect();
    assert_eq!(changes, expected_changes());
    scenario.teardown();
}

#[tokio::test]
async fn a_crash_after_the_checkpoint_rename_keeps_the_new_checkpoint() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    first_transaction_checkpointed(dir.path()).await;
    fail::cfg(CHECKPOINT_AFTER_RENAME, "return").unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let from = store.load().unwrap();
    let (_trigger, signal) = Shutdown::new();
    let crashed = run(
        from.as_ref(),
        MemorySink::new(),
        store,
        &Setup::default(),
        signal,
    )
    .await;
    fail::cfg(CHECKPOINT_AFTER_RENAME, "off").unwrap();
    let err = crashed.expect_err("the directory sync fails").to_string();
    assert!(err.contains("after the rename"), "{err}");
    // The whole file was confirmed: the new checkpoint is in place and readable, and a
    // restart has nothing left to send.
    let kept = FileStore::open(dir.path())
        .unwrap()
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(kept.position, BinlogPosition::new(FILE, T5_END));
    assert_eq!(resume(dir.path()).await, Vec::<String>::new());
    scenario.teardown();
}

#[tokio::test]
async fn a_lost_connection_between_publish_and_confirm_loses_no_row() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    // The 1,001st message is published and then the connection "dies" before its
    // confirmation is awaited: the middle of the 2,000-row transaction.
    fail::cfg(PUBLISH_BEFORE_CONFIRM, "1000*off->return").unwrap();
    let sink = MemorySink::new();
    let setup = Setup {
        chunk_bytes: 8 << 10,
        interval: std::time::Duration::from_millis(1),
        ..Setup::default()
    };
    let (_trigger, signal) = Shutdown::new();
    let crashed = run(
        None,
        sink.clone(),
        FileStore::open(dir.path()).unwrap(),
        &setup,
        signal,
    )
    .await;
    fail::cfg(PUBLISH_BEFORE_CONFIRM, "off").unwrap();
    assert!(
        matches!(&crashed, Err(e) if e.is_transient()),
        "a lost connection, retried: {crashed:?}"
    );
    let kept = FileStore::open(dir.path())
        .unwrap()
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(kept.position, BinlogPosition::new(FILE, T1_END));
    let sent_before = bodies(&sink);
    assert_eq!(sent_before.len(), 1001);
    let rest = resume(dir.path()).await;
    // The restart resends the interrupted transaction whole; every row arrives.
    let union: BTreeSet<Change> = sent_before[..messages_before(kept.position.offset)]
        .iter()
        .chain(&rest)
        .map(|m| change_of(m))
        .collect();
    assert_eq!(union, expected_changes().into_iter().collect());
    assert_eq!(rest.len(), 2019 - 3);
    scenario.teardown();
}

#[tokio::test]
async fn a_panic_while_reading_an_event_names_its_position_and_keeps_the_checkpoint_before_it() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    // A bug in the reader, at the tenth event of the file.
    fail::cfg(READER_HANDLE_EVENT, "9*off->panic(a bug)").unwrap();
    let sink = MemorySink::new();
    let (_trigger, signal) = Shutdown::new();
    let result = run(
        None,
        sink.clone(),
        FileStore::open(dir.path()).unwrap(),
        &Setup::default(),
        signal,
    )
    .await;
    fail::cfg(READER_HANDLE_EVENT, "off").unwrap();
    let err = result.expect_err("the panic ends the run");
    let binlog_relay::Error::ReaderPanicked { position, message } = &err else {
        panic!("not a reader panic: {err}");
    };
    assert_eq!(message, "a bug");
    assert!(err.to_string().contains(&position.to_string()), "{err}");
    // The tenth event of the file starts where the ninth ends.
    let ninth = binlog_relay::source::file::BinlogFileEvents::open(&fixture())
        .unwrap()
        .nth(8)
        .unwrap()
        .unwrap();
    assert_eq!(
        *position,
        BinlogPosition::new(FILE, u64::from(ninth.header().log_pos()))
    );
    // Nothing at or after the failed event is checkpointed.
    let saved = FileStore::open(dir.path()).unwrap().load().unwrap();
    assert!(
        saved
            .as_ref()
            .is_none_or(|cp| position.reached(&cp.position)),
        "{saved:?} past {position}"
    );
    scenario.teardown();
}
