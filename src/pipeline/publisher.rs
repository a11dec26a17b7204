//! The publisher task: publishes transactions in order, keeps up to `max_in_flight`
//! messages awaiting confirmation, and checkpoints only what is confirmed.
//!
//! Confirmations and transaction ends share one FIFO queue. A transaction's end marker sits
//! behind its last message, so it reaches the front only when every earlier message was
//! confirmed; only then does the checkpoint move to it. A confirmation that fails stops the
//! publisher with the checkpoint still at the last fully confirmed transaction, so a restart
//! re-sends the rest: nothing is skipped.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{debug, info};

use super::Delivery;
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::error::Error;
use crate::metrics::METRICS;
use crate::shutdown::ShutdownSignal;
use crate::sink::{MessageId, Outgoing, Sink, SinkError};

/// How often a checkpoint is logged at info level.
const CHECKPOINT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// How long closing the sink may take before it is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

enum InFlight<F> {
    /// A message's confirmation, and when the message was published.
    Confirm(F, Instant),
    End(Checkpoint),
}

/// Publishes deliveries to a sink and maintains the checkpoint.
pub struct Publisher<S: Sink, C> {
    sink: S,
    store: C,
    max_in_flight: usize,
    interval: Duration,
    queue: VecDeque<InFlight<S::Confirm>>,
    unconfirmed: usize,
    /// Everything up to here is confirmed.
    confirmed: Option<Checkpoint>,
    /// What the store holds.
    saved: Option<Checkpoint>,
    /// When a checkpoint was last logged at info level.
    last_logged: Option<Instant>,
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
        Self {
            sink,
            store,
            max_in_flight: max_in_flight.max(1),
            interval,
            queue: VecDeque::new(),
            unconfirmed: 0,
            confirmed: saved.clone(),
            saved,
            last_logged: None,
        }
    }

    /// Runs until the reader closes the channel or shutdown is requested, then waits for the
    /// outstanding confirms and saves the final checkpoint. Returns the saved checkpoint.
    pub async fn run(
        mut self,
        mut input: mpsc::Receiver<Delivery>,
        mut shutdown: ShutdownSignal,
    ) -> Result<Option<Checkpoint>, Error> {
        let result = self.main_loop(&mut input, &mut shutdown).await;
        // Stop intake first so the reader notices, then settle what is in flight.
        input.close();
        let drained = match result {
            Ok(()) => self.drain().await,
            Err(e) => Err(e),
        };
        // Whatever happened, what is confirmed is safe to record.
        let saved = self.save_if_advanced().await;
        let Self {
            sink, saved: last, ..
        } = self;
        // A connection that is already gone may never answer a polite close.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        drained?;
        saved?;
        Ok(last)
    }

    async fn main_loop(
        &mut self,
        input: &mut mpsc::Receiver<Delivery>,
        shutdown: &mut ShutdownSignal,
    ) -> Result<(), Error> {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.settle_ends();
            let has_confirm = matches!(self.queue.front(), Some(InFlight::Confirm(..)));
            let can_take = self.unconfirmed < self.max_in_flight;
            tokio::select! {
                biased;
                // 1. Shutdown: stop taking transactions; the caller drains.
                _ = shutdown.wait() => return Ok(()),
                // 2. The oldest confirmation.
                result = Self::front_confirm(&mut self.queue), if has_confirm => {
                    result?;
                    self.pop_confirmed();
                }
                // 3. The next transaction, while the window has room.
                delivery = input.recv(), if can_take => match delivery {
                    Some(delivery) => self.publish(delivery).await?,
                    None => return Ok(()),
                },
                // 4. Periodic checkpoint.
                _ = tick.tick() => self.save_if_advanced().await?,
                // 5. The connection died while idle: reconnect now, not at the next message.
                e = self.sink.broken() => return Err(Error::Sink(e)),
            }
        }
    }

    /// Awaits the confirmation at the front of the queue (never resolves if there is none).
    async fn front_confirm(queue: &mut VecDeque<InFlight<S::Confirm>>) -> Result<(), Error> {
        match queue.front_mut() {
            Some(InFlight::Confirm(confirm, sent)) => {
                let result = confirm.await;
                METRICS
                    .confirm_seconds
                    .observe(sent.elapsed().as_secs_f64());
                match result {
                    Ok(()) => {
                        METRICS.messages_confirmed.inc();
                        Ok(())
                    }
                    Err(e) => {
                        let reason = match e {
                            SinkError::Nacked => "nack",
                            SinkError::Returned { .. } => "returned",
                            _ => "error",
                        };
                        METRICS.messages_failed.with_label_values(&[reason]).inc();
                        Err(Error::Sink(e))
                    }
                }
            }
            _ => std::future::pending().await,
        }
    }

    /// Takes the settled confirmation off the front of the queue.
    fn pop_confirmed(&mut self) {
        self.queue.pop_front();
        self.unconfirmed -= 1;
        METRICS
            .in_flight
            .set(i64::try_from(self.unconfirmed).unwrap_or(i64::MAX));
    }

    /// Moves the confirmed checkpoint past transaction ends at the front of the queue.
    fn settle_ends(&mut self) {
        while let Some(InFlight::End(_)) = self.queue.front() {
            if let Some(InFlight::End(cp)) = self.queue.pop_front() {
                self.confirmed = Some(cp);
            }
        }
    }

    async fn publish(&mut self, delivery: Delivery) -> Result<(), Error> {
        let Delivery {
            batch,
            end,
            first_index,
            last,
        } = delivery;
        for (index, message) in batch.messages.iter().enumerate() {
            while self.unconfirmed >= self.max_in_flight {
                self.settle_ends();
                Self::front_confirm(&mut self.queue).await?;
                self.pop_confirmed();
            }
            let sent = Instant::now();
            let confirm = self
                .sink
                .publish(Outgoing {
                    database: &message.database,
                    table: &message.table,
                    body: batch.body_of(message),
                    kind: message.kind,
                    id: MessageId {
                        server_id: end.server_id,
                        file: &end.position.file,
                        offset: end.position.offset,
                        index: first_index + index,
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
                .observe(sent.elapsed().as_secs_f64());
            if let Some(published) = METRICS.messages_published.get(message.kind.as_str()) {
                published.inc();
            }
            self.queue.push_back(InFlight::Confirm(confirm, sent));
            self.unconfirmed += 1;
            METRICS
                .in_flight
                .set(i64::try_from(self.unconfirmed).unwrap_or(i64::MAX));
        }
        if last {
            self.queue.push_back(InFlight::End(end));
        }
        Ok(())
    }

    /// Waits for every outstanding confirmation, in order.
    async fn drain(&mut self) -> Result<(), Error> {
        loop {
            self.settle_ends();
            match self.queue.front() {
                None => return Ok(()),
                Some(_) => {
                    Self::front_confirm(&mut self.queue).await?;
                    self.pop_confirmed();
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::MemoryStore;
    use crate::format::{Batch, Message};
    use crate::position::BinlogPosition;
    use crate::shutdown::Shutdown;
    use crate::sink::memory::MemorySink;

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

    async fn run_publisher(
        sink: MemorySink,
        deliveries: Vec<Delivery>,
    ) -> (Result<Option<Checkpoint>, Error>, MemoryStore) {
        let store = MemoryStore::new();
        let (tx, rx) = mpsc::channel(4);
        let (_shutdown, signal) = Shutdown::new();
        let publisher = Publisher::new(sink, store.clone(), None, 2, Duration::from_secs(3600));
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
    async fn a_failed_confirm_keeps_the_checkpoint_before_its_transaction() {
        // Messages 0-2 (first transaction) confirm; message 3 (second transaction) is nacked.
        let sink = MemorySink::failing_after(3);
        let (result, store) = run_publisher(
            sink,
            vec![delivery(3, 100), delivery(2, 200), delivery(1, 300)],
        )
        .await;
        assert!(matches!(result, Err(Error::Sink(_))), "{result:?}");
        assert_eq!(store.get().unwrap().position.offset, 100);
    }

    #[tokio::test]
    async fn nothing_confirmed_means_nothing_saved() {
        let sink = MemorySink::failing_after(0);
        let (result, store) = run_publisher(sink, vec![delivery(1, 100)]).await;
        assert!(result.is_err());
        assert_eq!(store.get(), None);
        assert_eq!(store.saves(), 0);
    }
}
