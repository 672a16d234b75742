#!/usr/bin/env bash
# Binlog tools benchmark: sluice binlog flashback (binary and --sql), sql,
# stats and bigtx on a >= 1 GB MariaDB binlog, against
# `mariadb-binlog --flashback` on the same file. Builds the binlog once
# with bench/cmd/binloggen (private MariaDB; kept in bench/.data, which git
# ignores), runs every command once per round, interleaved, from the page
# cache, and writes bench/results/binlog-tools.md (header by
# bench/cmd/benchrun). Needs mariadb-server,
# mariadb-client and GNU time (/usr/bin/time).
#
#   bench/binlog-tools.sh [BINLOG]        # ROUNDS=2 bench/binlog-tools.sh for two rounds
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_OUT=bench/results/binlog-tools.md
BENCH_TITLE="Binlog tools: flashback, sql, stats, bigtx"
BENCH_PEERS=("mariadb-binlog --version")
BENCH_ENV=(ROUNDS)
. bench/lib.sh
bench_main "$0" "$@"
F=${1:-bench/.data/bench-1gb.000001}
ROUNDS=${ROUNDS:-1}
case $F in /*) ABS=$F ;; *) ABS=$PWD/$F ;; esac
OUT=$BENCH_BODY
if [ ! -f "$F" ]; then
	go run ./bench/cmd/binloggen -mb 1000 -out "$F"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/sluice" ./cmd/sluice
go test -c -o "$TMP/tools.test" ./binlog/tools # for the profile at the end
SIZE=$(stat -c %s "$F")
# measure NAME OUTFILE CMD...: one run, stdout to OUTFILE; appends
# "name|wall|user+sys|user|sys|rss" to $TMP/rows.
measure() {
	name=$1
	out=$2
	shift 2
	/usr/bin/time -f "%e %U %S %M" -o "$TMP/t" "$@" >"$out" 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }
	read -r wall user sys rss <"$TMP/t"
	echo "$name|$wall|$(echo "$user + $sys" | bc)|$user|$sys|$((rss / 1024))" >>"$TMP/rows"
}
cat "$F" >/dev/null # into the page cache
r=1
while [ "$r" -le "$ROUNDS" ]; do
	rm -f "$TMP/undo.bin"
	# Warm-up: on this VM, the first write of fresh memory into the page
	# cache costs several times the system time of later writes (the
	# hypervisor backs the guest's pages on first touch). Writing and
	# removing a scratch file larger than both undo outputs makes the
	# two tools' output writes meet already-backed memory alike.
	dd if=/dev/zero of="$TMP/warm" bs=1M count=3072 status=none
	rm -f "$TMP/warm"
	measure "mariadb-binlog --flashback > undo.sql" "$TMP/undo.sql" mariadb-binlog --no-defaults --flashback "$F"
	rm -f "$TMP/undo.sql"
	measure "sluice binlog flashback -o undo.bin" /dev/null "$TMP/sluice" binlog flashback -o "$TMP/undo.bin" "$F"
	measure "mariadb-binlog --flashback > /dev/null" /dev/null mariadb-binlog --no-defaults --flashback "$F"
	measure "sluice binlog flashback -o /dev/null" /dev/null "$TMP/sluice" binlog flashback -o /dev/null "$F"
	measure "sluice binlog flashback --sql > /dev/null" /dev/null "$TMP/sluice" binlog flashback --sql "$F"
	measure "sluice binlog sql > /dev/null" /dev/null "$TMP/sluice" binlog sql "$F"
	measure "sluice binlog stats" /dev/null "$TMP/sluice" binlog stats "$F"
	measure "sluice binlog bigtx" /dev/null "$TMP/sluice" binlog bigtx "$F"
	r=$((r + 1))
done
(cd binlog/tools && SLUICE_BENCH_BINLOG=$ABS "$TMP/tools.test" -test.run '^$' -test.bench 'BenchmarkFlashback$' \
	-test.benchtime 2x -test.cpuprofile "$TMP/cpu.prof" >"$TMP/bench.txt")
# The undo binlog reads back with mariadb-binlog, and undoes exactly the
# input's rows: its inserts are the input's deletes and so on.
mariadb-binlog --no-defaults "$TMP/undo.bin" >/dev/null
UNDOSIZE=$(stat -c %s "$TMP/undo.bin")
"$TMP/sluice" binlog stats --bucket 0 "$F" >"$TMP/in.stats"
"$TMP/sluice" binlog stats --bucket 0 "$TMP/undo.bin" >"$TMP/undo.stats"
awk 'NR > 1 && $1 != "(all)" { print $1, $4, $3, $2 }' "$TMP/in.stats" | sort >"$TMP/want"
awk 'NR > 1 && $1 != "(all)" { print $1, $2, $3, $4 }' "$TMP/undo.stats" | sort >"$TMP/got"
if ! cmp -s "$TMP/want" "$TMP/got"; then
	echo "undo.bin does not mirror the input's row counts:" >&2
	diff "$TMP/want" "$TMP/got" >&2
	exit 1
fi
ROWS=$(awk 'NR > 1 && $1 != "(all)" { n += $5 } END { print n }' "$TMP/in.stats")
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# col NAME FIELD: the median of a field over the rounds.
col() { awk -F'|' -v n="$1" -v f="$2" '$1 == n { print $f }' "$TMP/rows" | median; }
MB=$(echo "scale=1; $SIZE / 1000000" | bc)
FBW=$(col "sluice binlog flashback -o undo.bin" 2)
FBC=$(col "sluice binlog flashback -o undo.bin" 3)
FBR=$(col "sluice binlog flashback -o undo.bin" 6)
FNW=$(col "sluice binlog flashback -o /dev/null" 2)
FNC=$(col "sluice binlog flashback -o /dev/null" 3)
MBW=$(col "mariadb-binlog --flashback > /dev/null" 2)
MBC=$(col "mariadb-binlog --flashback > /dev/null" 3)
MBR=$(col "mariadb-binlog --flashback > /dev/null" 6)
MFW=$(col "mariadb-binlog --flashback > undo.sql" 2)
MFC=$(col "mariadb-binlog --flashback > undo.sql" 3)
{
	echo "The binlog is built once into bench/.data with bench/cmd/binloggen (git ignores it)."
	echo
	echo "Input: $F, $MB MB ($((SIZE / 1048576)) MiB), written by a private MariaDB (bench/cmd/binloggen): ROW format, FULL image, FULL metadata, CRC32; $ROWS row changes (bulk INSERT…SELECT, UPDATE and DELETE over three tables: sbtest-shaped, an 18-column mixed-type table with DECIMAL, DOUBLE, FLOAT, DATETIME(6), TIMESTAMP(3), DATE, TIME, utf8mb4 VARCHAR, TEXT, BLOB, ENUM, JSON, YEAR, BIT, and an orders table with NULLs and SET). Each command runs in its own process, $ROUNDS round(s), the commands interleaved within a round, the input in the page cache; wall, user and system CPU time and peak RSS from GNU time (median over the rounds)."
	echo
	echo "| command | wall s | CPU s (user+sys) | user s | sys s | MB per CPU-s | peak RSS MB |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	for name in "sluice binlog flashback -o undo.bin" "mariadb-binlog --flashback > undo.sql" "sluice binlog flashback -o /dev/null" "mariadb-binlog --flashback > /dev/null" \
		"sluice binlog flashback --sql > /dev/null" "sluice binlog sql > /dev/null" "sluice binlog stats" "sluice binlog bigtx"; do
		cpu=$(col "$name" 3)
		echo "| \`$name\` | $(col "$name" 2) | $cpu | $(col "$name" 4) | $(col "$name" 5) | $(echo "scale=0; $SIZE / 1000000 / $cpu" | bc) | $(col "$name" 6) |"
	done
	echo
	echo "Every run, in the order they ran (round, command, wall s, CPU s, user s, sys s, peak RSS MB):"
	echo
	echo '```'
	awk -F'|' -v per=$(($(wc -l <"$TMP/rows") / ROUNDS)) '{ printf "%d  %-45s %7s %7s %7s %7s %6s\n", int((NR - 1) / per) + 1, $1, $2, $3, $4, $5, $6 }' "$TMP/rows"
	echo '```'
	echo
	echo "## Against the goal (issue #4)"
	echo
	echo "| goal | measured | met |"
	echo "|---|---:|---|"
	x=$(echo "scale=1; $MFC / $FBC" | bc)
	echo "| flashback ≥ 10× faster than \`mariadb-binlog --flashback\`, CPU time, both writing their undo to a file | ${x}× (wall $(echo "scale=1; $MFW / $FBW" | bc)×) | $(echo "$x >= 10" | bc | sed 's/1/yes/;s/0/no/') |"
	x=$(echo "scale=1; $MBC / $FNC" | bc)
	echo "| the same, both writing to /dev/null | ${x}× (wall $(echo "scale=1; $MBW / $FNW" | bc)×) | $(echo "$x >= 10" | bc | sed 's/1/yes/;s/0/no/') |"
	x=$(echo "scale=1; $MBC / $FBC" | bc)
	echo "| the same, sluice writing undo.bin, mariadb-binlog writing to /dev/null (mariadb-binlog's most favourable case) | ${x}× (wall $(echo "scale=1; $MBW / $FBW" | bc)×) | $(echo "$x >= 10" | bc | sed 's/1/yes/;s/0/no/') |"
	x=$(echo "scale=1; $MBR / $FBR" | bc)
	echo "| flashback peak memory ≤ 1/20 of mariadb-binlog's | 1/${x} ($FBR MB vs $MBR MB) | $(echo "$x >= 20" | bc | sed 's/1/yes/;s/0/no/') |"
	for name in "sluice binlog stats" "sluice binlog bigtx"; do
		x=$(echo "scale=2; $SIZE / 1000000000 / $(col "$name" 3)" | bc)
		echo "| \`${name#sluice binlog }\` ≥ 1 GB/s | $x GB per CPU-s ($(echo "scale=2; $SIZE / 1000000000 / $(col "$name" 2)" | bc | sed 's/^\./0./') GB/s wall) | $(echo "$x >= 1" | bc | sed 's/1/yes/;s/0/no/') |"
	done
	echo
	echo "## Checks"
	echo
	echo "- undo.bin ($((UNDOSIZE / 1048576)) MiB) reads back with \`mariadb-binlog\` without error, and \`sluice binlog stats\` on it shows, per table, the input's inserts as deletes, its deletes as inserts and the same updates."
	echo "- Correctness of the undo itself (apply it, compare CHECKSUM TABLE) is tested live in binlog/tools and cmd/sluice (\`go test ./binlog/tools\`), not here."
	echo
	echo "## Notes"
	echo
	echo "- sluice flashback reads the input twice: the first pass frames every event (CRC32 checked), keeps the selection (a one-row probe of each rows event goes through the same changes.Decoder as \`sluice binlog decode\`), sizes every row image once (binlog.RowsReader.NextSpan: no value decoding) and spools only references (21 bytes per rows event) and the small events; the second pass reads the rows events again last first, in 4 MiB windows from the page cache, checks their CRC32 again, reverses the rows (swapping images and event types) and writes each event with a new CRC32. Its memory does not grow with the input. mariadb-binlog --flashback holds every event of the input in memory and prints BINLOG statements."
	echo "- System time of writing an output file into the page cache varies a lot on this VM: the same 1 GB \`dd\` into a new file took 0.2 to 3 s of system time depending on whether the guest had touched the memory before. Each round therefore starts by writing and removing a 3 GB scratch file (see the script), which both tools' output writes then profit from alike; the file-to-file ratio still moves between rounds and runs. The \`-o /dev/null\` rows show both tools without that cost. mariadb-binlog's undo (BINLOG statements, base64) is about 1.4 times the input's size."
	echo "- \`flashback --sql\` shares flashback's first pass (probe, references) and decodes every value of the rows events in the second pass, last first, to format the undo statements; \`sql\` decodes every value through binlog/changes in one pass. They are not part of the 10× goal."
	echo "- stats and bigtx read every event (CRC32 checked) and count the rows of every rows event by sizing them without decoding values."
	echo "- Load: the header says how much CPU other processes used during the run; they inflate wall times much more than CPU times. Ratios come from runs interleaved in the same round."
	echo
	echo "## Where flashback's CPU time goes"
	echo
	echo "CPU profile of Flashback in process (undo to a discarding writer), two runs over the same input:"
	echo
	echo '```'
	echo "SLUICE_BENCH_BINLOG=\$PWD/$F go test -run '^\$' -bench 'BenchmarkFlashback\$' -benchtime 2x -cpuprofile cpu.prof ./binlog/tools"
	echo "go tool pprof -top -nodecount=20 cpu.prof"
	echo '```'
	echo
	echo '```'
	grep '^BenchmarkFlashback' "$TMP/bench.txt"
	go tool pprof -top -nodecount=20 "$TMP/tools.test" "$TMP/cpu.prof" 2>/dev/null | sed -n '/^Showing nodes/,$p'
	echo '```'
} >"$OUT"
cat "$OUT"
