//! The publisher task: publishes transactions in order, keeps up to a window of messages
//! awaiting confirmation, sends refused messages again, and checkpoints only what is
//! confirmed.
//!
//! Messages and transaction ends share one FIFO queue. A transaction's end marker sits
//! behind its last message, so it reaches the front only when every earlier message was
//! confirmed; only then does the checkpoint move to it.
//!
//! A refused message (a nack: a full queue, an overloaded broker; or a return: no queue
//! bound) is not a lost connection. The publisher pauses briefly, then sends it again, and
//! every message after it too, in binlog order, from the copies it keeps of every
//! unconfirmed message. So whatever the broker accepted out of turn, each row's last copy
//! is its latest change. The window of unconfirmed messages halves at each refusal and
//! grows back slowly, as TCP's congestion window does, so a queue that only takes a few
//! messages a second is not flooded with copies it will refuse or take twice; ten seconds
//! without a refusal let it grow fast again. A confirmation that fails otherwise (the connection is gone)
//! stops the publisher with the checkpoint at the last fully confirmed transaction, and a
//! restart re-sends the rest: nothing is skipped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::Delivery;
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::error::Error;
use crate::format::Batch;
use crate::metrics::METRICS;
use crate::shutdown::ShutdownSignal;
use crate::sink::{MessageId, Outgoing, Sink, SinkError};

/// How often a checkpoint is logged at info level.
const CHECKPOINT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// How often refusals are logged while they go on.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// A spell without refusals this long lets the window grow fast again.
const QUIET_AFTER_REFUSALS: Duration = Duration::from_secs(10);

/// How long closing the sink may take before it is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The pauses before sending refused messages again: `first` after a refusal, doubling
/// while refusals make no progress (the same message refused again), never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

/// A delivery's messages, kept while any of them may have to be sent again.
struct Sent {
    batch: Batch,
    end: Checkpoint,
    first_index: usize,
}

/// A queued message or transaction end.
enum Entry<F> {
    /// Message `index` of a delivery, with its confirmation and when it was published;
    /// `None` while it waits to be published (again).
    Message {
        delivery: Arc<Sent>,
        index: usize,
        confirm: Option<(F, Instant)>,
        /// It was published before: publishing it now is a resend.
        sent_before: bool,
    },
    End(Checkpoint),
}

/// What became of the oldest published message.
enum Settled {
    Confirmed,
    /// The sink refused it (`nack` or `returned`): send it again.
    Refused(&'static str),
}

/// How the main loop ended without error.
enum Ending {
    /// Shutdown: settle what is in flight, send nothing more.
    Shutdown,
    /// The reader is done and everything it sent is confirmed.
    Done,
}

/// Publishes deliveries to a sink and maintains the checkpoint.
pub struct Publisher<S: Sink, C> {
    sink: S,
    store: C,
    max_in_flight: usize,
    /// Messages that may await confirmation now: `max_in_flight`, less after refusals.
    window: usize,
    /// Below this the window grows by one per confirmation (doubling each round trip);
    /// above it by one per window's worth (a refusal halves both).
    threshold: usize,
    /// Confirmations since the window last grew above the threshold.
    grown: usize,
    /// The last refusal: a long quiet spell after it lets the window grow fast again.
    last_refusal: Option<Instant>,
    interval: Duration,
    retry: RetryPolicy,
    /// Published messages awaiting confirmation, and the transaction ends between and
    /// after them, in binlog order.
    out: VecDeque<Entry<S::Confirm>>,
    /// What comes after `out`: messages waiting to be published (again) and the ends
    /// between them, in binlog order.
    waiting: VecDeque<Entry<S::Confirm>>,
    /// Messages in `out`.
    published: usize,
    /// Everything up to here is confirmed.
    confirmed: Option<Checkpoint>,
    /// What the store holds.
    saved: Option<Checkpoint>,
    /// When a checkpoint was last logged at info level.
    last_logged: Option<Instant>,
    /// Refused messages are sent again only after this.
    paused_until: Option<Instant>,
    /// The pause after the next refusal; grows while refusals make no progress.
    next_pause: Duration,
    /// Refusals since the last log line about them, and when that was.
    refusals_unlogged: u64,
    refusal_logged: Option<Instant>,
}

impl<S: Sink, C: CheckpointStore> Publisher<S, C> {
    /// `saved` is what the store holds already (the starting point).
    pub fn new(
        sink: S,
        store: C,
        saved: Option<Checkpoint>,
        max_in_flight: usize,
        interval: Duration,
    ) -> Self {
        let retry = RetryPolicy::default();
        Self {
            sink,
            store,
            max_in_flight: max_in_flight.max(1),
            window: max_in_flight.max(1),
            threshold: max_in_flight.max(1),
            grown: 0,
            last_refusal: None,
            interval,
            retry,
            out: VecDeque::new(),
            waiting: VecDeque::new(),
            published: 0,
            confirmed: saved.clone(),
            saved,
            last_logged: None,
            paused_until: None,
            next_pause: retry.first,
            refusals_unlogged: 0,
            refusal_logged: None,
        }
    }

