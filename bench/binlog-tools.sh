#!/bin/sh
# Binlog tools benchmark: sluice binlog flashback / stats / bigtx on a large
# MariaDB binlog, against mariadb-binlog --flashback. Uses the binlog that
# bench/binlog-decode.sh builds (bench/.data/bench-320mb.000001; run that
# first) and writes bench/results/binlog-tools.md. Needs mariadb-client and
# GNU time (/usr/bin/time).
set -eu
cd "$(dirname "$0")/.."
F=${1:-bench/.data/bench-320mb.000001}
OUT=bench/results/binlog-tools.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/sluice" ./cmd/sluice
SIZE=$(stat -c %s "$F")
# measure NAME CMD...: one run; appends "name|wall|user+sys|rss" to $TMP/rows.
measure() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
	read -r wall user sys rss <"$TMP/t"
	echo "$name|$wall|$(echo "$user + $sys" | bc)|$((rss / 1024))" >>"$TMP/rows"
}
cat "$F" >/dev/null # into the page cache
measure "sluice binlog flashback -o undo.bin" "$TMP/sluice" binlog flashback -o "$TMP/undo.bin" "$F"
measure "sluice binlog flashback --sql" "$TMP/sluice" binlog flashback --sql -o /dev/null "$F"
measure "mariadb-binlog --flashback" mariadb-binlog --no-defaults --flashback "$F"
measure "sluice binlog stats" "$TMP/sluice" binlog stats "$F"
measure "sluice binlog bigtx" "$TMP/sluice" binlog bigtx "$F"
mariadb-binlog --no-defaults "$TMP/undo.bin" >/dev/null # the undo binlog reads back
{
	echo "# Binlog tools: flashback, stats, bigtx"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores (shared; load average $(cut -d' ' -f1-3 /proc/loadavg)), $(go version | cut -d' ' -f3), $(mariadb-binlog --version | head -1)."
	echo
	echo "Command (from the repository root, after bench/binlog-decode.sh has built the input):"
	echo
	echo '```'
	echo "bench/binlog-tools.sh [BINLOG]"
	echo '```'
	echo
	echo "Input: $F, $((SIZE / 1048576)) MB, MariaDB ROW format, FULL image and metadata, CRC32 (1 405 000 row changes in 142 transactions, see binlog-decode.md). One run each, from the page cache; peak RSS and CPU from GNU time. Wall time is inflated by the machine's load; CPU time (user+system) is the fairer measure."
	echo
	echo "| command | wall s | CPU s | MB per CPU-s | peak RSS MB |"
	echo "|---|---:|---:|---:|---:|"
	while IFS='|' read -r name wall cpu rss; do
		echo "| \`$name\` | $wall | $cpu | $(echo "scale=0; $SIZE / 1048576 / $cpu" | bc) | $rss |"
	done <"$TMP/rows"
	echo
	echo "Notes:"
	echo
	echo "- sluice flashback writes a binlog (undo.bin, read back by mariadb-binlog without error); it streams and spills the reversal to a temporary file of about the input's size, so its memory stays flat. mariadb-binlog --flashback holds every event of the input in memory and writes BINLOG statements."
	echo "- stats and bigtx read every event (CRC32 checked) and count the rows of every rows event without decoding values."
} >"$OUT"
cat "$OUT"
