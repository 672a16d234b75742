#!/usr/bin/env bash
# Memory gate for huge transactions: peak RSS of the `sluice stream`
# process while it reads one transaction of about 1 GiB of row images from
# each source (MariaDB, PostgreSQL with streaming, MongoDB's applyOps chain
# on FerretDB: 128 MiB by default, which FerretDB serves in about 20
# minutes here; -mongo-mb 1024 for the full size), with the default
# settings. Fails (exit 1) when a source's peak RSS reaches 64 MiB or a
# row change is missing; see bench/cmd/bigtx.
# Starts private servers (internal/servers); writes
# bench/results/bigtx-memory.md (header by bench/cmd/benchrun), also when
# the gate fails.
#
#   bench/bigtx-memory.sh                          # all sources, 1024 MiB each (MongoDB 128), limit 64 MiB
#   bench/bigtx-memory.sh -sources postgres -mb 100
#   bench/bigtx-memory.sh -sluice-flags "--queue-bytes 16777216"   # the gate with other settings
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/bigtx-memory.md
BENCH_TITLE="Huge transactions: peak RSS of sluice stream (gate: < 64 MiB)"
BENCH_PEERS=("mariadbd --version" "/usr/lib/postgresql/15/bin/postgres --version")
. bench/lib.sh
bench_main "$0" "$@"
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/bigtx ./bench/cmd/bigtx
exec bench/.data/bigtx -sluice bench/.data/sluice -out "$BENCH_BODY" "$@"
