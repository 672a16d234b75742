#!/bin/sh
# High-availability benchmark: what a shared checkpoint store costs a
# pipeline. The latency of one fenced save per store; then "sluice stream mysql://… --to stdout://" drains a MariaDB
# backlog (ROWS rows in transactions of TX_ROWS) to /dev/null with
# --state a bbolt file, etcd, ZooKeeper, a PostgreSQL table, a MariaDB
# table and Redis, at the default checkpoint interval and saving after
# every write, interleaved for ROUNDS rounds. Writes bench/results/ha.md
# with its own header (date, machine, commit, load average). Needs the
# servers of scripts/deps.sh (mariadb-server, postgresql-15, etcd-server,
# zookeeper, redis-server).
#
#   bench/ha.sh                       # ROWS=100000 ROUNDS=1 bench/ha.sh for a quick look
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/habench ./bench/cmd/habench
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- . 2>/dev/null | grep -v '^??' || true)" ]; then
	COMMIT="$COMMIT (with uncommitted changes)"
fi
exec bench/.data/habench -sluice bench/.data/sluice -rows "${ROWS:-1000000}" -tx-rows "${TX_ROWS:-100}" \
	-rounds "${ROUNDS:-3}" -commit "$COMMIT" -out bench/results/ha.md
