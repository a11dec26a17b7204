# Shared setup of the scripts/measure-*.sh scripts; sourced, not run. Starts the project
# services, and defines:
#   mysql ARGS...        the project MariaDB's client
#   calc EXPR            awk arithmetic, two decimals
#   wide_table DB        (re)creates DB with the 10-column table `wide` the load tests use
#   binlog_now           the server's current FILE:POS
# and installs GNU time (/usr/bin/time) for peak-RSS figures when it is missing.
eval "$(scripts/services.sh up | sed 's/^/export /')"
MYSQL_PORT=${BINLOG_RELAY_TEST_MYSQL_URL##*:}
mysql() { mariadb --no-defaults -h127.0.0.1 -P"$MYSQL_PORT" -uroot "$@"; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

wide_table() {
  mysql -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1;
    CREATE TABLE $1.wide (id INT PRIMARY KEY, a BIGINT, b INT UNSIGNED, name VARCHAR(64),
      price DECIMAL(12,2), ratio DOUBLE, created DATETIME(6), updated TIMESTAMP(3) NULL,
      note TEXT, flag TINYINT)"
}

binlog_now() {
  mysql -N -e "SHOW MASTER STATUS" | awk '{print $1":"$2}'
}
