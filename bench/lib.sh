# bench/lib.sh: sourced by the bench/*.sh scripts (bash), from the
# repository root. Every script writes its own results file through
# bench/cmd/benchrun, whose header records the run (date, machine, CPU,
# Go and peer versions, the exact command, the commits measured, the load
# average before and after, other processes' CPU during the run, quiet or
# not), so no results header is ever written by hand.
#
# A script sets
#   BENCH_OUT    the results file (bench/results/NAME.md)
#   BENCH_TITLE  its title
#   BENCH_PEERS  array of commands that print a peer's version
#   BENCH_ENV    array of names of environment variables that change what
#                the script does (recorded in the command line when set)
# and calls `bench_main "$0" "$@"`. The first time, bench_main builds
# benchrun and runs the script again under it (so it never returns); in
# that run BENCH_BODY is set and bench_main returns: the script then
# writes its Markdown to "$BENCH_BODY" (or prints, and its standard output
# becomes the body). BEFORE=DIR, where a script supports it, names a second
# source tree (e.g. a checkout of the commit before a change) whose build
# runs interleaved with this tree's; its commit goes into the header.

bench_main() {
	[ -n "${BENCH_BODY:-}" ] && return 0
	local script=$1
	shift
	mkdir -p bench/.data
	go build -o bench/.data/benchrun ./bench/cmd/benchrun
	local cmdline="" v a
	for v in ${BENCH_ENV[@]+"${BENCH_ENV[@]}"}; do
		if [ -n "${!v:-}" ]; then cmdline+="$v=$(printf %q "${!v}") "; fi
	done
	cmdline+=$script
	for a in "$@"; do cmdline+=" $(printf %q "$a")"; done
	local args=(-out "$BENCH_OUT" -title "$BENCH_TITLE" -command "$cmdline")
	for v in ${BENCH_PEERS[@]+"${BENCH_PEERS[@]}"}; do args+=(-peer "$v"); done
	if [ -n "${BEFORE:-}" ]; then args+=(-tree "before=$BEFORE"); fi
	exec bench/.data/benchrun "${args[@]}" -- bash "$script" "$@"
}

# bench_build_before PACKAGE OUTPUT: builds PACKAGE (e.g. ./cmd/sluice) in
# the tree $BEFORE into OUTPUT (a path from the repository root).
bench_build_before() {
	local out=$2
	case $out in /*) ;; *) out=$PWD/$out ;; esac
	(cd "$BEFORE" && GOFLAGS=-buildvcs=false go build -o "$out" "$1")
}
