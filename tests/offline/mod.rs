//! Tests that need no server: one module per concern.

mod architecture;
mod bad_config;
mod contract;
mod crashers;
mod fixtures;
mod golden;
mod jsonb;
mod pipeline;
