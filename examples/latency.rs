//! Commit-to-delivery latency under a steady load: inserts rows into a table at a fixed rate
//! (transactions of `--batch` rows), notes when each transaction's COMMIT returned, consumes
//! what a running binlog-relay publishes for that table, and reports the p50, p99 and
//! maximum of (delivery to this consumer − commit). Delivery comes after the broker's
//! confirm of the same message, so these figures bound the commit-to-confirm latency from
//! above. `scripts/compare.sh` runs it against the daemon.
//!
//! `cargo run --release --example latency -- --mysql-url mysql://root@127.0.0.1:3307 --amqp-uri amqp://... --exchange bench --table bench.lat`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use mysql_async::prelude::Queryable;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    mysql_url: String,
    #[arg(long)]
    amqp_uri: String,
    /// The daemon's exchange (topic, `%db%.%table%` keys).
    #[arg(long)]
    exchange: String,
    /// `db.table` with columns (id INT PRIMARY KEY, v VARCHAR(64)); created if missing.
    #[arg(long)]
    table: String,
    /// Rows per second.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// Rows per transaction.
    #[arg(long, default_value_t = 20)]
    batch: u32,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    seconds: u32,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = mysql_async::Pool::new(args.mysql_url.as_str());
    let mut conn = pool.get_conn().await.context("connect to MySQL")?;
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {} (id INT PRIMARY KEY, v VARCHAR(64))",
        args.table
    ))
    .await?;
    conn.query_drop(format!("DELETE FROM {}", args.table))
        .await?;

    // Consumer first, so nothing is missed.
    let amqp = Connection::connect(&args.amqp_uri, ConnectionProperties::default())
        .await
        .context("connect to RabbitMQ")?;
    let channel = amqp.create_channel().await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            args.exchange.as_str().into(),
            args.table.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "latency".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let arrived: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let sink = arrived.clone();
    tokio::spawn(async move {
        while let Some(Ok(delivery)) = consumer.next().await {
            let now = Instant::now();
            let body: serde_json::Value = match serde_json::from_slice(&delivery.data) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if body["type"] == "insert"
                && let Some(id) = body["data"]["id"].as_u64()
                && let Ok(mut map) = sink.lock()
            {
                map.insert(id, now);
            }
        }
    });

    let transactions = u64::from(args.rate / args.batch) * u64::from(args.seconds);
    let period = Duration::from_secs_f64(f64::from(args.batch) / f64::from(args.rate));
    let mut committed: HashMap<u64, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut next_id = 1u64;
    for _ in 0..transactions {
        tick.tick().await;
        let ids: Vec<u64> = (next_id..next_id + u64::from(args.batch)).collect();
        next_id += u64::from(args.batch);
        let values: Vec<String> = ids.iter().map(|id| format!("({id}, 'row {id}')")).collect();
        conn.query_drop(format!(
            "INSERT INTO {} VALUES {}",
            args.table,
            values.join(",")
        ))
        .await?;
        let now = Instant::now();
        for id in ids {
            committed.insert(id, now);
        }
    }
    let load_end = Instant::now();
    let deadline = load_end + Duration::from_secs(30);
    loop {
        let got = arrived.lock().map(|m| m.len()).unwrap_or(0);
        if got >= committed.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arrived = arrived.lock().map(|m| m.clone()).unwrap_or_default();
    let mut latencies: Vec<f64> = committed
        .iter()
        .filter_map(|(id, at)| {
            arrived
                .get(id)
                .map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    if latencies.len() != committed.len() {
        bail!(
            "{} of {} rows arrived within 30 s of the end of the load",
            latencies.len(),
            committed.len()
        );
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "{} rows at {} rows/s in transactions of {}: commit-to-delivery p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        args.rate,
        args.batch,
        at(0.50),
        at(0.99),
        at(1.0)
    );
    conn.disconnect().await?;
    pool.disconnect().await?;
    Ok(())
}
