//! Tests that need no server: one module per concern.

mod architecture;
mod bad_config;
#[cfg(feature = "failpoints")]
mod failpoints;
mod fixtures;
mod golden;
mod harness;
mod pipeline;
