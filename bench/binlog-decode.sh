#!/bin/sh
# Binlog decode benchmark: Sluice vs go-mysql BinlogParser vs mariadb-binlog -v.
# Builds a >= 320 MB binlog once (private MariaDB, kept in bench/.data, ignored
# by git), then times each decoder in its own process and writes
# bench/results/binlog-decode.md. Needs mariadb-server and mariadb-client.
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/.data
go build -o bench/.data/binlogdecode ./bench/cmd/binlogdecode
exec bench/.data/binlogdecode -dir bench/.data -out bench/results/binlog-decode.md "$@"
