#!/usr/bin/env bash
# The test command: makes the services available (scripts/services.sh), then checks
# formatting and lints and runs every test (unit tests, fixture tests, and the integration
# tests against the project's MariaDB and RabbitMQ).
#
# usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up >/dev/null
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
