#!/usr/bin/env bash
# Live binlog benchmarks against a private MariaDB (internal/servers); see
# bench/cmd/mysqlstream for what each mode measures. Writes
# bench/results/mysql-stream.md (header by bench/cmd/benchrun). Needs
# mariadb-server and mariadb-client.
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
#   BEFORE=/path/to/older/checkout bench/mysql-stream.sh -rows 1000000 -rounds 5   # adds that tree's sluice, right after this one's
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
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/mysql-stream.md
BENCH_TITLE="MySQL live: sluice stream against go-mysql and mariadb-binlog"
BENCH_PEERS=("mariadbd --version" "mariadb-binlog --version" "go list -m github.com/go-mysql-org/go-mysql")
BENCH_ENV=(BEFORE)
. bench/lib.sh
bench_main "$0" "$@"
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/mysqlstream ./bench/cmd/mysqlstream
before=()
if [ -n "${BEFORE:-}" ]; then
	bench_build_before ./cmd/sluice bench/.data/sluice-before
	before=(-readers sluice,sluice=bench/.data/sluice-before,gomysql,mariadb-binlog)
fi
exec bench/.data/mysqlstream -sluice bench/.data/sluice -out "$BENCH_BODY" ${before[@]+"${before[@]}"} "$@"
