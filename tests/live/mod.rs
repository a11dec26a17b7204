//! Tests against the project's MariaDB and RabbitMQ, one module per concern; `support`
//! holds the shared harness.

mod bootstrap;
mod check;
mod end_to_end;
mod faults;
mod filters;
mod high_availability;
mod large_transaction;
mod liveness;
mod masking;
mod maxwell_config;
mod operations;
mod options;
mod overload;
mod positions;
mod proxy;
mod restart;
mod routing;
mod schema_fallback;
mod schema_history;
mod secrets;
mod support;
mod tls;
mod types;
