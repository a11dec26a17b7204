#!/bin/sh
# Creates binlog-relay's account in the compose example's MySQL with the least privileges it
# needs (docs/deployment.md, "Grants"). Runs once, on the first start of an empty datadir.
set -eu
password=$(cat /run/secrets/db-password)
mysql -uroot -p"$MYSQL_ROOT_PASSWORD" <<SQL
CREATE USER 'binlog_relay'@'%' IDENTIFIED BY '$password';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'binlog_relay'@'%';
GRANT SELECT ON *.* TO 'binlog_relay'@'%';
-- The database state store (checkpoint.store = "database", the "ha" profile).
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON binlog_relay.* TO 'binlog_relay'@'%';
CREATE DATABASE IF NOT EXISTS app;
CREATE TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY);
SQL
