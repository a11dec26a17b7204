//! The integration tests, one module per concern; `support` holds the shared harness.

mod bad_config;
mod check;
mod end_to_end;
mod faults;
mod filters;
mod fixtures;
mod golden;
mod large_transaction;
mod masking;
mod maxwell_config;
mod operations;
mod options;
mod positions;
mod restart;
mod routing;
mod schema_fallback;
mod schema_history;
mod secrets;
mod support;
mod tls;
mod types;
