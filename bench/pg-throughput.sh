#!/usr/bin/env bash
# pg-throughput.sh: the same pgoutput backlog read by pg_recvlogical
# (proto 1, to /dev/null) and by `sluice stream` (Sluice JSON to
# /dev/null), each from its own slot; every slot is created at the same LSN
# before the workload. The readers run one at a time, ROUNDS times, in
# alternating order (recv first in odd rounds, sluice first in even ones).
# Prints, for each reader and round: seconds, rows/s, CPU seconds
# (user+sys), CPU/wall, peak RSS, the 1-minute load average when it
# started and the CPU seconds of the walsender that served it; then the
# throughput ratio per round.
#
#   bench/pg-throughput.sh [ROWS]      (default 1000000)
#
# ROUNDS (default 2) sets the rounds; SLUICE_FLAGS are added to the sluice
# command line (e.g. "--cpuprofile /tmp/pg.prof"); SRC_PARAMS to its source
# URL. SLUICE_ALT=/path/to/another/sluice adds that binary as a third
# reader ("sluice-alt", its own slot, run right after sluice in odd
# rounds and right before it in even ones), to compare two builds in one run; ALT_PARAMS replaces SRC_PARAMS
# and ALT_ENV (e.g. "GOMAXPROCS=1") sets variables for that reader only, so
# SLUICE_ALT may also be the same build with other settings.
# BEFORE=/path/to/older/checkout builds that tree's sluice and runs it as
# sluice-alt (the before/after comparison of a change). Writes
# bench/results/pg-throughput.md (header by bench/cmd/benchrun). Needs
# PostgreSQL 15 binaries (postgresql-15, postgresql-client-15), python3 and
# Go. Starts a private server on a free port in a temporary directory; as
# root the server runs as the "postgres" user.
#
# Both readers are measured the same way: each stops by itself at the end
# LSN (pg_recvlogical -E, sluice --stop-at; the LSN is the WAL insert
# position after the last row's commit) and runs under /usr/bin/time, which
# gives its wall time, CPU and peak RSS. sluice's log must report every
# backlog row written. One python3 process samples the CPU of the walsender
# serving each reader from /proc every 50 ms (no fork per sample: on this
# VM a fork and exec costs ~15 ms of CPU, which the polling loop of an
# earlier version of this script took from the readers).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/pg-throughput.md
BENCH_TITLE="PostgreSQL drain: sluice stream against pg_recvlogical"
BENCH_PEERS=("${PGBIN:-/usr/lib/postgresql/15/bin}/postgres --version" "${PGBIN:-/usr/lib/postgresql/15/bin}/pg_recvlogical --version")
BENCH_ENV=(ROUNDS SHAPE BEFORE SLUICE_ALT ALT_PARAMS ALT_ENV SRC_PARAMS SLUICE_FLAGS PGBIN)
. bench/lib.sh
bench_main "$0" "$@"
ROWS=${1:-1000000}
ROUNDS=${ROUNDS:-2}
BIN=${PGBIN:-/usr/lib/postgresql/15/bin}
ROOT=$PWD
WORK=$(mktemp -d /tmp/pg-throughput.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; AS=(runuser -u postgres --); fi
cleanup() {
  "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
cat >>"$WORK/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
wal_level = logical
max_wal_senders = 16
max_replication_slots = 64
fsync = off
synchronous_commit = off
CONF
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/pg.log" -w start >/dev/null
PSQL=("$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1)

(cd "$ROOT" && go build -o "$WORK/sluice" ./cmd/sluice)
if [ -n "${BEFORE:-}" ]; then
  bench_build_before ./cmd/sluice "$WORK/sluice-before"
  SLUICE_ALT=$WORK/sluice-before
fi

# SHAPE=sbtest (default): sysbench's table. SHAPE=typed: a row of the types
# whose text output costs the walsender most (timestamptz, numeric,
# double precision, date), to compare text and binary values
# (ALT_PARAMS='&binary=true').
case ${SHAPE:-sbtest} in
sbtest)
  TABLE="CREATE TABLE sbtest (id bigint PRIMARY KEY, k int NOT NULL, c char(120) NOT NULL, pad char(60) NOT NULL)"
  ROW="g, g % 1000, repeat('c', 120), repeat('p', 60)"
  MARKER="0, 0, 'the-end-marker', 'x'" ;;
typed)
  TABLE="CREATE TABLE sbtest (id bigint PRIMARY KEY, created timestamptz NOT NULL, updated timestamptz NOT NULL, amount numeric(14,2) NOT NULL, rate double precision NOT NULL, day date NOT NULL, note text NOT NULL)"
  ROW="g, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', now(), g * 1.25, g / 7.0, date '2026-01-01' + g % 365, 'n'"
  MARKER="0, now(), now(), 0, 0, current_date, 'the-end-marker'" ;;
*) echo "SHAPE must be sbtest or typed" >&2; exit 2 ;;
esac
"${PSQL[@]}" -c "$TABLE" -c "CREATE PUBLICATION bench FOR TABLE sbtest" >/dev/null
for r in $(seq "$ROUNDS"); do
  "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('recv$r', 'pgoutput')" \
    -c "SELECT pg_create_logical_replication_slot('sluice$r', 'pgoutput')" >/dev/null
  if [ -n "${SLUICE_ALT:-}" ]; then "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('alt$r', 'pgoutput')" >/dev/null; fi
