package main

import (
	"fmt"
	"strings"
)

// formatReport renders the results as Markdown, without the header
// (title, machine, load, commits), which bench/cmd/benchrun writes. all
// holds every run of every decoder, in the order they ran.
func formatReport(fileSize, nrows int64, runs int, rs []named, all map[string][]result) string {
	var b strings.Builder
	mb := float64(fileSize) / (1 << 20)
	fmt.Fprintf(&b, "Input: one MariaDB binlog of %.0f MB (%d row changes: bulk INSERT…SELECT and UPDATE of sbtest-shaped rows and of a wide 18-column mixed-type table, ROW format, FULL image, FULL metadata, CRC32), read from the page cache. Median (by CPU time) of %d runs; each decoder in its own process (peak RSS = getrusage of that process).\n\n", mb, nrows, runs)
	fmt.Fprintf(&b, "Rates are per CPU-second of the decoder's process (user+system time from getrusage), which other processes on the machine inflate much less than wall time; wall time is shown too. The decoders ran interleaved, run by run, so that load falls on all of them alike.\n\n")
	fmt.Fprintf(&b, "| decoder | what it does | CPU s | wall s | rows per CPU-s | MB per CPU-s | allocs/row | peak RSS MB |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	what := map[string]string{
		"sluice":         "every value of every row decoded to change.Value (binlog.Reader + TableMap + RowsReader Before/After), CRC32 verified",
		"sluice-changes": "the same through binlog/changes: each row a change.Change with position and transaction, no-op consumer",
		"sluice-json":    "`sluice binlog decode` in process: every change also encoded as a Sluice JSON line (change.AppendJSON) to a discarding writer",
		"go-mysql":       "go-mysql v1.13.0 BinlogParser.ParseFile, default settings, no-op handler (it decodes every row into []any first)",
		"mariadb-binlog": "`mariadb-binlog -v FILE > /dev/null` (C; decodes every row to pseudo-SQL text)",
		"sluice-scan":    "events only: framing + CRC32 of every event, no row decoding",
	}
	for _, m := range []string{"sluice", "sluice-changes", "sluice-json", "sluice-scan"} {
		what[m+altSuffix] = "the same, built from the other tree (`-alt`)"
	}
	get := map[string]result{}
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | | |\n", r.name, what[r.name], oneLine(r.err.Error()))
			continue
		}
		get[r.name] = r.res
		allocs := "–"
		if strings.HasPrefix(r.name, "sluice") && !strings.HasPrefix(r.name, "sluice-scan") && nrows > 0 {
			allocs = fmt.Sprintf("%.4f", float64(r.res.Mallocs)/float64(nrows))
		}
		rowsPS := "–"
		if !strings.HasPrefix(r.name, "sluice-scan") && nrows > 0 {
			rowsPS = fmt.Sprintf("%.0f", float64(nrows)/r.res.CPU)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %s | %.0f | %s | %d |\n", r.name, what[r.name], r.res.CPU, r.res.Wall, rowsPS,
			mb/r.res.CPU, allocs, r.res.MaxRSSKB/1024)
	}
	b.WriteString("\nCPU and wall time cover the whole process: start, reading the file from the page cache, decoding. allocs/row = heap allocations (runtime.MemStats.Mallocs) during the decode loop ÷ row changes.\n\n")
	b.WriteString("## Against the goals\n\n| goal | measured | met |\n|---|---:|---|\n")
	ours, okOurs := get["sluice"]
	ratio := func(ourMode, peer string, goal float64, label string) {
		o, okO := get[ourMode]
		p, ok := get[peer]
		if !ok || !okO {
			fmt.Fprintf(&b, "| %s | not measured | – |\n", label)
			return
		}
		x := p.CPU / o.CPU
		met := "–"
		if goal > 0 {
			met = yes(x >= goal)
		}
		fmt.Fprintf(&b, "| %s | %.2f× (wall %.2f×) | %s |\n", label, x, p.Wall/o.Wall, met)
	}
	ratio("sluice", "go-mysql", 5, "≥ 5× go-mysql rows/s, CPU-time ratio (both decode only)")
	ratio("sluice", "mariadb-binlog", 4, "≥ 4× mariadb-binlog -v rows/s, CPU-time ratio (Sluice decoding only; mariadb-binlog also formats and prints every row as text)")
	ratio("sluice-json", "mariadb-binlog", 0, "no goal: both decoding and printing, Sluice JSON lines against mariadb-binlog's pseudo-SQL text")
	if okOurs && nrows > 0 {
		a := float64(ours.Mallocs) / float64(nrows)
		fmt.Fprintf(&b, "| allocs/row < 1 | %.4f | %s |\n", a, yes(a < 1))
	} else {
		b.WriteString("| allocs/row < 1 | not measured | – |\n")
	}
	if s, ok := get["sluice-scan"]; ok {
		gbs := float64(fileSize) / s.CPU / 1e9
		fmt.Fprintf(&b, "| events-only scan ≥ 1.5 GB/s from page cache | %.2f GB per CPU-s (%.2f GB/s in-process wall) | %s |\n", gbs, float64(fileSize)/s.Seconds/1e9, yes(gbs >= 1.5))
	} else {
		b.WriteString("| events-only scan ≥ 1.5 GB/s | not measured | – |\n")
	}
	if _, ok := all["sluice"+altSuffix]; ok {
		writeAB(&b, all)
	}
	b.WriteString(`
## Notes

- Rows are counted as row changes (an UPDATE's before+after image is one row), the same count for every decoder: the row changes in the file.
- mariadb-binlog -v does more than decode: it also formats every row as pseudo-SQL text and writes it (to /dev/null). go-mysql and sluice only decode; sluice-json adds Sluice's own text output and is the fair end-to-end comparison with mariadb-binlog's text output.
- Under heavy load the CPU time of every process grows too (cache and frequency effects), less than wall time but not to zero; ratios from one interleaved run are the meaningful numbers, absolute rates are a floor.
- go-mysql runs with its defaults (no useDecimal, no parseTime): its fastest configuration; TIMESTAMP/DATETIME values are then strings.
`)
	return b.String()
}

// writeAB compares each Sluice decoder with the same decoder of the -alt
// build: CPU seconds of every run (they ran one after the other, in the
// same round), the medians and their ratio.
func writeAB(b *strings.Builder, all map[string][]result) {
	b.WriteString("\n## This build against the other (`-alt`)\n\n")
	b.WriteString("CPU seconds of each run (this build / the other, run right after it in the same round); ratio = the other's median ÷ this build's (> 1: this build is faster).\n\n")
	b.WriteString("| decoder | runs: this / other | median this | median other | ratio |\n|---|---|---:|---:|---:|\n")
	for _, m := range []string{"sluice", "sluice-changes", "sluice-json", "sluice-scan"} {
		now, before := all[m], all[m+altSuffix]
		if len(now) == 0 || len(before) == 0 {
			fmt.Fprintf(b, "| %s | not measured | | | |\n", m)
			continue
		}
		var pairs []string
		for i := range min(len(now), len(before)) {
			pairs = append(pairs, fmt.Sprintf("%.2f / %.2f", now[i].CPU, before[i].CPU))
		}
		x, y := medianOf(now).CPU, medianOf(before).CPU
		fmt.Fprintf(b, "| %s | %s | %.2f | %.2f | %.3f× |\n", m, strings.Join(pairs, ", "), x, y, y/x)
	}
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
