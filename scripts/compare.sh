#!/usr/bin/env bash
# binlog-relay side by side with the alternatives, in one run, on one binlog range.
#
# Writes the comparison workload (scripts/measure-lib.sh) into the project MariaDB: a
# 26-column mixed-type table, ROWS inserts in transactions of 500, an update of every sixth
# row and a delete of every twentieth. Then, over exactly that binlog range, measures:
#   1. binlog-relay, decode + encode to stdout (catch-up over an existing binlog);
#   2. binlog-relay end to end into RabbitMQ, persistent messages, publisher confirms;
#   3. a bare lapin publisher sending the same message bytes with confirms (the broker's
#      ceiling; examples/bare_publish.rs);
#   4. mariadb-binlog -vv over the same range (the server's own C decoder);
#   5. python-mysql-replication decoding the same range into JSON (installed in a venv);
# each with wall time, rows/s, CPU seconds and peak RSS, and the ratio binlog-relay/that.
# Then, with the daemon running, a steady 2,000 rows/s for 20 s and the commit-to-delivery
# latency (examples/latency.rs). Plain-text connections throughout (TLS costs are in
# docs/performance.md).
#
# usage: scripts/compare.sh [ROWS]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}

source scripts/measure-lib.sh
services_dir=${BINLOG_RELAY_SERVICES_DIR:-/var/tmp/binlog-relay-services}

cargo build --release --quiet --bin binlog-relay --example consume --example bare_publish \
  --example latency

work=$(mktemp -d)
daemon=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; rm -rf "$work"' EXIT

# python-mysql-replication, once, in its own venv.
venv=$services_dir/pyvenv
if [ ! -x "$venv/bin/python" ]; then
  echo "installing python-mysql-replication into $venv" >&2
  # Debian ships venv support as its own package.
  python3 -m venv "$venv" 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q 'mysql-replication>=1.0,<2' >&2
fi

# The workload.
mixed_workload cmp "$ROWS"
changes=$(mysql -N -e "SELECT $ROWS + (SELECT COUNT(*) FROM cmp.mixed WHERE id % 6 = 0)
  + ($ROWS + 19) DIV 20")
# The range's size: whole files between, the first from the start offset, the last to the stop.
bytes=$(mysql -N -e "SHOW BINARY LOGS" | awk -v s="${start%%:*}" -v sp="${start##*:}" \
  -v e="${stop%%:*}" -v ep="${stop##*:}" '$1 >= s && $1 <= e {
    size = ($1 == e) ? ep : $2; if ($1 == s) size -= sp; n += size } END { print n }')
printf 'workload: %d row changes, binlog %s .. %s\n' "$changes" "$start" "$stop"

results=()
measure() { # name command... ; appends "name|wall|user+sys|rss_kib" to results
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" || { cat "$work/err" >&2 || true; exit 1; }
  read -r wall user sys rss <"$work/time"
  results+=("$name|$wall|$(calc "$user + $sys")|$rss")
}

config() { # sink persistent
  relay_config "$work/c.toml" "$start" "$1" cmp "$2"
  rm -rf "$work/state"
}

# 1. Decode + encode to stdout, into /dev/null as mariadb-binlog's output below.
config stdout false
measure "binlog-relay, stdout" sh -c "target/release/binlog-relay run --config $work/c.toml \
  --stop-at $stop >/dev/null 2>$work/err"
# The same messages kept in a file for the bare publisher (not timed).
config stdout false
target/release/binlog-relay run --config "$work/c.toml" --stop-at "$stop" \
  >"$work/messages.jsonl" 2>"$work/err"
messages=$(wc -l <"$work/messages.jsonl")

# 2. End to end into RabbitMQ: persistent, confirms, one durable queue.
target/release/examples/consume --uri "$BINLOG_RELAY_TEST_AMQP_URI" --exchange cmp \
  --binding '#' --queue cmp_measure --count 0 2>/dev/null
rabbitmqctl_ purge_queue cmp_measure >/dev/null
config rabbitmq true
measure "binlog-relay, RabbitMQ" sh -c "target/release/binlog-relay run --config $work/c.toml \
  --stop-at $stop >/dev/null 2>$work/err"
queued=$(rabbitmqctl_ list_queues name messages | awk '$1=="cmp_measure"{print $2}')
rabbitmqctl_ purge_queue cmp_measure >/dev/null

# 3. The broker's ceiling with the same bytes.
measure "bare lapin publisher" sh -c "target/release/examples/bare_publish \
  --uri '$BINLOG_RELAY_TEST_AMQP_URI' --exchange cmp --file $work/messages.jsonl \
  --persistent >$work/bare.out 2>$work/err"
queued_bare=$(rabbitmqctl_ list_queues name messages | awk '$1=="cmp_measure"{print $2}')
rabbitmqctl_ delete_queue cmp_measure >/dev/null

# 4. mariadb-binlog -vv over the same range, from the binlog files themselves.
files=()
while read -r file _; do
  if [[ ! "$file" < "${start%%:*}" && ! "$file" > "${stop%%:*}" ]]; then
    files+=("$services_dir/mariadb/binlog/$file")
  fi
done < <(mysql -N -e "SHOW BINARY LOGS")
measure "mariadb-binlog -vv" sh -c "mariadb-binlog --no-defaults -vv \
  --start-position=${start##*:} --stop-position=${stop##*:} ${files[*]} >/dev/null 2>$work/err"

# 5. python-mysql-replication into JSON.
cat >"$work/peer.py" <<'PY'
import json, sys
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent
port, start_file, start_pos, stop_file, stop_pos = sys.argv[1:6]
stream = BinLogStreamReader(
    connection_settings={"host": "127.0.0.1", "port": int(port), "user": "root", "passwd": ""},
    server_id=7402, log_file=start_file, log_pos=int(start_pos), resume_stream=True,
    blocking=False, only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent])
