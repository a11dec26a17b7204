#!/usr/bin/env bash
# The test command: makes the services available (scripts/services.sh), then checks
# formatting and lints (with and without the test features) and runs every test: unit
# tests, benchmarks in test mode, the offline tests (fixture binlogs through the pipeline,
# failpoints), the live tests against the project's MariaDB and RabbitMQ, then the
# deployment files (scripts/check-deploy.sh: systemd-analyze verify, the Dockerfile's build
# and runtime), the monitoring artefacts and the message contract (scripts/monitoring.sh:
# promtool on the alert rules, the dashboard, the AsyncAPI parser), and a fixed fuzzing
# slice per target (scripts/fuzz.sh --ci). Ends with one summary line.
#
# A plain `cargo test` runs the offline tests alone, with no server and nothing installed.
#
# usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh up >/dev/null
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --all-targets --locked --features live-tests,failpoints -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --lib --bins --benches --examples 2>&1 | tee "$log"
cargo test --locked --test failpoints --features failpoints 2>&1 | tee -a "$log"
cargo test --locked --test main --features live-tests 2>&1 | tee -a "$log"
scripts/check-deploy.sh
# Alert rules (promtool), dashboard, and the AsyncAPI contract (scripts/monitoring.sh).
scripts/monitoring.sh
# A short fuzzing slice over the replay path and the DDL reader, the same on every clone
# (longer runs find new inputs: docs/fuzzing.md).
scripts/fuzz.sh --ci
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
