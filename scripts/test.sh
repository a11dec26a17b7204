#!/usr/bin/env bash
# The test command: makes the services available (scripts/services.sh), then checks
# formatting and lints and runs every test: unit tests, benchmarks in test mode, and the
# integration tests against the project's MariaDB and RabbitMQ, then the deployment files
# (scripts/check-deploy.sh: systemd-analyze verify, the Dockerfile's build and runtime).
# Ends with one summary line.
#
# usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up >/dev/null
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --lib --bins --benches --examples 2>&1 | tee "$log"
cargo test --locked --test main 2>&1 | tee -a "$log"
scripts/check-deploy.sh
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
