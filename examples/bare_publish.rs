//! The broker's ceiling: publishes the message bodies in a file (one per line, as the stdout
//! sink prints them) to an exchange with publisher confirms, as fast as the broker confirms
//! them, keeping up to `--in-flight` unconfirmed, like the daemon's sink. Nothing else: no
//! binlog, no decoding. `scripts/compare.sh` sets binlog-relay's end-to-end rate beside it.
//!
//! `cargo run --release --example bare_publish -- --uri amqp://... --exchange bench --file messages.jsonl --persistent`

use std::collections::VecDeque;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    uri: String,
    /// An existing exchange (the daemon's).
    #[arg(long)]
    exchange: String,
    /// Message bodies, one per line.
    #[arg(long)]
    file: std::path::PathBuf,
    /// Routing key for every message.
    #[arg(long, default_value = "bench.wide")]
    routing_key: String,
    /// delivery_mode=2, as `sink.rabbitmq.persistent = true`.
    #[arg(long)]
    persistent: bool,
    /// Unconfirmed messages at once (the daemon's `max_in_flight` default).
    #[arg(long, default_value_t = 1000)]
    in_flight: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("read {}", args.file.display()))?;
    let bodies: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
    let conn = Connection::connect(&args.uri, ConnectionProperties::default())
        .await
        .context("connect to RabbitMQ")?;
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let properties = if args.persistent {
        BasicProperties::default().with_delivery_mode(2)
    } else {
        BasicProperties::default()
    };
    let started = Instant::now();
    let mut pending = VecDeque::with_capacity(args.in_flight);
    for body in &bodies {
        if pending.len() >= args.in_flight
            && let Some(confirm) = pending.pop_front()
        {
            settle(confirm).await?;
        }
        let confirm = channel
            .basic_publish(
                args.exchange.as_str().into(),
                args.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                body,
                properties.clone(),
            )
            .await?;
        pending.push_back(confirm);
    }
    for confirm in pending {
        settle(confirm).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "published {} messages with confirms in {seconds:.2} s: {:.0} msg/s",
        bodies.len(),
        bodies.len() as f64 / seconds
    );
    conn.close(200, "done".into()).await?;
    Ok(())
}

async fn settle(confirm: lapin::PublisherConfirm) -> anyhow::Result<()> {
    match confirm.await? {
        lapin::Confirmation::Ack(_) => Ok(()),
        other => bail!("the broker did not acknowledge a message: {other:?}"),
    }
}