    /// The pauses before refused messages are sent again.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self.next_pause = retry.first;
        self
    }

    /// Runs until the reader closes the channel and everything is confirmed, or shutdown
    /// is requested (then it waits for what is in flight), and saves the final
    /// checkpoint. Returns the saved checkpoint.
    pub async fn run(
        mut self,
        mut input: mpsc::Receiver<Delivery>,
        mut shutdown: ShutdownSignal,
    ) -> Result<Option<Checkpoint>, Error> {
        let result = self.main_loop(&mut input, &mut shutdown).await;
        // Stop intake first so the reader notices, then settle what is in flight.
        input.close();
        let settled = match result {
            Ok(Ending::Shutdown) => self.settle_in_flight().await,
            Ok(Ending::Done) => Ok(()),
            Err(e) => Err(e),
        };
        // Whatever happened, what is confirmed is safe to record.
        let saved = self.save_if_advanced().await;
        let Self {
            sink, saved: last, ..
        } = self;
        // A connection that is already gone may never answer a polite close.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        settled?;
        saved?;
        Ok(last)
    }

    async fn main_loop(
        &mut self,
        input: &mut mpsc::Receiver<Delivery>,
        shutdown: &mut ShutdownSignal,
    ) -> Result<Ending, Error> {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut input_done = false;
        loop {
            self.settle_ends();
            if self.paused_until.is_none() {
                self.publish_waiting().await?;
            }
            if input_done && self.out.is_empty() && self.waiting.is_empty() {
                return Ok(Ending::Done);
            }
            let has_published = self.published > 0;
            // A new delivery only when everything queued is out and the window has room,
            // so at most one delivery waits in memory beyond the window.
            let can_take = !input_done
                && self.waiting.is_empty()
                && self.published < self.window
                && self.paused_until.is_none();
            let pause = self.paused_until;
            tokio::select! {
                biased;
                // 1. Shutdown: stop taking transactions; the caller settles what is out.
                _ = shutdown.wait() => return Ok(Ending::Shutdown),
                // 2. The oldest confirmation.
                settled = Self::front_confirm(&mut self.out), if has_published => {
                    match settled? {
                        Settled::Confirmed => self.pop_confirmed(),
                        Settled::Refused(reason) => self.refused(reason),
                    }
                }
                // 3. The end of a pause after a refusal: send again.
                _ = sleep_until(pause), if pause.is_some() => self.paused_until = None,
                // 4. The next transaction.
                delivery = input.recv(), if can_take => match delivery {
                    Some(delivery) => self.enqueue(delivery),
                    None => input_done = true,
                },
                // 5. Periodic checkpoint.
                _ = tick.tick() => self.save_if_advanced().await?,
                // 6. The connection died while idle: reconnect now, not at the next message.
                e = self.sink.broken() => return Err(Error::Sink(e)),
            }
        }
    }

