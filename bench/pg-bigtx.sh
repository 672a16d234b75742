#!/usr/bin/env bash
# pg-bigtx.sh: peak RSS of `sluice stream` while it reads one large
# transaction that PostgreSQL streams in progress (pgoutput proto 2+,
# streaming on, logical_decoding_work_mem = 64kB), with a subtransaction
# rolled back inside it. Fails if any rolled-back row is delivered, if
# rows are missing, or if peak RSS (VmHWM) reaches 64 MB.
#
#   bench/pg-bigtx.sh [MB]      (default 1024: about 1 GB of row data)
#
# SRC_PARAMS are appended to the source URL (e.g. "&memory-bytes=4194304")
# and SLUICE_FLAGS to the command line (e.g. "--queue-bytes 4194304").
#
# Needs PostgreSQL 15 binaries and Go; starts a private server on a free
# port in a temporary directory (as root the server runs as "postgres").
set -euo pipefail
MB=${1:-1024}
ROWS=$(( MB * 1024 ))          # 1 KiB of text per row
ROLLED=$(( ROWS / 10 ))        # rows of the rolled-back subtransaction
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pg-bigtx.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; AS=(runuser -u postgres --); fi
cleanup() { [ -n "${SPID:-}" ] && kill "$SPID" 2>/dev/null; "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
logical_decoding_work_mem = 64kB
max_wal_size = 4GB
fsync = off
synchronous_commit = off
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start >/dev/null
PSQL=("$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)
(cd "$ROOT" && go build -o "$WORK/sluice" ./cmd/sluice)
"${PSQL[@]}" -c "CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL)" \
  -c "CREATE PUBLICATION bench FOR TABLE big" \
  -c "SELECT pg_create_logical_replication_slot('sluice', 'pgoutput')" >/dev/null

mkfifo "$WORK/out"
"$WORK/sluice" stream "postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable&slot=sluice&publication=bench&create-publication=no&spill-dir=$WORK${SRC_PARAMS:-}" ${SLUICE_FLAGS:-} \
  --to stdout:// --state "$WORK/state.db" >"$WORK/out" 2>"$WORK/sluice.log" &
SPID=$!
# Count delivered rows and rolled-back rows until the marker row.
awk '/"op":"insert"/ { n++ } /rolled-back/ { bad++ } /the-end-marker/ { print n + 0, bad + 0; exit }' <"$WORK/out" >"$WORK/count" &
APID=$!
t0=$(date +%s.%N)
"${PSQL[@]}" <<SQL
BEGIN;
INSERT INTO big SELECT g, repeat('x', 1024) FROM generate_series(1, $ROWS) g;
SAVEPOINT s;
INSERT INTO big SELECT g, 'rolled-back' || repeat('y', 1013) FROM generate_series($ROWS + 1, $ROWS + $ROLLED) g;
ROLLBACK TO SAVEPOINT s;
INSERT INTO big VALUES (0, 'the-end-marker');
COMMIT;
SQL
t1=$(date +%s.%N)
wait "$APID"
t2=$(date +%s.%N)
read -r got bad <"$WORK/count"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SPID/status")
read -r -a st <"/proc/$SPID/stat"
cpu=$(awk -v u="${st[13]}" -v s="${st[14]}" -v t="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (u+s)/t}')
kill -INT "$SPID" 2>/dev/null; wait "$SPID" || true; SPID=
printf "transaction: %d rows of 1 KiB (~%d MB) + %d rolled back; COMMIT after %.1fs; last row out %.1fs after COMMIT\n" \
  "$ROWS" "$MB" "$ROLLED" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
printf "delivered %d rows (want %d), rolled-back rows delivered %d, sluice CPU %ss, peak RSS %.1f MB\n" \
  "$got" "$(( ROWS + 1 ))" "$bad" "$cpu" "$(echo "$hwm / 1024" | bc -l)"
[ "$got" -eq $(( ROWS + 1 )) ] && [ "$bad" -eq 0 ] && [ "$hwm" -lt 65536 ] || { echo FAIL; exit 1; }
echo PASS
