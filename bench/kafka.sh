#!/bin/sh
# Kafka sink benchmark: "sluice stream mysql://… --to kafka://…" draining a
# 1 M-row MariaDB backlog into a 3-broker kfake cluster, at-least-once and
# exactly-once (and in the debezium format when the build has it), beside
# the same drain to /dev/null and "--to stdout:// | kcat -P", interleaved
# for ROUNDS rounds (default 3). Writes bench/results/kafka.md with its own
# header (date, machine, commit, load average). Needs mariadb-server,
# mariadb-client and kcat (scripts/deps.sh).
#
#   bench/kafka.sh                 # ROWS=200000 ROUNDS=1 bench/kafka.sh for a quick look
#   bench/kafka.sh -modes 'null|at-least-once' -profile /tmp/prof   # kafkabench flags pass through
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/kafkabench ./bench/cmd/kafkabench
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- . 2>/dev/null | grep -v '^??' || true)" ]; then
	COMMIT="$COMMIT (with uncommitted changes)"
fi
exec bench/.data/kafkabench -sluice bench/.data/sluice -rows "${ROWS:-1000000}" -rounds "${ROUNDS:-3}" \
	-commit "$COMMIT" -out bench/results/kafka.md "$@"
