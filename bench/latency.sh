#!/usr/bin/env bash
# Commit→delivery latency of "sluice stream" at a fixed row rate (issues 5
# and 6): a private MariaDB and a private PostgreSQL (internal/servers), the
# real sluice binary as a child writing JSON lines to a pipe, rows inserted
# on a fixed schedule (default 10,000 rows/s as 100 rows × 100 tx/s and as
# 10 rows × 1,000 tx/s). Latency = arrival of a row's line − return of its
# COMMIT to the writer, on one clock. The server's own client reads the same
# commits at the same time as a floor (pg_recvlogical with test_decoding;
# mariadb-binlog --stop-never under stdbuf -oL). Prints markdown tables:
# p50/p90/p99/p99.9/max and sluice's CPU, also written to
# bench/results/latency.md (header by bench/cmd/benchrun).
# Needs mariadb-server, mariadb-client, postgresql-15 and Go.
#
#   bench/latency.sh                                   # 10 s warm-up, 60 s measured per run
#   bench/latency.sh -sources postgres -shapes 10x1000 -measure 20s
#   bench/latency.sh -dump /tmp/lat                    # also per-transaction times (TSV)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/latency.md
BENCH_TITLE="Commit→delivery latency at a fixed row rate"
BENCH_PEERS=("mariadbd --version" "mariadb-binlog --version" "/usr/lib/postgresql/15/bin/postgres --version")
. bench/lib.sh
bench_main "$0" "$@"
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/latency ./bench/cmd/latency
bench/.data/latency -sluice bench/.data/sluice "$@" | tee "$BENCH_BODY"