    /// Awaits the confirmation at the front of the queue (never resolves if the front is
    /// not a published message).
    async fn front_confirm(out: &mut VecDeque<Entry<S::Confirm>>) -> Result<Settled, Error> {
        let Some(Entry::Message {
            confirm: Some((confirm, sent)),
            ..
        }) = out.front_mut()
        else {
            return std::future::pending().await;
        };
        let result = confirm.await;
        METRICS
            .confirm_seconds
            .observe(sent.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                METRICS.messages_confirmed.inc();
                Ok(Settled::Confirmed)
            }
            Err(e) => {
                let reason = match e {
                    SinkError::Nacked => "nack",
                    SinkError::Returned { .. } => "returned",
                    _ => "error",
                };
                METRICS.messages_failed.with_label_values(&[reason]).inc();
                match e {
                    SinkError::Nacked | SinkError::Returned { .. } => Ok(Settled::Refused(reason)),
                    other => Err(Error::Sink(other)),
                }
            }
        }
    }

    /// Takes the confirmed message off the front of the queue. Progress: the window grows
    /// back and the pause after the next refusal starts short again.
    fn pop_confirmed(&mut self) {
        self.out.pop_front();
        self.published -= 1;
        self.next_pause = self.retry.first;
        if self
            .last_refusal
            .is_some_and(|at| at.elapsed() >= QUIET_AFTER_REFUSALS)
        {
            self.threshold = self.max_in_flight;
            self.last_refusal = None;
        }
        if self.window < self.threshold {
            self.window += 1;
        } else {
            self.grown += 1;
            if self.grown >= self.window {
                self.window += 1;
                self.grown = 0;
            }
        }
        self.window = self.window.min(self.max_in_flight);
        self.set_in_flight();
    }

    /// The front message was refused: every published message is to be sent again, in
    /// order, after a pause; the window halves.
    fn refused(&mut self, reason: &'static str) {
        let mut again: VecDeque<Entry<S::Confirm>> = self
            .out
            .drain(..)
            .map(|entry| match entry {
                Entry::Message {
                    delivery, index, ..
                } => Entry::Message {
                    delivery,
                    index,
                    confirm: None,
                    sent_before: true,
                },
                end => end,
            })
            .collect();
        again.append(&mut self.waiting);
        self.waiting = again;
        self.published = 0;
        self.set_in_flight();
        // Like TCP's congestion control: halve, then grow slowly back towards the rate the
        // destination takes, so little is sent that it will refuse (or take twice).
        self.window = (self.window / 2).max(1);
        self.threshold = self.window;
        self.grown = 0;
        self.last_refusal = Some(Instant::now());
        let pause = self.next_pause;
        self.next_pause = (pause * 2).min(self.retry.max);
        self.paused_until = Some(Instant::now() + pause);
        METRICS.retries.with_label_values(&[reason]).inc();
        self.refusals_unlogged += 1;
        if self
            .refusal_logged
            .is_none_or(|at| at.elapsed() >= REFUSAL_LOG_INTERVAL)
        {
            warn!(
                reason,
                refusals = self.refusals_unlogged,
                waiting = self.waiting.len(),
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                "the broker refused a message (a nack: queue full or broker overloaded; or returned: no queue bound); sending it and every later one again, in order, after a pause"
            );
            self.refusals_unlogged = 0;
            self.refusal_logged = Some(Instant::now());
        }
    }

    /// Moves the confirmed checkpoint past transaction ends at the front of the queue.
    fn settle_ends(&mut self) {
        while let Some(Entry::End(_)) = self.out.front() {
            if let Some(Entry::End(cp)) = self.out.pop_front() {
                self.confirmed = Some(cp);
            }
        }
    }

    /// Queues a delivery's messages, to be published in order, and its end.
    fn enqueue(&mut self, delivery: Delivery) {
        let Delivery {
            batch,
            end,
            first_index,
            last,
        } = delivery;
        let count = batch.messages.len();
        let sent = Arc::new(Sent {
            batch,
            end: end.clone(),
            first_index,
        });
        for index in 0..count {
            self.waiting.push_back(Entry::Message {
                delivery: sent.clone(),
                index,
                confirm: None,
                sent_before: false,
            });
        }
        if last {
            self.waiting.push_back(Entry::End(end));
        }
    }

    /// Publishes waiting messages, oldest first, while the window has room; transaction
    /// ends move along with them.
    async fn publish_waiting(&mut self) -> Result<(), Error> {
        while let Some(front) = self.waiting.front() {
            if matches!(front, Entry::Message { .. }) && self.published >= self.window {
                break;
            }
            let Some(entry) = self.waiting.pop_front() else {
                break;
            };
            let Entry::Message {
                delivery,
                index,
                sent_before,
                ..
            } = entry
            else {
                self.out.push_back(entry);
                continue;
            };
            let Some(message) = delivery.batch.messages.get(index) else {
                continue;
            };
            let sent_at = Instant::now();
            let end = &delivery.end;
            let pending = self
                .sink
                .publish(Outgoing {
                    database: &message.database,
                    table: &message.table,
                    body: delivery.batch.body_of(message),
                    kind: message.kind,
                    id: MessageId {
                        server_id: end.server_id,
                        file: &end.position.file,
                        offset: end.position.offset,
                        index: delivery.first_index + index,
                    },
                })
                .await?;
            crate::failpoints::fail_point!(crate::failpoints::PUBLISH_BEFORE_CONFIRM, |_| Err(
                Error::Sink(SinkError::Lost(
                    "failpoint between publish and confirm".into()
                ))
            ));
            METRICS
                .publish_seconds
                .observe(sent_at.elapsed().as_secs_f64());
            if sent_before {
                METRICS.messages_resent.inc();
            } else if let Some(published) = METRICS.messages_published.get(message.kind.as_str()) {
                published.inc();
            }
            self.out.push_back(Entry::Message {
                delivery,
                index,
                confirm: Some((pending, sent_at)),
                sent_before: true,
            });
            self.published += 1;
            self.set_in_flight();
        }
        Ok(())
    }

    fn set_in_flight(&self) {
        METRICS
            .in_flight
            .set(i64::try_from(self.published).unwrap_or(i64::MAX));
    }

    /// Shutdown: waits for the published messages' confirmations, in order, and sends
    /// nothing more. A refusal ends the wait: what is not confirmed is sent again on the
    /// next start.
    async fn settle_in_flight(&mut self) -> Result<(), Error> {
        loop {
            self.settle_ends();
            if self.published == 0 {
                return Ok(());
            }
            match Self::front_confirm(&mut self.out).await? {
                Settled::Confirmed => self.pop_confirmed(),
                Settled::Refused(_) => return Ok(()),
            }
        }
    }

    async fn save_if_advanced(&mut self) -> Result<(), Error> {
        self.settle_ends();
        let Some(cp) = &self.confirmed else {
            return Ok(());
        };
        if self.saved.as_ref() == Some(cp) {
            return Ok(());
        }
        self.sink.flush().await?;
        self.store.save(cp)?;
        METRICS.checkpoint_saved(&cp.position);
        // Saved about once a second: logged once a minute, so the log shows progress
        // without drowning in it.
        if self
            .last_logged
            .is_none_or(|at| at.elapsed() >= CHECKPOINT_LOG_INTERVAL)
        {
            info!(position = %cp.position, gtid = cp.gtid.as_deref().unwrap_or(""), "checkpoint");
            self.last_logged = Some(Instant::now());
        } else {
            debug!(position = %cp.position, "checkpoint saved");
        }
        self.saved = Some(cp.clone());
        Ok(())
    }
}

