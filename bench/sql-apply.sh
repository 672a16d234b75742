#!/usr/bin/env bash
# sql-apply.sh: the SQL sink and sluice verify (bench/cmd/sqlapplybench).
# "sluice stream mysql://… --to mysql://…" and "--to postgres://…" apply a
# MariaDB backlog of ROWS inserted rows (default 1,000,000, in
# transactions of 1,000) to a MariaDB and a PostgreSQL target, beside each
# server's own bulk load of the same rows ("mariadb < dump.sql",
# "psql -f dump.sql"); then "sluice verify" compares the equal tables
# MariaDB ↔ MariaDB, PostgreSQL ↔ PostgreSQL and MariaDB ↔ PostgreSQL.
# Rows/s, CPU seconds per million rows and peak RSS per run and as
# medians of ROUNDS rounds (default 2), against the goals: ≥ 50 k rows/s
# applied into each, peak RSS < 100 MB, verify ≥ 500 k rows/s per side.
# Writes bench/results/sql-apply.md (header by bench/cmd/benchrun). Needs
# mariadb-server, mariadb-client and postgresql-15 (scripts/deps.sh).
#
#   bench/sql-apply.sh                 # ROWS=200000 ROUNDS=1 bench/sql-apply.sh for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/sql-apply.md
BENCH_TITLE="SQL sink: applying a MariaDB backlog to MariaDB and PostgreSQL; sluice verify"
BENCH_PEERS=("mariadbd --version" "/usr/lib/postgresql/15/bin/postgres --version" "mariadb-dump --version" "/usr/lib/postgresql/15/bin/psql --version")
BENCH_ENV=(ROWS ROUNDS)
. bench/lib.sh
bench_main "$0" "$@"
mkdir -p bench/.data
go build -o bench/.data/sluice ./cmd/sluice
go build -o bench/.data/sqlapplybench ./bench/cmd/sqlapplybench
exec bench/.data/sqlapplybench -sluice bench/.data/sluice -rows "${ROWS:-1000000}" -rounds "${ROUNDS:-2}"
