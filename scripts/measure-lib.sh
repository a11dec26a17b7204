# Shared setup of the scripts/measure-*.sh scripts; sourced, not run. Starts the project
# services, and defines:
#   mysql ARGS...        the project MariaDB's client
#   calc EXPR            awk arithmetic, two decimals
#   rabbitmqctl_ ARGS... rabbitmqctl against the project RabbitMQ node
#   wide_table DB        (re)creates DB with the 10-column table `wide` the load tests use
#   mixed_table DB       (re)creates DB with the 26-column mixed-type table `mixed`
#   mixed_inserts DB N   inserts rows 1..N into DB.mixed, in transactions of 500
#   mixed_workload DB N  the comparison workload: mixed_table, N inserts, an update of every
#                        sixth row and a delete of every twentieth; sets $start and $stop to
#                        the binlog positions around it
#   binlog_now           the server's current FILE:POS
#   relay_config FILE START SINK EXCHANGE PERSISTENT [EXTRA]
#                        writes a daemon config to FILE: from START, plain text (unless EXTRA
#                        says otherwise), state in FILE's directory/state, no HTTP listener
# and installs GNU time (/usr/bin/time) for peak-RSS figures when it is missing.
eval "$(scripts/services.sh up | sed 's/^/export /')"
MYSQL_PORT=${BINLOG_RELAY_TEST_MYSQL_URL##*:}
mysql() { mariadb --no-defaults -h127.0.0.1 -P"$MYSQL_PORT" -uroot "$@"; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
rabbitmqctl_() { rabbitmqctl -q -n "$BINLOG_RELAY_TEST_RABBIT_NODE" "$@"; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

wide_table() {
  mysql -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1;
    CREATE TABLE $1.wide (id INT PRIMARY KEY, a BIGINT, b INT UNSIGNED, name VARCHAR(64),
      price DECIMAL(12,2), ratio DOUBLE, created DATETIME(6), updated TIMESTAMP(3) NULL,
      note TEXT, flag TINYINT)"
}

# The comparison workload (docs/performance.md): every common column type.
mixed_table() {
  mysql -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1;
    CREATE TABLE $1.mixed (id INT PRIMARY KEY, ti TINYINT, si SMALLINT, mi MEDIUMINT,
      bi BIGINT, ub BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec1 DECIMAL(10,2), dec2 DECIMAL(20,6),
      dt DATETIME, dt6 DATETIME(6), ts3 TIMESTAMP(3) NULL, dd DATE, tm2 TIME(2), yr YEAR,
      vc VARCHAR(64) CHARACTER SET utf8mb4, vl VARCHAR(64) CHARACTER SET latin1, ch CHAR(8),
      tx TEXT, vb VARBINARY(32), bl BLOB, js JSON, en ENUM('a','b','c'), st SET('x','y','z'),
      bt BIT(12))"
}

mixed_inserts() {
  local i
  for ((i = 0; i < $2; i += 500)); do
    echo "INSERT INTO $1.mixed SELECT seq, seq % 128, seq % 32768, seq % 8388608,
      seq * 1000003, seq * 7, seq / 3, seq / 7, seq / 100, seq / 1000000,
      '2024-01-02 03:04:05', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123',
      '2024-01-02', '12:34:56.78', 2024, CONCAT('name-', seq, '-é'), CONCAT('latin-', seq),
      'chr', REPEAT('t', 100), UNHEX('DEADBEEF'), REPEAT('b', 50),
      JSON_OBJECT('k', seq, 'a', JSON_ARRAY(1, 2, 3)), 'b', 'x,z', b'101010101010'
      FROM seq_$((i + 1))_to_$((i + 500 < $2 ? i + 500 : $2));"
  done | mysql "$1"
}

mixed_workload() {
  mixed_table "$1"
  start=$(binlog_now)
  mixed_inserts "$1" "$2"
  mysql -e "UPDATE $1.mixed SET d = d + 1, vc = CONCAT(vc, 'u') WHERE id % 6 = 0;
    DELETE FROM $1.mixed WHERE id % 20 = 1"
  stop=$(binlog_now)
}

binlog_now() {
  mysql -N -e "SHOW MASTER STATUS" | awk '{print $1":"$2}'
}

relay_config() {
  local plain='[source.tls]
mode = "disabled"'
  cat >"$1" <<TOML
[source]
host = "127.0.0.1"
port = $MYSQL_PORT
user = "root"
server_id = 7401
start = "$2"
[sink]
type = "$3"
[sink.rabbitmq]
uri = "$BINLOG_RELAY_TEST_AMQP_URI"
exchange = "$4"
exchange_type = "topic"
persistent = $5
[checkpoint]
dir = "$(dirname "$1")/state"
[http]
listen = ""
${6:-$plain}
TOML
}
