//! The integration tests, built into one binary.
//!
//! - `offline` runs anywhere with a plain `cargo test`: fixture binlogs replayed through the
//!   pipeline, the pipeline with in-memory sinks and stores, bad configuration refused at
//!   start-up. No server is needed and nothing is installed.
//! - The failpoint tests are a binary of their own, `tests/failpoints.rs`.
//! - `live` runs the `binlog-relay` binary against the project's MariaDB and RabbitMQ. It is
//!   built with `--features live-tests`, which `scripts/test.sh` turns on after
//!   `scripts/services.sh up`; tests share the services and the lock that keeps tests which
//!   change server-wide settings apart from the others.

#[path = "common/bounded_alloc.rs"]
mod bounded_alloc;
#[path = "common/contract.rs"]
mod contract;
#[path = "common/harness.rs"]
mod harness;

#[global_allocator]
static ALLOCATOR: bounded_alloc::BoundedAlloc = bounded_alloc::BoundedAlloc;
mod offline;
#[path = "common/process.rs"]
mod process;

#[cfg(feature = "live-tests")]
mod live;
