#!/bin/sh
# Canal server benchmark: a canal-go v1.1.2 client draining a 1,000,000-row
# MariaDB backlog from "sluice canal serve" with get(1000) + ack (counting
# the entries' rows, then parsing every RowChange), the same client against
# a stand-in server that answers at once (the client's own ceiling), and
# "sluice stream" to /dev/null over the same backlog, interleaved for
# -rounds rounds (bench/cmd/canalbench). Writes bench/results/canal.md
# itself: date, machine, commit, load, per-run and median rows/s, server
# CPU seconds per million rows, cores, peak RSS and the client's CPU.
# Needs mariadb-server.
#
#   bench/canal.sh                      # 1M rows, 3 rounds
#   bench/canal.sh -rows 200000 -rounds 1
#   bench/canal.sh -baseline OLD-SLUICE -baseline-commit HASH   # before/after in the same rounds
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/canalbench ./bench/cmd/canalbench
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then commit="$commit (with uncommitted changes)"; fi
exec bench/.data/canalbench -sluice bench/.data/sluice -commit "$commit" -out bench/results/canal.md "$@"
