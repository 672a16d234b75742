package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// formatReport renders the results as Markdown.
func formatReport(fileSize, nrows int64, runs int, rs []named) string {
	var b strings.Builder
	mb := float64(fileSize) / (1 << 20)
	fmt.Fprintf(&b, "# Binlog decode: Sluice vs go-mysql vs mariadb-binlog\n\n")
	fmt.Fprintf(&b, "Measured %s on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintf(&b, "Command (from the repository root; builds the binlog once into bench/.data, which git ignores):\n\n")
	fmt.Fprintf(&b, "```\nbench/binlog-decode.sh -runs 5    # builds ./bench/cmd/binlogdecode and runs it with -dir bench/.data -out bench/results/binlog-decode.md\n```\n\n")
	fmt.Fprintf(&b, "Input: one MariaDB binlog of %.0f MB (%d row changes: bulk INSERT…SELECT and UPDATE of sbtest-shaped rows and of a wide 18-column mixed-type table, ROW format, FULL image, FULL metadata, CRC32), read from the page cache. Median (by CPU time) of %d runs; each decoder in its own process (peak RSS = getrusage of that process).\n\n", mb, nrows, runs)
	fmt.Fprintf(&b, "The machine is shared (other processes kept the load average far above its 2 cores while this ran), so rates are per CPU-second of the decoder's process (user+system time from getrusage), which load does not inflate the way it inflates wall time; wall time is shown too. The decoders ran interleaved, run by run.\n\n")
	fmt.Fprintf(&b, "| decoder | what it does | CPU s | wall s | rows per CPU-s | MB per CPU-s | allocs/row | peak RSS MB |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	what := map[string]string{
		"sluice":         "every value of every row decoded to change.Value (binlog.Reader + TableMap + RowsReader Before/After), CRC32 verified",
		"sluice-changes": "the same through binlog/changes: each row a change.Change with position and transaction, no-op consumer",
		"sluice-json":    "`sluice binlog decode` in process: every change also encoded as a Sluice JSON line (change.AppendJSON) to a discarding writer",
		"go-mysql":       "go-mysql v1.13.0 BinlogParser.ParseFile, default settings, no-op handler (it decodes every row into []any first)",
		"mariadb-binlog": "`mariadb-binlog -v FILE > /dev/null` (C; decodes every row to pseudo-SQL text)",
		"sluice-scan":    "events only: framing + CRC32 of every event, no row decoding",
	}
	get := map[string]result{}
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(&b, "| %s | %s | failed: %s | | | | | |\n", r.name, what[r.name], oneLine(r.err.Error()))
			continue
		}
		get[r.name] = r.res
		allocs := "–"
		if strings.HasPrefix(r.name, "sluice") && r.name != "sluice-scan" && nrows > 0 {
			allocs = fmt.Sprintf("%.4f", float64(r.res.Mallocs)/float64(nrows))
		}
		rowsPS := "–"
		if r.name != "sluice-scan" && nrows > 0 {
			rowsPS = fmt.Sprintf("%.0f", float64(nrows)/r.res.CPU)
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %.2f | %s | %.0f | %s | %d |\n", r.name, what[r.name], r.res.CPU, r.res.Wall, rowsPS,
			mb/r.res.CPU, allocs, r.res.MaxRSSKB/1024)
	}
	b.WriteString("\nCPU and wall time cover the whole process: start, reading the file from the page cache, decoding. allocs/row = heap allocations (runtime.MemStats.Mallocs) during the decode loop ÷ row changes.\n\n")
	b.WriteString("## Against the goals\n\n| goal | measured | met |\n|---|---:|---|\n")
	ours, okOurs := get["sluice"]
	ratio := func(peer string, goal float64, label string) {
		p, ok := get[peer]
		if !ok || !okOurs {
			fmt.Fprintf(&b, "| %s | not measured | – |\n", label)
			return
		}
		x := p.CPU / ours.CPU
		fmt.Fprintf(&b, "| %s (CPU-time ratio) | %.2f× (wall %.2f×) | %s |\n", label, x, p.Wall/ours.Wall, yes(x >= goal))
	}
	ratio("go-mysql", 5, "≥ 5× go-mysql rows/s")
	ratio("mariadb-binlog", 4, "≥ 4× mariadb-binlog -v rows/s")
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
	b.WriteString(`
## Notes

- Rows are counted as row changes (an UPDATE's before+after image is one row), the same count for every decoder: the row changes in the file.
- mariadb-binlog -v does more than decode: it also formats every row as pseudo-SQL text and writes it (to /dev/null). go-mysql and sluice only decode; sluice-json adds Sluice's own text output and is the fair end-to-end comparison with mariadb-binlog's text output.
- Under heavy load the CPU time of every process grows too (cache and frequency effects), less than wall time but not to zero; ratios from one interleaved run are the meaningful numbers, absolute rates are a floor.
- go-mysql runs with its defaults (no useDecimal, no parseTime): its fastest configuration; TIMESTAMP/DATETIME values are then strings.
`)
	return b.String()
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

// machine describes the CPU, core count, Go and MariaDB versions.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	mdb := "mariadb-binlog ?"
	if out, err := exec.Command("mariadb-binlog", "--version").Output(); err == nil {
		mdb = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%s, %d cores (shared), %s, %s", cpu, runtime.NumCPU(), runtime.Version(), mdb)
}
