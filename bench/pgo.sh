#!/usr/bin/env bash
# Writes cmd/sluice/default.pgo, the CPU profile `go build` uses for
# profile-guided optimization of the sluice binary (inlining and
# devirtualization of the hot calls: against -pgo=off, interleaved, 7-8 %
# less CPU on the snapshot bench and 7 % less wall time streaming a 1 GiB
# binlog; see the README). The profile is
# merged from runs of the paths that matter most: an initial snapshot of
# the bench's 2 M-row table on MariaDB and on PostgreSQL (twice each), and
# the stream of the MariaDB binlog that loading the bench wrote (2.1 M
# changes). It starts the snapshot bench's private servers (snapbench in
# hold mode, ~80 s to load) and stops them at the end. Run it again when
# the hot paths change a lot; a stale profile only optimizes less.
#
#   bench/pgo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/.data
tmp=$(mktemp -d)
trap 'kill -INT "$hold" 2>/dev/null || true; wait "$hold" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# The profile is of a binary built without one, as Go recommends.
go build -pgo=off -o "$tmp/sluice" ./cmd/sluice
go build -o bench/.data/snapbench ./bench/cmd/snapbench
SNAPBENCH_HOLD=1 bench/.data/snapbench -sluice "$tmp/sluice" -rounds 1 >"$tmp/hold.log" 2>&1 &
hold=$!
for _ in $(seq 600); do
	grep -q "snapbench: holding" "$tmp/hold.log" && break
	kill -0 "$hold" 2>/dev/null || { cat "$tmp/hold.log" >&2; exit 1; }
	sleep 1
done
line=$(grep "snapbench: holding" "$tmp/hold.log") || { echo "pgo: the servers did not come up" >&2; exit 1; }
maddr=$(sed -E 's/.*MariaDB ([0-9.:]+) .*/\1/' <<<"$line")
muser=$(sed -E 's/.*\(user ([^)]+)\).*/\1/' <<<"$line")
pgdsn=$(sed -E 's/.*PostgreSQL ([^;]+);.*/\1/' <<<"$line")
mpass=$(grep -o 'MariaDBReplPassword *= *"[^"]*"' internal/servers/*.go | head -1 | sed -E 's/.*"([^"]*)"/\1/')
murl="mariadb://$muser:$mpass@$maddr/?server-id=9100"
profiles=()
for i in 1 2; do
	"$tmp/sluice" stream "$murl" --snapshot only --include 'bench\.t' --to stdout:// --state "$tmp/m$i.db" \
		--log-level warn --cpuprofile "$tmp/m$i.prof" >/dev/null
	"$tmp/sluice" stream "$pgdsn&slot=pgo_$i&publication=bench_t&create-publication=public.t" --snapshot only \
		--to stdout:// --state "$tmp/p$i.db" --log-level warn --cpuprofile "$tmp/p$i.prof" >/dev/null
	psql "$pgdsn" -qAtc "SELECT pg_drop_replication_slot('pgo_$i')" >/dev/null
	profiles+=("$tmp/m$i.prof" "$tmp/p$i.prof")
done
end=$(mariadb -h "${maddr%:*}" -P "${maddr##*:}" -u "$muser" -p"$mpass" -NBe 'SHOW MASTER STATUS' | awk '{print $1 ":" $2}')
"$tmp/sluice" stream "$murl" --from earliest --stop-at "$end" --to stdout:// --state "$tmp/s.db" \
	--log-level error --cpuprofile "$tmp/s.prof" >/dev/null
profiles+=("$tmp/s.prof")
go tool pprof -proto "${profiles[@]}" >cmd/sluice/default.pgo 2>/dev/null
echo "pgo: wrote cmd/sluice/default.pgo ($(wc -c <cmd/sluice/default.pgo) bytes) from ${#profiles[@]} profiles"
