#!/usr/bin/env bash
# An overloaded broker: a queue limited to MAX messages that refuses the rest
# (x-overflow = reject-publish), drained at a steady RATE messages a second
# (examples/overload.rs). binlog-relay streams one transaction of ROWS inserts and one that
# updates every row, with default settings. Prints how long the changes took to arrive,
# the rate that makes against the consumer's, the repeats, whether each row's last copy is
# its latest change, and the daemon's refusal counters.
#
# usage: scripts/measure-overload.sh [ROWS] [RATE] [MAX]     (defaults 3000 2000 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-3000}
RATE=${2:-2000}
MAX=${3:-1000}

source scripts/measure-lib.sh
cargo build --release --quiet --bin binlog-relay --example overload

work=$(mktemp -d)
daemon=
consumer=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; [ -n "$consumer" ] && kill "$consumer" 2>/dev/null; rm -rf "$work"' EXIT

mysql -e "DROP DATABASE IF EXISTS ov; CREATE DATABASE ov; CREATE TABLE ov.t (id BIGINT PRIMARY KEY, n BIGINT)"
start=$(binlog_now)
relay_config "$work/c.toml" "$start" rabbitmq ov false
sed -i 's/^listen = ""/listen = "127.0.0.1:19187"/' "$work/c.toml"

target/release/examples/overload --uri "$BINLOG_RELAY_TEST_AMQP_URI" --exchange ov \
  --rows "$ROWS" --rate "$RATE" --max-length "$MAX" >"$work/result" 2>"$work/consumer.err" &
consumer=$!
until grep -q ready "$work/consumer.err"; do sleep 0.1; done
target/release/binlog-relay run --config "$work/c.toml" >/dev/null 2>"$work/daemon.err" &
daemon=$!
sleep 2
mysql ov -e "INSERT INTO t SELECT seq, seq FROM seq_1_to_$ROWS; UPDATE t SET n = n + 1000000"
wait "$consumer" || { cat "$work/consumer.err" >&2; exit 1; }
consumer=
scrape=$(curl -s http://127.0.0.1:19187/metrics || true)
kill -TERM "$daemon"
wait "$daemon" || true
daemon=
cat "$work/result"
grep -E '^binlog_relay_(messages_failed_total\{reason="nack"\}|publish_retries_total\{reason="nack"\}|messages_resent_total|reconnects_total)' <<<"$scrape" || true
mysql -e "DROP DATABASE ov"
