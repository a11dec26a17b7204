//! Prints what binlog-relay publishes: binds a temporary queue to an exchange and prints each
//! message's routing key, properties and body. Used by `scripts/demo.sh`; handy for looking
//! at a live exchange too.
//!
//! `cargo run --example consume -- --uri amqp://guest:guest@127.0.0.1:5673/%2f --exchange demo --count 5`

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    uri: String,
    #[arg(long, default_value = "maxwell")]
    exchange: String,
    /// Declare the exchange as this type first (it must match the daemon's settings).
    #[arg(long, default_value = "topic")]
    exchange_type: String,
    /// Binding key; `#` takes everything on a topic exchange.
    #[arg(long, default_value = "#")]
    binding: String,
    /// Use a durable queue of this name (kept after exit) instead of a temporary one.
    #[arg(long)]
    queue: Option<String>,
    /// Exit after this many messages; 0 declares the exchange, queue and binding and exits.
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Exit after this many seconds without reaching `count`.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let conn = Connection::connect(&args.uri, ConnectionProperties::default())
        .await
        .context("connect to RabbitMQ")?;
    let channel = conn.create_channel().await?;
    let kind = match args.exchange_type.as_str() {
        "fanout" => ExchangeKind::Fanout,
        "direct" => ExchangeKind::Direct,
        "headers" => ExchangeKind::Headers,
        _ => ExchangeKind::Topic,
    };
    channel
        .exchange_declare(
            args.exchange.as_str().into(),
            kind,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .context("declare exchange")?;
    let options = match &args.queue {
        Some(_) => QueueDeclareOptions::durable(),
        None => QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        },
    };
    let queue = channel
        .queue_declare(
            args.queue.clone().unwrap_or_default().as_str().into(),
            options,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            args.exchange.as_str().into(),
            args.binding.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    eprintln!(
        "consume: ready, bound to exchange {:?} with {:?}",
        args.exchange, args.binding
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut seen = 0;
    while seen < args.count && tokio::time::Instant::now() < deadline {
        match channel
            .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
            .await?
        {
            Some(m) => {
                seen += 1;
                let p = &m.delivery.properties;
                let props = match p.delivery_mode() {
                    Some(mode) => format!("delivery_mode={mode}"),
                    None => "no properties".to_owned(),
                };
                println!(
                    "[{}] ({props}) {}",
                    m.delivery.routing_key,
                    String::from_utf8_lossy(&m.delivery.data)
                );
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let _ = conn.close(200, "done".into()).await;
    if seen < args.count {
        anyhow::bail!("only {seen} of {} messages arrived", args.count);
    }
    Ok(())
}
