#!/usr/bin/env bash
# Peak memory while streaming many rows in ordinary transactions: inserts ROWS rows of the
# 26-column mixed-type table of scripts/compare.sh in transactions of 500, then runs the
# release binary over exactly that binlog range (--stop-at) twice:
#   stdout     decode + encode into /dev/null
#   rabbitmq   end to end, persistent messages, publisher confirms, one durable queue
# reporting wall time, rows/s, CPU seconds and peak RSS for each, and how many messages
# arrived.
#
# usage: scripts/measure-stream.sh [ROWS]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}

source scripts/measure-lib.sh

cargo build --release --quiet --bin binlog-relay --example consume

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mixed_table bench_stream
start=$(binlog_now)
mixed_inserts bench_stream "$ROWS"
stop=$(binlog_now)
echo "wrote $ROWS rows in transactions of 500 (binlog $start .. $stop)"

run() { # name sink
  relay_config "$work/c.toml" "$start" "$2" bench_stream true
  rm -rf "$work/state"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" target/release/binlog-relay run \
    --config "$work/c.toml" --stop-at "$stop" 2>"$work/err" | wc -l >"$work/lines" \
    || { cat "$work/err" >&2; exit 1; }
  read -r wall user sys rss <"$work/time"
  local arrived
  if [ "$2" = stdout ]; then
    arrived="$(cat "$work/lines") printed"
  else
    arrived="$(rabbitmqctl_ list_queues name messages |
      awk '$1=="bench_stream_measure"{print $2}') queued"
  fi
  printf '%-10s %7.2f s %9.0f rows/s   cpu %6.2f s   peak rss %4d MiB   messages %s\n' \
    "$1" "$wall" "$(calc "$ROWS / $wall")" "$(calc "$user + $sys")" $((rss / 1024)) "$arrived"
  if [ "${arrived%% *}" != "$ROWS" ]; then
    echo "expected $ROWS messages from the $1 run" >&2
    exit 1
  fi
}

run stdout stdout
target/release/examples/consume --uri "$BINLOG_RELAY_TEST_AMQP_URI" --exchange bench_stream \
  --binding '#' --queue bench_stream_measure --count 0 2>/dev/null
rabbitmqctl_ purge_queue bench_stream_measure >/dev/null
run rabbitmq rabbitmq
rabbitmqctl_ delete_queue bench_stream_measure >/dev/null
mysql -e "DROP DATABASE bench_stream"
