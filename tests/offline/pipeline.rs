//! The pipeline without servers: reader, publisher and checkpoint together on a fixture
//! binlog, with in-memory sinks and stores. What each test checks is what an operator
//! relies on: the checkpoint never stands inside or past an unconfirmed transaction, and a
//! restart from it delivers every row.

use std::collections::BTreeSet;

use binlog_relay::checkpoint::{Checkpoint, MemoryStore};
use binlog_relay::pipeline::Outcome;
use binlog_relay::position::BinlogPosition;
use binlog_relay::shutdown::Shutdown;
use binlog_relay::sink::memory::MemorySink;
use binlog_relay::sink::{Outgoing, Sink, SinkError};

use crate::harness::*;

fn bodies(sink: &MemorySink) -> Vec<String> {
    sink.recorded()
        .iter()
        .map(|m| m.text().expect("UTF-8").to_owned())
        .collect()
}

/// Every message of the fixture, from an undisturbed run.
async fn full_run() -> Vec<String> {
    let sink = MemorySink::new();
    let (_trigger, signal) = Shutdown::new();
    let outcome = run(
        None,
        sink.clone(),
        MemoryStore::new(),
        &Setup::default(),
        signal,
    )
    .await
    .expect("replay");
    let Outcome::Ended(Some(cp)) = outcome else {
        panic!("expected the end of the file with a checkpoint, got {outcome:?}");
    };
    // The last transaction's end; the ROTATE after it moves no checkpoint.
    assert_eq!(cp.position, BinlogPosition::new(FILE, T5_END));
    bodies(&sink)
}

/// The saved checkpoint, which must exist.
fn saved(store: &MemoryStore) -> Checkpoint {
    store.get().expect("a saved checkpoint")
}