rows = 0
for event in stream:
    if (stream.log_file, stream.log_pos) > (stop_file, int(stop_pos)):
        break
    for row in event.rows:
        json.dumps(row, default=str)
        rows += 1
stream.close()
print(rows)
PY
measure "python-mysql-replication" sh -c "$venv/bin/python $work/peer.py $MYSQL_PORT \
  ${start%%:*} ${start##*:} ${stop%%:*} ${stop##*:} >$work/peer.out 2>$work/err"

# The table, then the ratios that matter.
wall_of() { echo "${results[$1]}" | cut -d'|' -f2; }
printf '\n%-26s %8s %10s %8s %9s\n' "run" "wall" "rows/s" "CPU" "peak RSS"
for r in "${results[@]}"; do
  IFS='|' read -r name wall cpu rss <<<"$r"
  printf '%-26s %7.2fs %10.0f %7.2fs %5d MiB\n' "$name" "$wall" "$(calc "$changes / $wall")" \
    "$cpu" $((rss / 1024))
done
ours=$(wall_of 0)
printf '\nbinlog-relay decode+encode vs mariadb-binlog -vv:        %sx\n' "$(calc "$(wall_of 3) / $ours")"
printf 'binlog-relay decode+encode vs python-mysql-replication:  %sx\n' "$(calc "$(wall_of 4) / $ours")"
printf 'binlog-relay end to end vs the bare publisher ceiling:   %s%%\n' \
  "$(calc "100 * $(wall_of 2) / $(wall_of 1)")"
printf 'checks: %d messages printed, %s queued by binlog-relay, %s by the bare publisher; python counted %s rows; binlog range %d bytes\n' \
  "$messages" "$queued" "$queued_bare" "$(cat "$work/peer.out")" "$bytes"

# 6. Latency at a steady 2,000 rows/s, with the daemon following the live binlog.
config rabbitmq true
sed -i 's/^start = .*/start = "latest"/' "$work/c.toml"
target/release/binlog-relay run --config "$work/c.toml" >/dev/null 2>"$work/daemon.err" &
daemon=$!
sleep 2
target/release/examples/latency --mysql-url "$BINLOG_RELAY_TEST_MYSQL_URL" \
  --amqp-uri "$BINLOG_RELAY_TEST_AMQP_URI" --exchange cmp --table cmp.lat \
  --rate 2000 --batch 20 --seconds 20
kill -TERM "$daemon"
wait "$daemon" || true
daemon=
mysql -e "DROP DATABASE cmp"
