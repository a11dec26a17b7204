#!/usr/bin/env bash
# The demo: starts the project's MariaDB (ROW binlog) and RabbitMQ, runs binlog-relay against
# them, makes a few changes in two tables, and prints the messages a consumer receives.
#
# usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(scripts/services.sh up | sed 's/^/export /')"
MYSQL_PORT=${BINLOG_RELAY_TEST_MYSQL_URL##*:}
mysql() { mariadb --no-defaults -h127.0.0.1 -P"$MYSQL_PORT" -uroot "$@"; }

echo "== building binlog-relay"
cargo build --release --quiet --bin binlog-relay --example consume

work=$(mktemp -d)
trap 'kill $daemon 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/binlog-relay.toml" <<TOML
[source]
host = "127.0.0.1"
port = $MYSQL_PORT
user = "root"
server_id = 7001
start = "latest"

[source.tls]
# The demo's database is on this machine; anywhere else keep the default (verify-identity)
# and set ca_file (docs/deployment.md, "TLS").
mode = "disabled"

[sink]
type = "rabbitmq"

[sink.rabbitmq]
uri = "$BINLOG_RELAY_TEST_AMQP_URI"
exchange = "binlog_relay_demo"
exchange_type = "topic"

[checkpoint]
dir = "$work/state"
interval_ms = 200
TOML

mysql -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop;
  CREATE TABLE shop.customer (id INT PRIMARY KEY, name VARCHAR(50), balance DECIMAL(10,2), joined DATETIME(3));
  CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, customer_id INT, total DOUBLE, note TEXT);"

echo "== starting a consumer bound to exchange binlog_relay_demo"
target/release/examples/consume --uri "$BINLOG_RELAY_TEST_AMQP_URI" --exchange binlog_relay_demo \
  --binding 'shop.#' --count 7 --timeout-secs 60 >"$work/messages" 2>"$work/consume.log" &
consumer=$!
for _ in $(seq 1 50); do grep -q ready "$work/consume.log" 2>/dev/null && break; sleep 0.2; done

echo "== starting binlog-relay ($work/binlog-relay.toml)"
target/release/binlog-relay run --config "$work/binlog-relay.toml" 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 1 50); do grep -q "streaming binlog" "$work/daemon.log" && break; sleep 0.2; done

echo "== making changes"
mysql -e "BEGIN;
  INSERT INTO shop.customer VALUES (1, 'Zoë', 10.50, '2024-05-01 09:30:00.125'), (2, 'Ade', 0, NOW(3));
  INSERT INTO shop.orders VALUES (100, 1, 42.0, 'first order');
  COMMIT;
  UPDATE shop.customer SET balance = balance - 42 WHERE id = 1;
  UPDATE shop.orders SET note = 'shipped' WHERE id = 100;
  DELETE FROM shop.customer WHERE id = 2;
  INSERT INTO shop.customer VALUES (3, 'Kai', 5, NULL);"

wait "$consumer" || { echo "consumer did not receive every message"; cat "$work/daemon.log"; exit 1; }
echo "== messages received (routing key, properties, body)"
cat "$work/messages"

kill -TERM "$daemon"
wait "$daemon"
echo "== binlog-relay stopped cleanly; its checkpoint:"
cat "$work/state/position.json"
