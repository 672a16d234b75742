#!/usr/bin/env bash
# Binlog decode benchmark: Sluice vs go-mysql BinlogParser vs mariadb-binlog -v.
# Builds a >= 320 MB binlog once (private MariaDB, kept in bench/.data, ignored
# by git), then times each decoder in its own process, interleaved run by
# run, and writes bench/results/binlog-decode.md (header by bench/cmd/benchrun).
# Needs mariadb-server and mariadb-client.
#
#   bench/binlog-decode.sh -runs 5
#   BEFORE=/path/to/older/checkout bench/binlog-decode.sh -runs 5   # also that tree's Sluice decoders, interleaved
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/binlog-decode.md
BENCH_TITLE="Binlog decode: Sluice vs go-mysql vs mariadb-binlog"
BENCH_PEERS=("mariadb-binlog --version" "go list -m github.com/go-mysql-org/go-mysql")
BENCH_ENV=(BEFORE)
. bench/lib.sh
bench_main "$0" "$@"
go build -o bench/.data/binlogdecode ./bench/cmd/binlogdecode
alt=()
if [ -n "${BEFORE:-}" ]; then
	bench_build_before ./bench/cmd/binlogdecode bench/.data/binlogdecode-before
	alt=(-alt bench/.data/binlogdecode-before)
fi
exec bench/.data/binlogdecode -dir bench/.data -out "$BENCH_BODY" ${alt[@]+"${alt[@]}"} "$@"
