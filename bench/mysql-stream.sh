#!/bin/sh
# Live binlog benchmarks against a private MariaDB (internal/servers); see
# bench/cmd/mysqlstream for what each mode measures. Needs mariadb-server
# and mariadb-client.
#
# Backlog drain: "sluice stream" vs a go-mysql v1.13.0 BinlogSyncer reader
# (rows decoded and written as JSON with encoding/json) vs
# "mariadb-binlog --read-from-remote-server -v", each in its own process
# reading the same backlog, output piped to the bench and discarded,
# interleaved for -rounds rounds. Wall time, rows/s, CPU seconds (getrusage
# of the child) per million rows, core use (CPU/wall), peak RSS, medians and
# ratios.
#
#   bench/mysql-stream.sh -rows 1000000 -rounds 3
#   bench/mysql-stream.sh -rows 1000000 -rounds 3 -readers sluice=OLD_BINARY,sluice   # A/B two builds
#   bench/mysql-stream.sh -rows 600000 -width 1500 -update -readers sluice       # huge transactions, memory
#
# Following a bulk writer: sluice streams from the current position while
# one connection inserts rows as fast as MariaDB takes them (INSERT … SELECT
# FROM seq, -chunk rows per statement). Writer rate, rows sluice is behind
# when the writer finishes, time to catch up, sluice's core use.
#
#   bench/mysql-stream.sh -follow -rows 1000000 -rounds 3
#
# -sluice-flags "--cpuprofile /tmp/cpu.prof" profiles the sluice run(s).
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/mysqlstream ./bench/cmd/mysqlstream
exec bench/.data/mysqlstream -sluice bench/.data/sluice "$@"
