#!/usr/bin/env bash
# Rebuilds bench/RESULTS.md from bench/results/*.md: the summary written in
# bench/results/SUMMARY.md first, then every area's results file.
set -euo pipefail
cd "$(dirname "$0")"
{
	cat results/SUMMARY.md
	for f in results/*.md; do
		[ "$f" = results/SUMMARY.md ] && continue
		printf '\n---\n\n'
		# Demote each file's headings one level under RESULTS.md's title.
		sed -e 's/^# /## /' -e 't' -e 's/^## /### /' -e 't' -e 's/^### /#### /' "$f"
	done
} > RESULTS.md
echo "wrote bench/RESULTS.md" >&2
