#!/usr/bin/env bash
# Measures binlog-relay catching up on a 100k-row insert: writes ROWS rows (transactions of
# 1000) into a 10-column table on the project MariaDB, then runs the release binary over
# exactly that binlog range (--stop-at the position after the writes) six times, reporting
# rows/s, CPU seconds and peak RSS for each (plain text unless the run says TLS):
#   stdout        decode + encode + write to /dev/null
#   rabbitmq      publisher confirms, transient messages, one bound durable queue
#   rabbitmq-p    the same with persistent messages (delivery_mode=2)
#   stdout+mask   stdout with a filter rule and masks on every row: two columns hashed
#                 (HMAC-SHA256), one redacted, one nulled (the price of [filter] and [masking])
#   stdout-tls    stdout, reading the binlog over TLS with verify-identity
#   rabbitmq-tls  rabbitmq (transient), with TLS on both connections (amqps://)
# All other runs connect in plain text (source.tls.mode = "disabled"), to compare with the
# figures taken before TLS existed.
#
# usage: scripts/measure-insert.sh [ROWS]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}

source scripts/measure-lib.sh

cargo build --release --quiet --bin binlog-relay --example consume

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wide_table bench
start=$(binlog_now)
t0=$(date +%s.%N)
for ((i = 0; i < ROWS; i += 1000)); do
  echo "INSERT INTO bench.wide SELECT seq, seq * 1000003, seq % 4000000000, CONCAT('name-', seq),
    seq / 7, seq / 3.0, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123',
    REPEAT('x', 40), seq % 2 FROM seq_$((i + 1))_to_$((i + 1000));"
done | mysql bench
t1=$(date +%s.%N)
stop=$(binlog_now)
printf 'wrote %d rows in %.1f s (binlog %s .. %s)\n' "$ROWS" "$(calc "$t1 - $t0")" "$start" "$stop"

tls_dir=$BINLOG_RELAY_TEST_TLS_DIR
plain='[source.tls]
mode = "disabled"'
# Variables for one run, e.g. to reach the servers by TLS.
run_env=()
run() { # name sink persistent [extra TOML]
  local name=$1 sink=$2 persistent=$3 extra=${4:-$plain}
  relay_config "$work/c.toml" "$start" "$sink" bench "$persistent" "$extra"
  rm -rf "$work/state"
  env "${run_env[@]}" BENCH_MASK_KEY=0123456789abcdef0123456789abcdef /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    target/release/binlog-relay run --config "$work/c.toml" --stop-at "$stop" >/dev/null 2>"$work/log" \
    || { cat "$work/log"; exit 1; }
  read -r wall user sys rss <"$work/time"
  printf '%-12s %8.2f s %10.0f rows/s   cpu %.2f s   peak rss %d MiB\n' \
    "$name" "$wall" "$(calc "$ROWS / $wall")" "$(calc "$user + $sys")" $((rss / 1024))
}

printf '%-12s %10s %17s\n' sink wall throughput
run stdout stdout false
run stdout+mask stdout false '[filter]
rules = "exclude: bench.other, exclude: *./^tmp_/"
[masking]
hash_key_env = "BENCH_MASK_KEY"
[[masking.rules]]
tables = "bench.wide"
hash = ["name", "a"]
redact = ["note"]
null = ["created"]
'"$plain"
run_env=(BINLOG_RELAY__SOURCE__HOST=localhost)
run stdout-tls stdout false '[source.tls]
mode = "verify-identity"
ca_file = "'"$tls_dir/ca.pem"'"'
run_env=()
target/release/examples/consume --uri "$BINLOG_RELAY_TEST_AMQP_URI" --exchange bench \
  --binding 'bench.#' --queue bench_measure --count 0 2>/dev/null
rabbitmqctl_ purge_queue bench_measure >/dev/null
run rabbitmq rabbitmq false
got=$(rabbitmqctl_ list_queues name messages | awk '$1=="bench_measure"{print $2}')
rabbitmqctl_ purge_queue bench_measure >/dev/null
run rabbitmq-p rabbitmq true
got_p=$(rabbitmqctl_ list_queues name messages | awk '$1=="bench_measure"{print $2}')
rabbitmqctl_ purge_queue bench_measure >/dev/null
run_env=(BINLOG_RELAY__SOURCE__HOST=localhost
  "BINLOG_RELAY__SINK__RABBITMQ__URI=amqps://guest:guest@localhost:$BINLOG_RELAY_TEST_AMQPS_PORT/%2f")
run rabbitmq-tls rabbitmq false '[source.tls]
mode = "verify-identity"
ca_file = "'"$tls_dir/ca.pem"'"
[sink.rabbitmq.tls]
ca_file = "'"$tls_dir/ca.pem"'"'
run_env=()
got_t=$(rabbitmqctl_ list_queues name messages | awk '$1=="bench_measure"{print $2}')
rabbitmqctl_ delete_queue bench_measure >/dev/null
echo "messages in the bound queue: transient $got, persistent $got_p, tls $got_t (expected $ROWS each)"
mysql -e "DROP DATABASE bench"
