#!/usr/bin/env bash
# Initial snapshots against the databases' own dump tools, one table of
# 2,000,000 rows (and tables of 4 KiB and 1 MiB rows for sluice's memory):
# `sluice stream --snapshot only` to Sluice JSON on /dev/null vs
# `mariadb-dump --single-transaction --quick` and `mydumper` (same thread
# count as --snapshot-workers) on MariaDB, vs `psql -c "COPY t TO STDOUT"`
# on PostgreSQL; rows/s, CPU, sluice's peak RSS, and the goals (≥ 1.0×
# mariadb-dump, ≥ 0.7× COPY, < 64 MiB). Starts private servers
# (internal/servers); writes bench/results/snapshot.md (header by
# bench/cmd/benchrun). See bench/cmd/snapbench.
#
#   bench/snapshot.sh                        # 2M rows, 2 workers, 3 rounds
#   bench/snapshot.sh -rows 200000 -rounds 1 -wide=false
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/snapshot.md
BENCH_TITLE="Initial snapshots: sluice vs mariadb-dump, mydumper and COPY"
BENCH_PEERS=("mariadbd --version" "mariadb-dump --version" "mydumper --version" "/usr/lib/postgresql/15/bin/postgres --version")
. bench/lib.sh
bench_main "$0" "$@"
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/snapbench ./bench/cmd/snapbench
exec bench/.data/snapbench -sluice bench/.data/sluice -out "$BENCH_BODY" "$@"
