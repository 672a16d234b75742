#!/usr/bin/env bash
# pg-throughput.sh: the same pgoutput backlog read by pg_recvlogical
# (proto 1, to /dev/null) and by `sluice stream` (JSON to /dev/null), from
# two slots created at the same LSN before the workload.
# Prints rows/s, CPU seconds and peak RSS of each reader.
#
#   bench/pg-throughput.sh [ROWS]      (default 1000000)
#
# Needs PostgreSQL 15 binaries (postgresql-15, postgresql-client-15) and Go.
# Starts a private server on a free port in a temporary directory; as root
# the server runs as the "postgres" user.
set -euo pipefail
ROWS=${1:-1000000}
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pg-throughput.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; AS=(runuser -u postgres --); fi
cleanup() { "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
max_wal_senders = 8
max_replication_slots = 8
fsync = off
synchronous_commit = off
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start >/dev/null
PSQL=("$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)

(cd "$ROOT" && go build -o "$WORK/sluice" ./cmd/sluice)

"${PSQL[@]}" -c "CREATE TABLE sbtest (id bigint PRIMARY KEY, k int NOT NULL, c char(120) NOT NULL, pad char(60) NOT NULL)" \
  -c "CREATE PUBLICATION bench FOR TABLE sbtest" \
  -c "SELECT pg_create_logical_replication_slot('recv', 'pgoutput')" \
  -c "SELECT pg_create_logical_replication_slot('sluice', 'pgoutput')" >/dev/null
# The backlog: transactions of 10,000 inserted rows.
done_rows=0
while [ "$done_rows" -lt "$ROWS" ]; do
  n=$(( ROWS - done_rows < 10000 ? ROWS - done_rows : 10000 ))
  "${PSQL[@]}" -c "INSERT INTO sbtest SELECT g, g % 1000, repeat('c', 120), repeat('p', 60) FROM generate_series($done_rows + 1, $done_rows + $n) g"
  done_rows=$(( done_rows + n ))
done
"${PSQL[@]}" -c "INSERT INTO sbtest VALUES (0, 0, 'the-end-marker', 'x')"
ROWS=$(( ROWS + 1 ))
END=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
echo "backlog: $ROWS rows, end LSN $END"

# pg_recvlogical, proto 1, until the end LSN.
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S %M" -o "$WORK/recv.time" "$BIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
  --slot recv --start -E "$END" -o proto_version=1 -o publication_names=bench -f /dev/null
t1=$(date +%s.%N)
read -r ru rs rk <"$WORK/recv.time"

# sluice stream, until the marker row (the last one) is on its stdout.
mkfifo "$WORK/out"
t2=$(date +%s.%N)
"$WORK/sluice" stream "postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable&slot=sluice&publication=bench&create-publication=no" \
  --to stdout:// --state "$WORK/state.db" >"$WORK/out" 2>"$WORK/sluice.log" &
SPID=$!
grep -F -m1 -q the-end-marker <"$WORK/out"
t3=$(date +%s.%N)
read -r -a st <"/proc/$SPID/stat"
tck=$(getconf CLK_TCK)
su=$(awk -v a="${st[13]}" -v t="$tck" 'BEGIN{printf "%.2f", a/t}')
ss=$(awk -v a="${st[14]}" -v t="$tck" 'BEGIN{printf "%.2f", a/t}')
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SPID/status")
kill -INT "$SPID" 2>/dev/null; wait "$SPID" || true

awk -v rows="$ROWS" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v ru="$ru" -v rs="$rs" -v rk="$rk" \
    -v su="$su" -v ss="$ss" -v sk="$hwm" 'BEGIN {
  r = t1 - t0; s = t3 - t2
  printf "%-14s %10s %12s %10s %10s %12s\n", "reader", "seconds", "rows/s", "CPU s", "CPU/wall", "peak RSS MB"
  printf "%-14s %10.2f %12.0f %10.2f %10.2f %12.1f\n", "pg_recvlogical", r, rows / r, ru + rs, (ru + rs) / r, rk / 1024
  printf "%-14s %10.2f %12.0f %10.2f %10.2f %12.1f\n", "sluice stream", s, rows / s, su + ss, (su + ss) / s, sk / 1024
  printf "sluice / pg_recvlogical throughput: %.2f\n", r / s
}'