done
"${PSQL[@]}" -c "SELECT slot_name, confirmed_flush_lsn FROM pg_replication_slots ORDER BY 1" | tr '\n' ' '
echo
# The backlog: transactions of 10,000 inserted rows.
done_rows=0
while [ "$done_rows" -lt "$ROWS" ]; do
  n=$(( ROWS - done_rows < 10000 ? ROWS - done_rows : 10000 ))
  "${PSQL[@]}" -c "INSERT INTO sbtest SELECT $ROW FROM generate_series($done_rows + 1, $done_rows + $n) g"
  done_rows=$(( done_rows + n ))
done
"${PSQL[@]}" -c "INSERT INTO sbtest VALUES ($MARKER)"
ROWS=$(( ROWS + 1 ))
END=$("${PSQL[@]}" -c "SELECT pg_current_wal_insert_lsn()")
echo "backlog: $ROWS rows, end LSN $END"
load() { cut -d' ' -f1 /proc/loadavg; }
RESULTS=()

# walsender_cpu SLOT OUT: in the background, find the walsender streaming
# from SLOT and write its CPU seconds (user+sys) to OUT when it exits; the
# value is at most 50 ms old. A reader done before its walsender was seen
# (a small backlog) leaves $WORK/reader.done, which ends the search.
walsender_cpu() {
  python3 - "$1" "$2" "$PORT" "$BIN/psql" "$WORK/reader.done" <<'PY'
import os, subprocess, sys, time
slot, out, port, psql, done = sys.argv[1:]
tck = os.sysconf("SC_CLK_TCK")
pid = ""
while not pid and not os.path.exists(done):
    pid = subprocess.run([psql, "-X", "-At", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres", "-c",
                          f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}' AND active"],
                         capture_output=True, text=True).stdout.strip()
    if not pid:
        time.sleep(0.05)
cpu = 0.0
try:
    while pid:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
        cpu = (int(st[11]) + int(st[12])) / tck
        time.sleep(0.05)
except (FileNotFoundError, ProcessLookupError):
    pass
with open(out, "w") as f:
    f.write(f"{cpu:.2f}\n")
PY
}

