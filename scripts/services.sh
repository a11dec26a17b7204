#!/usr/bin/env bash
# Makes the services binlog-relay's tests and demo need available on this machine:
#   - a project-owned MariaDB with a ROW binlog, in its own datadir, on its own port, which
#     also accepts TLS with a test CA's certificate;
#   - a project-owned RabbitMQ node on its own port, which fault tests may stop and start,
#     with a TLS listener on the next port.
# Test certificates (a CA, a server certificate for DNS:localhost only, a client
# certificate, and a second CA that signed nothing) are generated once with openssl.
# Installs MariaDB and RabbitMQ from the distribution's packages when they are missing.
#
# usage: scripts/services.sh up|down|status|env|<a fault command below>
#   up      install if needed, start both (idempotent), print the environment to use
#   down    stop both
#   status  say what is running
#   env     print the environment variables the tests and demo read
# and, for fault-injection tests:
#   rabbit-stop | rabbit-start    stop/start the RabbitMQ app (the node stays up); start
#                                 also restarts a node that is down
#   rabbit-kill                   kill -9 the RabbitMQ node
#   rabbit-pid                    the RabbitMQ node's OS process id
#   rabbit2-up | rabbit2-stop     a second, independent RabbitMQ node (port 5675): start it
#                                 (printing its URI) / stop its app
#   rabbit-block | rabbit-unblock raise/clear a memory alarm (connection.blocked)
#   mariadb-restart               stop and start the MariaDB server
#   nobinlog-up                   start a second MariaDB without a binlog or TLS (port 3308)
#   rabbit-add-user USER PASSWORD a broker account with full rights on the default vhost
#
# Everything lives under $BINLOG_RELAY_SERVICES_DIR (default /var/tmp/binlog-relay-services).
set -euo pipefail

DIR=${BINLOG_RELAY_SERVICES_DIR:-/var/tmp/binlog-relay-services}
MYSQL_PORT=${BINLOG_RELAY_TEST_MYSQL_PORT:-3307}
AMQP_PORT=${BINLOG_RELAY_TEST_AMQP_PORT:-5673}
AMQP_DIST_PORT=$((AMQP_PORT + 20000))
RABBIT_NODE=binlog-relay-test@localhost
AMQPS_PORT=$((AMQP_PORT + 1))
MYSQL_DIR=$DIR/mariadb
RABBIT_DIR=$DIR/rabbitmq
TLS_DIR=$DIR/tls

