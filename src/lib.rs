//! binlog-relay: a MySQL/MariaDB change-data-capture daemon that reads the binlog as a
//! replica and publishes every row change as Maxwell-format JSON to RabbitMQ, with publisher
//! confirms and a checkpoint that never runs ahead of the broker.
//!
//! The data path, one module each, in the order data flows:
//!
//! - [`source`]: the replica connection and the binlog event stream.
//! - [`schema`]: column names and encodings for each table map.
//! - [`decode`]: rows events into row images and typed values, without allocating per row.
//! - [`filter`]: which tables and rows are published (Maxwell's filter rules).
//! - [`format`](mod@format): Maxwell's JSON, byte for byte, its transaction fields, column masks, and
//!   the spill file for large transactions.
//! - [`sink`]: RabbitMQ (and stdout), each message confirmed.
//! - [`checkpoint`]: the position of the last fully confirmed transaction.
//!
//! [`pipeline`] runs them as a reader task and a publisher task and reconnects after lost
//! connections; [`config`] loads and checks the configuration; [`position`] is the binlog
//! coordinate they all share. Beside the path, for operators: [`metrics`] and [`http`]
//! (`/metrics`, `/healthz`, `/readyz`), [`systemd`] (readiness and watchdog), [`check`]
//! (the pre-flight report) and [`shutdown`].

#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod command;
pub mod config;
pub mod decode;
pub mod error;
pub mod failpoints;
pub mod filter;
pub mod format;
pub mod http;
pub mod metrics;
pub mod net;
pub mod pipeline;
pub mod position;
pub mod private_file;
pub mod reconnect;
pub mod schema;
pub mod section;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod systemd;
pub mod table;

pub use error::Error;
