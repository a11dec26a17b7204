//! The consumer side of `scripts/measure-overload.sh`: a queue that holds at most
//! `--max-length` messages and refuses the rest (`x-overflow = reject-publish`), drained at
//! a steady `--rate` messages a second. It waits for ROWS rows' inserts and updates (the
//! script's two transactions), then says how long they took to arrive from the first
//! message, the rate that makes against the consumer's, how many copies came, and whether
//! each row's last copy was its latest change (the update).
//!
//! `cargo run --release --example overload -- --uri amqp://guest:guest@127.0.0.1:5673/%2f --exchange ov --rows 3000`

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    uri: String,
    #[arg(long)]
    exchange: String,
    /// Rows the transactions write: each comes as an insert and an update.
    #[arg(long)]
    rows: u64,
    /// The queue's limit.
    #[arg(long, default_value_t = 1000)]
    max_length: i64,
    /// Messages taken a second.
    #[arg(long, default_value_t = 2000)]
    rate: usize,
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let conn = Connection::connect(&args.uri, ConnectionProperties::default())
        .await
        .context("connect to RabbitMQ")?;
    let channel = conn.create_channel().await?;
    channel
        .exchange_declare(
            args.exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-max-length".into(),
        AMQPValue::LongLongInt(args.max_length),
    );
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            args.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    eprintln!("overload: ready");
    let per_tick = (args.rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut first: Option<Instant> = None;
    let mut messages = 0u64;
    let mut changes: BTreeSet<(bool, u64)> = BTreeSet::new();
    let mut last: BTreeMap<u64, bool> = BTreeMap::new();
    let want = 2 * args.rows as usize;
    let mut complete: Option<Instant> = None;
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        tick.tick().await;
        let mut got = 0;
        for _ in 0..per_tick {
            let Some(m) = channel
                .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
                .await?
            else {
                break;
            };
            got += 1;
            first.get_or_insert_with(Instant::now);
            messages += 1;
            let v: serde_json::Value = serde_json::from_slice(&m.delivery.data)?;
            let update = v["type"] == "update";
            let id = v["data"]["id"].as_u64().context("data.id")?;
            changes.insert((update, id));
            last.insert(id, update);
        }
        if got > 0 {
            quiet_since = Instant::now();
        }
        if complete.is_none() && changes.len() == want {
            complete = Some(Instant::now());
        }
        if complete.is_some() && quiet_since.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let _ = conn.close(200, "done".into()).await;
    let (Some(first), Some(complete)) = (first, complete) else {
        anyhow::bail!("only {} of {want} changes arrived", changes.len());
    };
    let took = complete.duration_since(first).as_secs_f64();
    let rate = want as f64 / took;
    let stale = last.values().filter(|update| !**update).count();
    println!(
        "{want} changes ({} rows) through a reject-publish queue of {} drained at {}/s: {took:.2} s from the first message, {rate:.0} changes/s = {:.1}% of the consumer's rate; {messages} messages ({} repeats); rows whose last copy is not the update: {stale}",
        args.rows,
        args.max_length,
        args.rate,
        100.0 * rate / args.rate as f64,
        messages - want as u64
    );
    if stale > 0 {
        anyhow::bail!("{stale} rows' last copy is not their latest change");
    }
    Ok(())
}
