#!/bin/sh
# Live binlog backlog benchmark: "sluice stream" vs a go-mysql v1.13.0
# BinlogSyncer reader (bench/cmd/mysqlstream, rows decoded and written as
# JSON with encoding/json) vs "mariadb-binlog --read-from-remote-server -v",
# each in its own process reading the same backlog from a private MariaDB
# (testenv), output piped to the bench and discarded. Prints wall time,
# rows/s, CPU seconds per million rows and peak RSS (getrusage) per reader.
# Needs mariadb-server and mariadb-client.
#
#   bench/mysql-stream.sh                          # 1,000,000 inserted rows
#   bench/mysql-stream.sh -rows 600000 -width 1500 -update -readers sluice
#                                                  # huge transactions, memory
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/mysqlstream ./bench/cmd/mysqlstream
exec bench/.data/mysqlstream -sluice bench/.data/sluice "$@"
