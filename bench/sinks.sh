#!/bin/sh
# Redis and NATS sink benchmark: "sluice stream mysql://… --to redis://…"
# (stream mode) and "--to nats://…" (JetStream) draining a 1 M-row MariaDB
# backlog, beside plain client loops (go-redis pipelining the same XADDs,
# nats.go publishing the same messages asynchronously) writing the same
# rows to the same servers, and the drain to /dev/null, interleaved for
# ROUNDS rounds (default 3). Writes bench/results/sinks.md with its own
# header (date, machine, commit, load average). Needs mariadb-server,
# redis-server and nats-server (scripts/deps.sh), and GNU time
# (/usr/bin/time, which measures peak RSS).
#
#   bench/sinks.sh                 # ROWS=200000 ROUNDS=1 bench/sinks.sh for a quick look
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/sinkbench ./bench/cmd/sinkbench
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- . 2>/dev/null | grep -v '^??' || true)" ]; then
	COMMIT="$COMMIT (with uncommitted changes)"
fi
exec bench/.data/sinkbench -sluice bench/.data/sluice -self bench/.data/sinkbench -rows "${ROWS:-1000000}" -rounds "${ROUNDS:-3}" \
	-commit "$COMMIT" -out bench/results/sinks.md