/// Sleeps until `at` (never resolves for `None`).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::checkpoint::MemoryStore;
    use crate::format::{Batch, Message};
    use crate::position::BinlogPosition;
    use crate::shutdown::Shutdown;
    use crate::sink::memory::{HeldSink, MemorySink};

    fn delivery(n: usize, offset: u64) -> Delivery {
        let mut batch = Batch::default();
        for i in 0..n {
            let start = batch.body.len();
            batch
                .body
                .extend_from_slice(format!("{{\"n\":{i}}}").as_bytes());
            batch.messages.push(Message {
                database: "d".into(),
                table: "t".into(),
                kind: crate::format::MessageKind::Insert,
                range: start..batch.body.len(),
            });
        }
        Delivery::whole(
            batch,
            Checkpoint::new(BinlogPosition::new("bin.000001", offset), 1, None),
        )
    }

    const FAST_RETRY: RetryPolicy = RetryPolicy {
        first: Duration::from_millis(1),
        max: Duration::from_millis(4),
    };

    async fn run_publisher(
        sink: MemorySink,
        deliveries: Vec<Delivery>,
    ) -> (Result<Option<Checkpoint>, Error>, MemoryStore) {
        let store = MemoryStore::new();
        let (tx, rx) = mpsc::channel(4);
        let (_shutdown, signal) = Shutdown::new();
        let publisher = Publisher::new(sink, store.clone(), None, 2, Duration::from_secs(3600))
            .with_retry(FAST_RETRY);
        let feeder = tokio::spawn(async move {
            for d in deliveries {
                if tx.send(d).await.is_err() {
                    break;
                }
            }
        });
        let result = publisher.run(rx, signal).await;
        let _ = feeder.await;
        (result, store)
    }

    #[tokio::test]
    async fn checkpoints_the_last_transaction_once_all_is_confirmed() {
        let sink = MemorySink::new();
        let (result, store) = run_publisher(
            sink.clone(),
            vec![delivery(3, 100), delivery(0, 150), delivery(2, 200)],
        )
        .await;
        let cp = result.unwrap().unwrap();
        assert_eq!(cp.position.offset, 200);
        assert_eq!(store.get().unwrap().position.offset, 200);
        assert_eq!(sink.recorded().len(), 5);
    }

    #[tokio::test]
    async fn a_lost_connection_keeps_the_checkpoint_before_its_transaction() {
        // Messages 0-2 (first transaction) confirm; message 3 (second transaction) is lost.
        let sink = MemorySink::losing_connection_at(3);
        let (result, store) = run_publisher(
            sink,
            vec![delivery(3, 100), delivery(2, 200), delivery(1, 300)],
        )
        .await;
        assert!(
            matches!(result, Err(Error::Sink(SinkError::Lost(_)))),
            "{result:?}"
        );
        assert_eq!(store.get().unwrap().position.offset, 100);
    }

    #[tokio::test]
    async fn nothing_confirmed_means_nothing_saved() {
        let sink = MemorySink::losing_connection_at(0);
        let (result, store) = run_publisher(sink, vec![delivery(1, 100)]).await;
        assert!(result.is_err());
        assert_eq!(store.get(), None);
        assert_eq!(store.saves(), 0);
    }

    /// The ids of `published` in the order of each one's last copy.
    fn order_of_last_copies(published: &[crate::sink::memory::Recorded]) -> Vec<String> {
        let mut last: BTreeMap<&str, usize> = BTreeMap::new();
        for (n, m) in published.iter().enumerate() {
            last.insert(&m.id, n);
        }
        let mut ids: Vec<(&usize, &str)> = last.iter().map(|(id, n)| (n, *id)).collect();
        ids.sort();
        ids.into_iter().map(|(_, id)| id.to_owned()).collect()
    }

    /// Message ids in binlog order: transaction end offset, then index.
    fn binlog_order(ids: &[String]) -> Vec<String> {
        let mut sorted = ids.to_vec();
        sorted.sort_by_key(|id| {
            let parts: Vec<&str> = id.split(':').collect();
            (
                parts[2].parse::<u64>().unwrap(),
                parts[3].parse::<u64>().unwrap(),
            )
        });
        sorted
    }

    #[tokio::test]
    async fn a_nacked_message_is_sent_again_with_every_one_after_it() {
        // The fourth publish (the second transaction's first message) is refused.
        let sink = MemorySink::nacking([3]);
        let (result, store) = run_publisher(
            sink.clone(),
            vec![delivery(3, 100), delivery(2, 200), delivery(2, 300)],
        )
        .await;
        assert_eq!(result.unwrap().unwrap().position.offset, 300);
        assert_eq!(store.get().unwrap().position.offset, 300);
        let published = sink.recorded();
        // The refused message went out again, and so did what was out after it.
        assert!(published.len() > 7, "{} publishes", published.len());
        let ids: BTreeSet<&str> = published.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), 7);
        let last = order_of_last_copies(&published);
        assert_eq!(last, binlog_order(&last), "last copies out of binlog order");
        let refused = &published[3].id;
        assert_eq!(published.iter().filter(|m| &m.id == refused).count(), 2);
    }

    /// The promise this project exists for, checked against every order in which a broker
    /// may settle confirmations: the saved checkpoint never passes a message that has no
    /// acked copy, whatever is held, nacked or acked out of turn, at any checkpoint
    /// interval; and once everything is acked, it reaches the end.
    #[tokio::test(flavor = "current_thread")]
    async fn the_checkpoint_never_passes_a_message_without_an_acked_copy() {
        for seed in 0..60u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            // Transactions of 0-4 messages, ending at offsets 100, 200, ...
            let sizes: Vec<usize> = (0..rng.usize(3..12)).map(|_| rng.usize(0..5)).collect();
            let ends: Vec<u64> = (1..=sizes.len() as u64).map(|t| t * 100).collect();
            let deliveries: Vec<Delivery> = sizes
                .iter()
                .zip(&ends)
                .map(|(&n, &end)| delivery(n, end))
                .collect();
            let (sink, held) = HeldSink::new();
            let store = MemoryStore::new();
            let interval = if rng.bool() {
                Duration::from_millis(1)
            } else {
                Duration::from_secs(3600)
            };
            let publisher = Publisher::new(sink, store.clone(), None, rng.usize(1..6), interval)
                .with_retry(FAST_RETRY);
            let (tx, rx) = mpsc::channel(2);
            let (_shutdown, signal) = Shutdown::new();
            let task = tokio::spawn(publisher.run(rx, signal));
            let feeder = tokio::spawn(async move {
                for d in deliveries {
                    if tx.send(d).await.is_err() {
                        break;
                    }
                }
            });
            // Ids with an acked copy.
            let mut acked: BTreeSet<String> = BTreeSet::new();
            // The furthest a correct checkpoint may be: the last end before which every
            // message has an acked copy.
            let bound = |acked: &BTreeSet<String>| -> u64 {
                let mut reached = 0;
                for (&n, &end) in sizes.iter().zip(&ends) {
                    let all = (0..n).all(|i| acked.contains(&format!("1:bin.000001:{end}:{i}")));
                    if !all {
                        break;
                    }
                    reached = end;
                }
                reached
            };
            let mut steps = 0;
            while !task.is_finished() {
                steps += 1;
                let open = held.open();
                let finishing = steps > 200;
                if let Some(&n) = (!open.is_empty()).then(|| &open[rng.usize(..open.len())]) {
                    let id = held.published()[n].id.clone();
                    if !finishing && rng.u8(..10) < 3 {
                        held.nack(n);
                    } else if held.ack(n) {
                        acked.insert(id);
                    }
                }
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                if open.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let saved = store.get().map_or(0, |cp| cp.position.offset);
                assert!(
                    saved <= bound(&acked),
                    "seed {seed}: checkpoint at {saved}, but only up to {} is acked",
                    bound(&acked)
                );
                assert!(steps < 10_000, "seed {seed}: the publisher did not finish");
            }
            let _ = feeder.await;
            let result = task.await.unwrap();
            let last = *ends.last().unwrap();
            assert_eq!(result.unwrap().map(|cp| cp.position.offset), Some(last));
            assert_eq!(store.get().unwrap().position.offset, last, "seed {seed}");
            let published = held.published();
            let order = order_of_last_copies(&published);
            assert_eq!(order, binlog_order(&order), "seed {seed}");
            assert_eq!(order.len(), sizes.iter().sum::<usize>(), "seed {seed}");
        }
    }
}
