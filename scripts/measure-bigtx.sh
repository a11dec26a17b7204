#!/usr/bin/env bash
# Measures one large transaction: inserts ROWS rows into a 10-column table in a single
# transaction on the project MariaDB, then runs the release binary over exactly that
# binlog range (--stop-at the position after it, stdout sink, lines counted) twice:
#   in-memory   transactions.memory_limit_mb = 8192: every row waits in memory
#   spill       transactions.memory_limit_mb = 16 (the default): rows past 16 MiB wait in
#               a temporary file under /var/tmp and stream back at the commit
# reporting wall time, rows/s, CPU seconds and peak RSS for each.
#
# usage: scripts/measure-bigtx.sh [ROWS]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}

source scripts/measure-lib.sh

cargo build --release --quiet --bin binlog-relay

work=$(mktemp -d /var/tmp/measure-bigtx.XXXXXX)
trap 'rm -rf "$work"' EXIT

wide_table bench_bigtx
start=$(binlog_now)
t0=$(date +%s.%N)
mysql bench_bigtx -e "
  INSERT INTO wide SELECT seq, seq * 1000003, seq % 4000000000, CONCAT('name-', seq),
    seq / 7, seq / 3.0, '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123',
    REPEAT('x', 40), seq % 2 FROM seq_1_to_$ROWS"
t1=$(date +%s.%N)
stop=$(binlog_now)
printf 'wrote one %d-row transaction in %.1f s (binlog %s .. %s)\n' "$ROWS" "$(calc "$t1 - $t0")" "$start" "$stop"

run() { # name memory_limit_mb
  local name=$1 limit=$2
  local extra
  extra=$(printf '[source.tls]\nmode = "disabled"\n[transactions]\nmemory_limit_mb = %s\nspill_dir = "%s"' \
    "$limit" "$work")
  relay_config "$work/c.toml" "$start" stdout bench false "$extra"
  rm -rf "$work/state"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    target/release/binlog-relay run --config "$work/c.toml" --stop-at "$stop" 2>"$work/log" \
    | wc -l >"$work/lines" || { cat "$work/log"; exit 1; }
  read -r wall user sys rss <"$work/time"
  local spilled
  spilled=$(grep -o 'spilled=[0-9]*' "$work/log" | head -1 | cut -d= -f2 || true)
  printf '%-10s %8.2f s %10.0f rows/s   cpu %.2f s   peak rss %4d MiB   messages %d   rows spilled %s\n' \
    "$name" "$wall" "$(calc "$ROWS / $wall")" "$(calc "$user + $sys")" $((rss / 1024)) \
    "$(cat "$work/lines")" "${spilled:-0}"
}

run in-memory 8192
run spill 16
mysql -e "DROP DATABASE bench_bigtx"
