#!/usr/bin/env bash
# Checks that a change did not change the output: another build of binlog-relay (OLD, for
# example one built from the commit before a refactor) and this tree's release build read
# the same binlog range of the comparison workload (scripts/measure-lib.sh: ROWS inserts of
# the 26-column mixed-type table in transactions of 500, an update of every sixth row, a
# delete of every twentieth) to stdout, with the default output options and then with every
# optional field on; the outputs must be byte-identical.
#
# usage: scripts/same-output.sh OLD_BINARY [ROWS]     (default 300000)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$(realpath "$1")
ROWS=${2:-300000}

source scripts/measure-lib.sh
cargo build --release --quiet --bin binlog-relay
NEW=target/release/binlog-relay

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mixed_workload same "$ROWS"
echo "range: $start .. $stop"

all_fields='[output]
binlog_position = true
gtid_position = true
server_id = true
thread_id = true
schema_id = true
row_query = true
primary_keys = true
primary_key_columns = true
ddl = true
[source.tls]
mode = "disabled"'

status=0
for options in default all; do
  extra=""
  [ "$options" = all ] && extra=$all_fields
  for build in old new; do
    bin=$OLD
    [ "$build" = new ] && bin=$NEW
    relay_config "$work/c.toml" "$start" stdout same false "$extra"
    rm -rf "$work/state"
    "$bin" run --config "$work/c.toml" --stop-at "$stop" >"$work/$options.$build" 2>"$work/err" \
      || { cat "$work/err" >&2; exit 1; }
  done
  lines=$(wc -l <"$work/$options.new")
  if cmp -s "$work/$options.old" "$work/$options.new"; then
    printf '%s options: %d messages, identical (sha256 %s)\n' "$options" "$lines" \
      "$(sha256sum <"$work/$options.new" | cut -c1-16)"
  else
    printf '%s options: OUTPUT DIFFERS\n' "$options"
    cmp "$work/$options.old" "$work/$options.new" | head -1 || true
    status=1
  fi
done
mysql -e "DROP DATABASE same"
exit $status
