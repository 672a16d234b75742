#!/usr/bin/env bash
# sluice run with many pipelines from one MariaDB against one sluice stream
# (bench/cmd/serverbench): the total rows/s of -pipelines pipelines each
# draining the same backlog, beside one stream's rows/s, and the RSS of the
# run once every pipeline idles. Writes bench/results/server.md (header by
# bench/cmd/benchrun). Needs mariadb-server.
#
#   bench/server.sh                                  # 500k rows, 10 pipelines, 2 rounds
#   bench/server.sh -rows 1000000 -pipelines 10 -rounds 3
#
# Goals (issue 17): the run's total rate ≥ 80 % of the single stream's,
# < 30 MB RSS per idle pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/server.md
BENCH_TITLE="sluice run: 10 pipelines from one MariaDB in one process beside one sluice stream"
BENCH_PEERS=("mariadbd --version")
. bench/lib.sh
bench_main "$0" "$@"
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/serverbench ./bench/cmd/serverbench
exec bench/.data/serverbench -sluice bench/.data/sluice -out "$BENCH_BODY" "$@"