log() { printf 'services: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=()
  command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server mariadb-client)
  command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
  # The encryption tests decrypt with an implementation of their own (Python's).
  python3 -c 'import cryptography' >/dev/null 2>&1 || missing+=(python3-cryptography)
  # `binlog-relay status --watch` is tested under a real terminal.
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Test certificates. The server certificate names DNS:localhost and nothing else, so a
# client that dials 127.0.0.1 with verify-identity must refuse it: the wrong-name case.
tls_certs() {
  [ -f "$TLS_DIR/client.pem" ] && return 0
  command -v openssl >/dev/null 2>&1 || { as_root apt-get update -qq && as_root apt-get install -y -qq openssl >/dev/null; }
  log "generating test certificates in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=binlog-relay test CA" \
      -keyout ca.key -out ca.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=binlog-relay other CA" \
      -keyout other-ca.key -out other-ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=binlog-relay client" -keyout client.key \
      -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out client.pem
    # Test-only keys; the RabbitMQ node runs as its own user and must read them.
    chmod 644 ./*.pem ./*.key
  ) >"$DIR/tls.log" 2>&1 || { cat "$DIR/tls.log" >&2; exit 1; }
}

mysql_cli() {
  mariadb --no-defaults -h127.0.0.1 -P"$MYSQL_PORT" -uroot "$@"
}

# start_mariadb NAME DIR PORT: starts a mariadbd with its datadir, socket and logs under
# DIR, listening on 127.0.0.1:PORT; server-specific settings are read from stdin and
# appended to its config. Initialises the datadir on first use; waits until it answers.
start_mariadb() {
  local name=$1 dir=$2 port=$3
  mkdir -p "$dir"
  {
    cat <<CNF
[mariadbd]
datadir=$dir/data
port=$port
bind-address=127.0.0.1
socket=$dir/mariadb.sock
pid-file=$dir/mariadb.pid
log-error=$dir/error.log
user=root
skip-name-resolve
CNF
    cat
  } >"$dir/my.cnf"
  if [ ! -d "$dir/data/mysql" ]; then
    log "initialising $name datadir $dir/data"
    mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
      --auth-root-authentication-method=normal >"$dir/install.log" 2>&1 \
      || { cat "$dir/install.log" >&2; exit 1; }
  fi
  log "starting $name on 127.0.0.1:$port"
  nohup mariadbd --defaults-file="$dir/my.cnf" >>"$dir/stdout.log" 2>&1 &
  for _ in $(seq 1 60); do
    if mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  log "$name did not come up; its log:"
  tail -n 30 "$dir/error.log" >&2 || true
  exit 1
}

mariadb_up() {
  tls_certs
  # A server started before TLS was part of the setup: restart it with its certificate.
  if mysql_cli -e 'SELECT 1' >/dev/null 2>&1 \
    && [ "$(mysql_cli -N -e 'SELECT @@have_ssl' 2>/dev/null)" != YES ]; then
    mariadb_down
  fi
  if mysql_cli -e 'SELECT 1' >/dev/null 2>&1; then
    # A test that changes this setting may have died before restoring it.
    mysql_cli -e "SET GLOBAL binlog_row_metadata='FULL'"
    return 0
  fi
  mkdir -p "$MYSQL_DIR/binlog"
  start_mariadb MariaDB "$MYSQL_DIR" "$MYSQL_PORT" <<CNF
server_id=101
log_bin=$MYSQL_DIR/binlog/mariadb-bin
binlog_format=ROW
binlog_row_image=FULL
binlog_row_metadata=FULL
max_binlog_size=64M
innodb_buffer_pool_size=256M
innodb_flush_log_at_trx_commit=2
sync_binlog=0
ssl_ca=$TLS_DIR/ca.pem
ssl_cert=$TLS_DIR/server.pem
ssl_key=$TLS_DIR/server.key
CNF
}

# A second, throwaway MariaDB without a binlog, for `binlog-relay check`'s test.
NOBINLOG_PORT=${BINLOG_RELAY_TEST_NOBINLOG_PORT:-3308}
NOBINLOG_DIR=$DIR/mariadb-nobinlog

nobinlog_up() {
  if mariadb --no-defaults -h127.0.0.1 -P"$NOBINLOG_PORT" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    return 0
  fi
  start_mariadb "MariaDB without binlog" "$NOBINLOG_DIR" "$NOBINLOG_PORT" <<CNF
skip-log-bin
innodb_buffer_pool_size=32M
CNF
}

nobinlog_down() {
  if [ -f "$NOBINLOG_DIR/mariadb.pid" ] && kill -0 "$(cat "$NOBINLOG_DIR/mariadb.pid")" 2>/dev/null; then
    kill "$(cat "$NOBINLOG_DIR/mariadb.pid")"
  fi
}

mariadb_down() {
  if [ -f "$MYSQL_DIR/mariadb.pid" ] && kill -0 "$(cat "$MYSQL_DIR/mariadb.pid")" 2>/dev/null; then
    log "stopping MariaDB"
    kill "$(cat "$MYSQL_DIR/mariadb.pid")"
    for _ in $(seq 1 60); do
      kill -0 "$(cat "$MYSQL_DIR/mariadb.pid" 2>/dev/null)" 2>/dev/null || return 0
      sleep 0.5
    done
  fi
}

# The environment rabbitmq-server and rabbitmqctl read for one project node:
# node_env NODE PORT DIST_PORT DIR
node_env() {
  export RABBITMQ_NODENAME=$1
  export RABBITMQ_NODE_PORT=$2
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_DIST_PORT=$3
  export RABBITMQ_MNESIA_BASE=$4/mnesia
  export RABBITMQ_LOG_BASE=$4/log
  export RABBITMQ_ENABLED_PLUGINS_FILE=$4/enabled_plugins
  export RABBITMQ_FEATURE_FLAGS_FILE=$4/feature_flags
  export RABBITMQ_PID_FILE=$4/rabbit.pid
  # Our own config file, so the system node's listener (/etc/rabbitmq) is not inherited.
  export RABBITMQ_CONFIG_FILE=$4/rabbitmq.conf
}

rabbit_env() {
  node_env "$RABBIT_NODE" "$AMQP_PORT" "$AMQP_DIST_PORT" "$RABBIT_DIR"
}

amqp_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null
}

amqps_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$AMQPS_PORT") 2>/dev/null
}

rabbit_up() {
  rabbit_env
  tls_certs
  # A node started before TLS was part of the setup: restart it with its TLS listener.
  if amqp_port_open && ! amqps_port_open; then
    rabbit_down
    for _ in $(seq 1 60); do amqp_port_open || break; sleep 0.5; done
  fi
  if amqp_port_open; then
    # A fault test that raised the memory alarm may have died before clearing it.
    rabbitmqctl -q -n "$RABBIT_NODE" set_vm_memory_high_watermark 0.4 >/dev/null 2>&1 || true
    return 0
  fi
  mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
  [ -f "$RABBIT_DIR/enabled_plugins" ] || echo '[].' >"$RABBIT_DIR/enabled_plugins"
  cat >"$RABBIT_DIR/rabbitmq.conf" <<CONF
listeners.tcp.local = 127.0.0.1:$AMQP_PORT
listeners.ssl.local = 127.0.0.1:$AMQPS_PORT
ssl_options.cacertfile = $TLS_DIR/ca.pem
ssl_options.certfile = $TLS_DIR/server.pem
ssl_options.keyfile = $TLS_DIR/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
CONF
  node_start "$RABBIT_NODE" "$RABBIT_DIR" "127.0.0.1:$AMQP_PORT" "RabbitMQ" rabbit_ports_open
}

rabbit_ports_open() {
  amqp_port_open && amqps_port_open
}

# Starts a project node whose environment node_env set (its app, if the node runs with the
# app stopped), then waits until the command after the label succeeds:
# node_start NODE DIR ADDRESS LABEL CHECK...
node_start() {
  local node=$1 dir=$2 address=$3 label=$4
  shift 4
  if id rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq:rabbitmq "$dir"
  fi
  # The node may be running with its AMQP listener stopped (a fault test's stop_app).
  if rabbitmqctl -q -n "$node" ping >/dev/null 2>&1; then
    log "starting the RabbitMQ app on node $node"
    rabbitmqctl -q -n "$node" start_app >/dev/null
  else
    log "starting RabbitMQ node $node on $address"
    nohup rabbitmq-server >>"$dir/stdout.log" 2>&1 &
  fi
  for _ in $(seq 1 120); do
    "$@" && return 0
    sleep 0.5
  done
  log "$label did not come up; its output:"
  tail -n 30 "$dir/stdout.log" >&2 || true
  exit 1
}

rabbit_down() {
  rabbit_env
  if rabbitmqctl -q -n "$RABBIT_NODE" ping >/dev/null 2>&1; then
    log "stopping RabbitMQ node $RABBIT_NODE"
    rabbitmqctl -q -n "$RABBIT_NODE" stop >/dev/null 2>&1 || true
  fi
}

# A second, independent RabbitMQ node on the next ports, for the tests of a list of broker
# addresses (sink.rabbitmq.addresses): plain AMQP only, its own directory.
RABBIT2_NODE=binlog-relay-test2@localhost
RABBIT2_PORT=${BINLOG_RELAY_TEST_AMQP2_PORT:-5675}
RABBIT2_DIR=$DIR/rabbitmq2

rabbit2_env() {
  node_env "$RABBIT2_NODE" "$RABBIT2_PORT" "$((RABBIT2_PORT + 20000))" "$RABBIT2_DIR"
}

rabbit2_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$RABBIT2_PORT") 2>/dev/null
}

rabbit2_up() {
  rabbit2_env
  rabbit2_port_open && return 0
  mkdir -p "$RABBIT2_DIR/mnesia" "$RABBIT2_DIR/log"
  [ -f "$RABBIT2_DIR/enabled_plugins" ] || echo '[].' >"$RABBIT2_DIR/enabled_plugins"
  echo "listeners.tcp.local = 127.0.0.1:$RABBIT2_PORT" >"$RABBIT2_DIR/rabbitmq.conf"
  node_start "$RABBIT2_NODE" "$RABBIT2_DIR" "127.0.0.1:$RABBIT2_PORT" \
    "the second RabbitMQ node" rabbit2_port_open
}

rabbit2_down() {
  rabbit2_env
  if rabbitmqctl -q -n "$RABBIT2_NODE" ping >/dev/null 2>&1; then
    log "stopping RabbitMQ node $RABBIT2_NODE"
    rabbitmqctl -q -n "$RABBIT2_NODE" stop >/dev/null 2>&1 || true
  fi
}

print_env() {
  cat <<ENV
BINLOG_RELAY_TEST_MYSQL_URL=mysql://root@127.0.0.1:$MYSQL_PORT
BINLOG_RELAY_TEST_AMQP_URI=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f
BINLOG_RELAY_TEST_RABBIT_NODE=$RABBIT_NODE
BINLOG_RELAY_TEST_AMQPS_PORT=$AMQPS_PORT
BINLOG_RELAY_TEST_TLS_DIR=$TLS_DIR
BINLOG_RELAY_TEST_BINLOG_DIR=$MYSQL_DIR/binlog
ENV
}

case "${1:-up}" in
  up)
    install_packages
    mariadb_up
    rabbit_up
    print_env
    ;;
  down)
    rabbit2_down
    rabbit_down
    mariadb_down
    nobinlog_down
    ;;
  status)
    if mysql_cli -e 'SELECT 1' >/dev/null 2>&1; then echo "mariadb: up on $MYSQL_PORT"; else echo "mariadb: down"; fi
    if amqp_port_open; then echo "rabbitmq: up on $AMQP_PORT"; else echo "rabbitmq: down"; fi
    ;;
  env)
    print_env
    ;;
  rabbit-stop)
    rabbit_env
    rabbitmqctl -q -n "$RABBIT_NODE" stop_app >/dev/null
    ;;
  rabbit-start)
    rabbit_up
    ;;
  rabbit-pid)
    rabbit_env
    rabbitmqctl -q -n "$RABBIT_NODE" eval 'os:getpid().' | tr -d '"'
    ;;
  rabbit-kill)
    # kill -9 of the node's Erlang VM: no goodbye to clients, nothing flushed.
    rabbit_env
    pid=$(rabbitmqctl -q -n "$RABBIT_NODE" eval 'os:getpid().' | tr -d '"')
    kill -9 "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    ;;
  rabbit-block)
    rabbit_env
    # A watermark of 0 raises the memory alarm at once: the broker blocks every publisher.
    rabbitmqctl -q -n "$RABBIT_NODE" set_vm_memory_high_watermark 0 >/dev/null
    ;;
  rabbit-unblock)
    rabbit_env
    rabbitmqctl -q -n "$RABBIT_NODE" set_vm_memory_high_watermark 0.4 >/dev/null
    ;;
  rabbit-add-user)
    # rabbit-add-user USER PASSWORD: a broker account with full rights on the default vhost.
    rabbit_env
    rabbitmqctl -q -n "$RABBIT_NODE" delete_user "$2" >/dev/null 2>&1 || true
    rabbitmqctl -q -n "$RABBIT_NODE" add_user "$2" "$3" >/dev/null
    rabbitmqctl -q -n "$RABBIT_NODE" set_permissions -p / "$2" '.*' '.*' '.*' >/dev/null
    ;;
  nobinlog-up)
    nobinlog_up
    echo "BINLOG_RELAY_TEST_NOBINLOG_PORT=$NOBINLOG_PORT"
    ;;
  rabbit2-up)
    rabbit2_up
    echo "BINLOG_RELAY_TEST_AMQP2_URI=amqp://guest:guest@127.0.0.1:$RABBIT2_PORT/%2f"
    ;;
  rabbit2-stop)
    rabbit2_env
    rabbitmqctl -q -n "$RABBIT2_NODE" stop_app >/dev/null
    ;;
  mariadb-restart)
    mariadb_down
    mariadb_up
    ;;
  *)
    echo "usage: $0 up|down|status|env|rabbit-stop|rabbit-start|rabbit-kill|rabbit-block|rabbit-unblock|rabbit-add-user|rabbit2-up|rabbit2-stop|mariadb-restart|nobinlog-up" >&2
    exit 2
    ;;
esac