#[tokio::test]
async fn the_fixture_replays_to_exactly_the_rows_its_sql_wrote() {
    let messages = full_run().await;
    let changes: Vec<Change> = messages.iter().map(|m| change_of(m)).collect();
    assert_eq!(changes, expected_changes());
    // One transaction's fields: xid on every row, xoffset counting, commit on the last.
    assert!(messages[3].contains(r#""xoffset":0,"#), "{}", messages[3]);
    assert!(
        messages[2002].contains(r#""commit":true"#),
        "{}",
        messages[2002]
    );
}

#[tokio::test]
async fn a_nack_in_the_middle_of_a_spilled_transaction_keeps_the_checkpoint_before_it() {
    let full = full_run().await;
    // Every row through the spill file, small deliveries; the 1004th message (the 1001st
    // of the 2,000-row transaction) is refused.
    let setup = Setup {
        memory_limit_mb: 0,
        chunk_bytes: 8 << 10,
        interval: std::time::Duration::from_millis(1),
        ..Setup::default()
    };
    let store = MemoryStore::new();
    let (_trigger, signal) = Shutdown::new();
    let first = run(
        None,
        MemorySink::losing_connection_at(1003),
        store.clone(),
        &setup,
        signal.clone(),
    )
    .await;
    assert!(
        matches!(first, Err(binlog_relay::Error::Sink(SinkError::Lost(_)))),
        "{first:?}"
    );
    let cp = saved(&store);
    assert_eq!(cp.position, BinlogPosition::new(FILE, T1_END));

    // The next start resends the whole transaction, from its first row, and the rest.
    let again = MemorySink::new();
    let second = run(Some(&cp), again.clone(), store.clone(), &setup, signal).await;
    assert!(matches!(second, Ok(Outcome::Ended(Some(_)))), "{second:?}");
    assert_eq!(bodies(&again), full[messages_before(T1_END)..]);
}

#[tokio::test]
async fn a_memory_limit_of_zero_puts_every_transaction_through_the_spill_file() {
    // What the spill tests rely on: with no memory for rows, the first rows event of a
    // transaction already goes to disk. A spill directory that is a file proves it.
    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    let setup = Setup {
        memory_limit_mb: 0,
        spill_dir: Some(not_a_dir.path().to_owned()),
        ..Setup::default()
    };
    let (_trigger, signal) = Shutdown::new();
    let err = run(None, MemorySink::new(), MemoryStore::new(), &setup, signal)
        .await
        .expect_err("the spill file cannot be made");
    assert!(err.to_string().contains("temporary file"), "{err}");
}

#[tokio::test]
async fn a_resume_re_sends_only_the_unconfirmed_tail() {
    let full = full_run().await;
    let setup = Setup::default();
    let store = MemoryStore::new();
    let (_trigger, signal) = Shutdown::new();
    // The second message of the five-row delete transaction (index 2014) is refused.
    let first = MemorySink::losing_connection_at(2014);
    let refused = run(None, first.clone(), store.clone(), &setup, signal.clone()).await;
    assert!(
        matches!(refused, Err(binlog_relay::Error::Sink(SinkError::Lost(_)))),
        "{refused:?}"
    );
    let cp = saved(&store);
    assert_eq!(cp.position, BinlogPosition::new(FILE, T3_END));
    let again = MemorySink::new();
    run(Some(&cp), again.clone(), store.clone(), &setup, signal)
        .await
        .expect("resume");
    let resent = bodies(&again);
    assert_eq!(messages_before(cp.position.offset), 2013);
    assert_eq!(resent, full[2013..]);
    // Together: every message, and the only repeat is the confirmed first row of the
    // transaction that did not complete.
    let first_run: Vec<String> = bodies(&first)[..2015].to_vec();
    let confirmed_in_first = &first_run[..2014];
    let repeats: Vec<&String> = resent
        .iter()
        .filter(|m| confirmed_in_first.contains(m))
        .collect();
    assert_eq!(repeats, vec![&full[2013]]);
    let union: BTreeSet<&String> = confirmed_in_first.iter().chain(&resent).collect();
    assert_eq!(union, full.iter().collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn a_stop_position_inside_a_transaction_stops_after_its_commit() {
    let full = full_run().await;
    let setup = Setup {
        // Inside the 2,000-row transaction.
        stop_at: Some(BinlogPosition::new(FILE, 20_000)),
        chunk_bytes: 8 << 10,
        ..Setup::default()
    };
    let sink = MemorySink::new();
    let store = MemoryStore::new();
    let (_trigger, signal) = Shutdown::new();
    let outcome = run(None, sink.clone(), store.clone(), &setup, signal)
        .await
        .expect("run to the stop position");
    let Outcome::ReachedStop(cp) = outcome else {
        panic!("expected the stop position, got {outcome:?}");
    };
    assert_eq!(cp.position, BinlogPosition::new(FILE, T2_END));
    assert_eq!(saved(&store), cp);
    assert_eq!(bodies(&sink), full[..2003]);
}

/// A memory sink that asks for shutdown when it publishes message number `at`.
struct ShutdownAt {
    inner: MemorySink,
    at: usize,
    seen: usize,
    trigger: Shutdown,
}

impl Sink for ShutdownAt {
    type Confirm = <MemorySink as Sink>::Confirm;

    async fn publish(&mut self, message: Outgoing<'_>) -> Result<Self::Confirm, SinkError> {
        if self.seen == self.at {
            self.trigger.trigger();
        }
        self.seen += 1;
        self.inner.publish(message).await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.inner.flush().await
    }

    async fn close(self) {}
}

#[tokio::test]
async fn shutdown_during_a_chunked_transaction_never_checkpoints_inside_it() {
    let full = full_run().await;
    let setup = Setup {
        chunk_bytes: 4 << 10,
        interval: std::time::Duration::from_millis(1),
        ..Setup::default()
    };
    let (trigger, signal) = Shutdown::new();
    let recorded = MemorySink::new();
    let sink = ShutdownAt {
        inner: recorded.clone(),
        at: 500,
        seen: 0,
        trigger,
    };
    let store = MemoryStore::new();
    let outcome = run(None, sink, store.clone(), &setup, signal)
        .await
        .expect("an orderly stop");
    let Outcome::Stopped(Some(cp)) = outcome else {
        panic!("expected a stop with a checkpoint, got {outcome:?}");
    };
    // Stopped part way through the 2,000-row transaction, in its deliveries.
    let sent = bodies(&recorded).len();
    assert!((501..2003).contains(&sent), "{sent} messages sent");
    assert_eq!(cp.position, BinlogPosition::new(FILE, T1_END));
    assert_eq!(saved(&store), cp);

    // The next start delivers the rest, the whole interrupted transaction included.
    let again = MemorySink::new();
    let (_trigger, signal) = Shutdown::new();
    run(Some(&cp), again.clone(), store, &setup, signal)
        .await
        .expect("resume");
    assert_eq!(bodies(&again), full[3..]);
}