run_recv() { # round
  local l t0 t1 e u s m wpid
  l=$(load)
  echo 0 >"$WORK/ws.cpu"
  rm -f "$WORK/reader.done"
  walsender_cpu "recv$1" "$WORK/ws.cpu" & wpid=$!
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$WORK/recv.time" "$BIN/pg_recvlogical" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
    --slot "recv$1" --start -E "$END" -o proto_version=1 -o publication_names=bench -f /dev/null
  t1=$(date +%s.%N)
  touch "$WORK/reader.done"
  wait "$wpid" 2>/dev/null || true
  read -r u s m <"$WORK/recv.time"
  RESULTS+=("$1 pg_recvlogical $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}') $(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}') $m $l $(cat "$WORK/ws.cpu")")
}

run_sluice() { # round [alt]
  local l t0 t1 u s m wpid bin="$WORK/sluice" slot="sluice$1" name=sluice
  local params=${SRC_PARAMS:-} envs=()
  if [ -n "${2:-}" ]; then bin=$SLUICE_ALT slot="alt$1" name=sluice-alt params=${ALT_PARAMS-${SRC_PARAMS:-}}; read -r -a envs <<<"${ALT_ENV:-}"; fi
  l=$(load)
  echo 0 >"$WORK/ws.cpu"
  rm -f "$WORK/reader.done"
  walsender_cpu "$slot" "$WORK/ws.cpu" & wpid=$!
  # Drain the slot's backlog: a sluice that snapshots a stream without a
  # saved position by default is told not to (one from before snapshots
  # has no such flag).
  local snap=()
  if "$bin" stream --help 2>&1 | grep -q -- --snapshot; then snap=(--snapshot never); fi
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  env ${envs[@]+"${envs[@]}"} /usr/bin/time -f "%U %S %M" -o "$WORK/$slot.time" "$bin" stream ${snap[@]+"${snap[@]}"} \
    "postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable&slot=$slot&publication=bench&create-publication=no$params" \
    --to stdout:// --state "$WORK/$slot.db" --stop-at "$END" ${SLUICE_FLAGS:-} >/dev/null 2>"$WORK/$slot.log" ||
    { echo "$name round $1 failed:" >&2; cat "$WORK/$slot.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  touch "$WORK/reader.done"
  wait "$wpid" 2>/dev/null || true
  grep -q "written=$ROWS " "$WORK/$slot.log" || { echo "$name round $1 did not write $ROWS rows:" >&2; cat "$WORK/$slot.log" >&2; exit 1; }
  read -r u s m <"$WORK/$slot.time"
  RESULTS+=("$1 $name $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}') $(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}') $m $l $(cat "$WORK/ws.cpu")")
}

for r in $(seq "$ROUNDS"); do
  # sluice-alt runs right after sluice in odd rounds and right before it in even ones.
  sl() {
    if [ -z "${SLUICE_ALT:-}" ]; then run_sluice "$r"
    elif [ $(( r % 2 )) = 1 ]; then run_sluice "$r"; run_sluice "$r" alt
    else run_sluice "$r" alt; run_sluice "$r"; fi
  }
  if [ $(( r % 2 )) = 1 ]; then run_recv "$r"; sl; else sl; run_recv "$r"; fi
done

printf '%s\n' "${RESULTS[@]}" >"$WORK/results"
ALT_NAME="sluice-alt"
if [ -n "${BEFORE:-}" ]; then ALT_NAME="sluice-alt (the BEFORE tree)"; fi
awk -v rows="$ROWS" '
  { round=$1; who=$2; sec=$3; cpu=$4; rss=$5; ld=$6; ws=$7
    printf "round %d  %-14s %8.2f s %10.0f rows/s %7.2f CPU s %5.2f CPU/wall %7.1f MB peak RSS  load %5s  walsender %.2f CPU s\n", round, who, sec, rows/sec, cpu, cpu/sec, rss/1024, ld, ws
    if (who == "pg_recvlogical") r[round] = sec; else if (who == "sluice") s[round] = sec; else a[round] = sec; c[round, who] = cpu }
  END { for (i in r) {
    printf "round %d: sluice / pg_recvlogical throughput %.2f, CPU per row: sluice %.2f us, pg_recvlogical %.2f us\n", i, r[i]/s[i], c[i, "sluice"]/rows*1e6, c[i, "pg_recvlogical"]/rows*1e6
    if (i in a) printf "round %d: sluice-alt / pg_recvlogical throughput %.2f, CPU per row %.2f us\n", i, r[i]/a[i], c[i, "sluice-alt"]/rows*1e6
    rt += r[i]; st += s[i]; at += a[i]; n++ }
    printf "all %d rounds: sluice / pg_recvlogical throughput %.3f (total seconds %.2f / %.2f)\n", n, rt/st, rt, st
    if (at > 0) printf "all %d rounds: sluice-alt / pg_recvlogical throughput %.3f\n", n, rt/at }' "$WORK/results"

# The results file's body (its header is benchrun's).
{
  echo "Backlog: $ROWS rows (SHAPE=${SHAPE:-sbtest}, transactions of 10,000 rows, the server's default logical_decoding_work_mem), one slot per reader and round, all created at the same LSN before the workload. Readers one at a time, ROUNDS=$ROUNDS rounds, alternating who goes first; each stops by itself at the end LSN (pg_recvlogical -E, sluice --stop-at) under /usr/bin/time. pg_recvlogical (proto 1) writes to /dev/null, sluice its JSON to /dev/null. sluice-alt: ${SLUICE_ALT:+$ALT_NAME}${SLUICE_ALT:-none}. The walsender serving each reader is sampled from /proc every 50 ms; the load is the 1-minute load average as the reader started."
  echo
  echo "| round | reader | seconds | rows/s | CPU s | CPU µs/row | CPU/wall | peak RSS MB | walsender CPU s | load |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk -v rows="$ROWS" '{ printf "| %d | %s | %.2f | %.0f | %.2f | %.2f | %.2f | %.1f | %.2f | %s |\n", $1, $2, $3, rows/$3, $4, $4/rows*1e6, $4/$3, $5/1024, $7, $6 }' "$WORK/results"
  echo
  echo "Throughput ratios (a reader's rate ÷ pg_recvlogical's in the same round; > 1: faster than pg_recvlogical). Both are bounded by the walsender, which decodes the WAL for either: a ratio near 1 means the reader keeps up with the server, not that it decodes faster."
  echo
  echo "| round | sluice | sluice-alt |"
  echo "|---:|---:|---:|"
  awk '{ t[$1, $2] = $3; n = ($1 > n ? $1 : n) } END {
    for (i = 1; i <= n; i++) { printf "| %d | %.3f | %s |\n", i, t[i, "pg_recvlogical"]/t[i, "sluice"], ((i, "sluice-alt") in t ? sprintf("%.3f", t[i, "pg_recvlogical"]/t[i, "sluice-alt"]) : "–")
      r += t[i, "pg_recvlogical"]; s += t[i, "sluice"]; a += t[i, "sluice-alt"] }
    printf "| all (total seconds) | %.3f | %s |\n", r/s, (a > 0 ? sprintf("%.3f", r/a) : "–")
    if (a > 0) printf "\nsluice-alt ÷ sluice, total seconds: %.3f (> 1: sluice-alt is slower)\n", a/s }' "$WORK/results"
  echo
  echo "CPU per row, median over the rounds: $(awk -v rows="$ROWS" '$2 == "sluice" { print $4/rows*1e6 }' "$WORK/results" | sort -n | awk '{ v[NR] = $1 } END { printf "sluice %.2f µs", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')$(awk -v rows="$ROWS" '$2 == "sluice-alt" { print $4/rows*1e6 }' "$WORK/results" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf ", sluice-alt %.2f µs", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')$(awk -v rows="$ROWS" '$2 == "pg_recvlogical" { print $4/rows*1e6 }' "$WORK/results" | sort -n | awk '{ v[NR] = $1 } END { printf ", pg_recvlogical %.2f µs", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')."
} >"$BENCH_BODY"
