#!/usr/bin/env bash
# Measures the schema history's start-up cost: creates TABLES tables of 12 columns on the
# project MariaDB, then times `binlog-relay schema recapture` (information_schema capture
# plus the read-ahead scan) and reports the history file's size and the peak RSS.
#
# usage: scripts/measure-schema.sh [TABLES]     (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES=${1:-1000}

source scripts/measure-lib.sh

cargo build --release --quiet --bin binlog-relay

work=$(mktemp -d)
trap 'rm -rf "$work"; mysql -e "DROP DATABASE IF EXISTS schemabench"' EXIT
mysql -e "DROP DATABASE IF EXISTS schemabench; CREATE DATABASE schemabench"
for ((i = 0; i < TABLES; i++)); do
  echo "CREATE TABLE schemabench.t$i (id BIGINT UNSIGNED PRIMARY KEY, a INT, b VARCHAR(64),
    c DECIMAL(12,2), d DATETIME(6), e TIMESTAMP(3) NULL, f TEXT, g ENUM('x','y','z'),
    h DOUBLE, i TINYINT, j VARBINARY(16), k JSON);"
done | mysql
cat > "$work/config.toml" <<CONF
[source]
host = "127.0.0.1"
port = $MYSQL_PORT
user = "root"
server_id = 4242
[source.tls]
mode = "disabled"
[sink]
type = "stdout"
[checkpoint]
dir = "$work/state"
CONF
/usr/bin/time -f '%e s elapsed, %U+%S s CPU, %M KiB peak RSS' \
  target/release/binlog-relay schema recapture --config "$work/config.toml" 2>&1 | grep -v INFO
printf 'history file: %s bytes\n' "$(stat -c %s "$work/state/schema-history.jsonl")"
