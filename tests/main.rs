//! Integration tests: the `binlog-relay` binary against a real MariaDB (ROW binlog) and a
//! real RabbitMQ, both started by `scripts/services.sh` on first use.
//!
//! All tests build into this one binary, so they share the services and the lock that keeps
//! tests which change server-wide settings apart from the others.

mod integration;
