#!/usr/bin/env bash
# Bootstrap throughput beside the live stream: loads ROWS rows into the 26-column
# mixed-type table of scripts/compare.sh, starts the release daemon at the end of that
# load (stdout sink, so the figures are the daemon's own), starts a writer of about
# RATE rows/s into another table, asks for a bootstrap of the big table, and reports:
#   - bootstrap rows/s, from bootstrap-start to bootstrap-complete at the consumer;
#   - the daemon's peak RSS over the whole run;
#   - the live rows' lag during the bootstrap: arrival at the consumer minus the row's
#     NOW(6) at insert (same machine, same clock), as max, p99 and p50.
#
# usage: scripts/measure-bootstrap.sh [ROWS] [RATE] [CHUNK_ROWS]   (default 1000000 1000 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
RATE=${2:-1000}
CHUNK=${3:-5000}

source scripts/measure-lib.sh

cargo build --release --quiet --bin binlog-relay

work=$(mktemp -d)
daemon=
writer=
trap '[ -n "$writer" ] && kill -- "-$writer" 2>/dev/null; [ -n "$daemon" ] && kill "$daemon" 2>/dev/null; rm -rf "$work"' EXIT

mixed_table bench_boot
mysql -e "CREATE TABLE bench_boot.live (id BIGINT AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(6) NOT NULL DEFAULT NOW(6), v INT)"
echo "loading $ROWS rows into bench_boot.mixed" >&2
mixed_inserts bench_boot "$ROWS"
start=$(binlog_now)

relay_config "$work/c.toml" "$start" stdout unused false
cat >>"$work/c.toml" <<TOML
[bootstrap]
database = "bench_boot_mx"
chunk_rows = $CHUNK
TOML
mysql -e "DROP DATABASE IF EXISTS bench_boot_mx"

# The consumer: reads the daemon's stdout, timestamps what it needs.
cat >"$work/consume.py" <<'PY'
import json, sys, time, datetime
lags, state = [], {"start": None, "complete": None, "inserts": 0, "live": 0}
for line in sys.stdin.buffer:
    if b'"table":"live"' in line:
        now = time.time()
        m = json.loads(line)
        at = datetime.datetime.strptime(m["data"]["at"], "%Y-%m-%d %H:%M:%S.%f")
        at = at.replace(tzinfo=datetime.timezone.utc).timestamp()
        state["live"] += 1
        if state["start"] is not None and state["complete"] is None:
            lags.append(now - at)
    elif b'"type":"bootstrap-insert"' in line:
        state["inserts"] += 1
    elif b'"type":"bootstrap-start"' in line:
        state["start"] = time.time()
    elif b'"type":"bootstrap-complete"' in line:
        state["complete"] = time.time()
        print("complete", flush=True, file=sys.stderr)
lags.sort()
pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] if lags else float("nan")
took = (state["complete"] or float("nan")) - (state["start"] or float("nan"))
print(f"bootstrap-inserts {state['inserts']} in {took:.2f} s: {state['inserts'] / took:.0f} rows/s")
print(f"live rows during the bootstrap {len(lags)} (of {state['live']}): lag max {pick(1.0):.3f} s, p99 {pick(0.99):.3f} s, p50 {pick(0.5):.3f} s")
PY

target/release/binlog-relay run --config "$work/c.toml" 2>"$work/err" \
  > >(python3 "$work/consume.py" >"$work/result" 2>"$work/events") &
daemon=$!
sleep 2

# The writer, in its own process group: RATE rows/s in statements of 10 rows.
cat >"$work/writer.py" <<'PY'
import sys, time
rate = int(sys.argv[1]); per = 10; step = per / rate
t = time.time()
while True:
    print("INSERT INTO bench_boot.live (v) VALUES " + ",".join(["(1)"] * per) + ";", flush=True)
    t += step
    time.sleep(max(0.0, t - time.time()))
PY
setsid bash -c "python3 '$work/writer.py' $RATE | mariadb --no-defaults -h127.0.0.1 -P$MYSQL_PORT -uroot" &
writer=$!
sleep 2

target/release/binlog-relay bootstrap --config "$work/c.toml" bench_boot.mixed >&2
until grep -q complete "$work/events" 2>/dev/null; do
  sleep 0.5
  if ! kill -0 "$daemon" 2>/dev/null; then cat "$work/err" >&2; exit 1; fi
done
sleep 2
kill -- "-$writer" 2>/dev/null || true
writer=
rss=$(awk '/VmHWM/ {print $2}' "/proc/$daemon/status")
cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$daemon/stat")
kill -TERM "$daemon"
wait "$daemon" || true
daemon=
# The consumer ends once the daemon's stdout closes.
for _ in $(seq 50); do grep -q 'rows/s' "$work/result" 2>/dev/null && break; sleep 0.2; done
echo "bootstrap of $ROWS rows (26 columns, chunks of $CHUNK) with about $RATE live rows/s:"
cat "$work/result"
printf 'daemon: %.1f s CPU in all, peak RSS %d MiB\n' "$cpu" $((rss / 1024))
mysql -e "DROP DATABASE bench_boot; DROP DATABASE IF EXISTS bench_boot_mx"
