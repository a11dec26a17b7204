//! Tests that need no server: one module per concern.

mod bad_config;
mod fixtures;
mod golden;
