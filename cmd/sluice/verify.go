package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/verify"
)

const verifySynopsis = "sluice verify SOURCE-URL TARGET-URL [--tables DB.TABLE,DB,…] [--chunk-rows N] [--schema NAME] [--rename RE=REPL] [--recheck N] [--max-diffs N] [--workers N] [--cpuprofile FILE]"

const verifyHelp = `Compare the tables of two databases — MySQL/MariaDB or PostgreSQL, the
same engine or across — by primary key, and print the rows that differ:
missing from the target, extra in it, or changed (with the columns that
differ). Exit status 0 when every table is equal, 1 when one differs, 2
on an error (a table without a primary key, a server that cannot be
reached).

The URLs are those of sluice stream: a source URL (its replication
parameters are ignored) and a sink URL (mysql://USER:PASSWORD@HOST/DB,
postgres://USER:PASSWORD@HOST/DB). Without --tables every table of the
source's URL database (MySQL) or of every non-system schema (PostgreSQL)
is compared with the table of the same name in the target; --schema puts
every target table in one database (schema), --rename maps names as
sluice stream --rename does.

Between servers of one engine the servers compute checksums of chunks of
--chunk-rows rows (pt-table-checksum's way), and only differing chunks
are read row by row; across engines every row is read, in key order, and
compared in a form both engines share (docs/sql-apply.md). Nothing is
locked. A key that differs is compared again --recheck times, a second
apart, so that rows changing while verify runs (a stream applying them)
are not reported. Progress goes to standard error on a terminal.`

// runVerify runs "sluice verify".
func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "verify", verifySynopsis, verifyHelp)
	tables := fs.String("tables", "", "tables to compare: DB.TABLE or DB (all its tables), comma-separated (default: all)")
	chunk := fs.Int("chunk-rows", verify.DefaultChunkRows, "rows of one checksum chunk (same engine)")
	schema := fs.String("schema", "", "target database (schema) of every table, as the SQL sink's schema parameter")
	rename := fs.String("rename", "", "map source tables to target tables: 'regex=replacement,…' on \"db.table\"")
	recheck := fs.Int("recheck", verify.DefaultRecheck, "times a differing key is compared again before it is reported (0: never)")
	recheckWait := fs.Duration("recheck-wait", verify.DefaultRecheckWait, "pause before each recheck")
	maxDiffs := fs.Int("max-diffs", verify.DefaultMaxDiffs, "differences printed per table (all are counted)")
	workers := fs.Int("workers", verify.DefaultWorkers, "chunks summed at once on each side (same engine)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile (pprof) of the run to this file, for performance work")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("verify: want SOURCE-URL TARGET-URL, got %d arguments", len(pos))
	}
	if *chunk <= 0 || *maxDiffs <= 0 || *recheck < 0 || *workers <= 0 {
		return usagef("verify: --chunk-rows, --max-diffs and --workers must be positive, --recheck not negative")
	}
	cfg := verify.Config{Source: pos[0], Target: pos[1], ChunkRows: *chunk, TargetSchema: *schema, Rename: *rename,
		Recheck: *recheck, RecheckWait: *recheckWait, MaxDiffs: *maxDiffs, Workers: *workers}
	if *recheck == 0 {
		cfg.Recheck = -1
	}
	if os.Getenv("GOGC") == "" {
		// Across engines every value read passes through the MySQL
		// driver, which allocates for each; with a live heap of a few MB
		// the collector ran every few MB. 400: 30 % less CPU for sluice
		// (1 M rows MariaDB ↔ PostgreSQL: 1.05 → 0.7 CPU-s), peak RSS
		// 30 → 44 MB, still bounded by the live heap.
		debug.SetGCPercent(400)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile("verify", *cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *tables != "" {
		for _, t := range strings.Split(*tables, ",") {
			if t = strings.TrimSpace(t); t != "" {
				cfg.Tables = append(cfg.Tables, t)
			}
		}
	}
	var prog *verifyProgress
	if e.StderrTerminal {
		prog = &verifyProgress{w: e.Stderr}
		cfg.Progress = prog.draw
	}
	failed := false
	sum, err := verify.Run(ctx, cfg, func(r *verify.TableResult) {
		prog.clear()
		writeTableResult(e.Stdout, r)
		if r.Err != nil {
			failed = true
		}
	})
	prog.clear()
	if err != nil {
		err = address.RedactError(err, pos[0], pos[1])
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("verify: %w", err)}
	}
	secs := sum.Elapsed.Seconds()
	rate := ""
	if secs > 0 {
		rate = fmt.Sprintf(", %.0f rows/s per side", float64(max(sum.SourceRows, sum.TargetRows))/secs)
	}
	fmt.Fprintf(e.Stdout, "%d tables: %d equal, %d different, %d failed (%d source rows, %d target rows in %s%s)\n",
		sum.Tables, sum.Equal, sum.Different, sum.Failed, sum.SourceRows, sum.TargetRows, sum.Elapsed.Round(time.Millisecond), rate)
	switch {
	case failed:
		return &exitError{code: exitUsage}
	case sum.Different > 0:
		return &exitError{code: exitFailure}
	}
	return nil
}

// writeTableResult prints one table's outcome and its differences.
func writeTableResult(w io.Writer, r *verify.TableResult) {
	name := r.Source
	if r.Target != r.Source {
		name += " → " + r.Target
	}
	took := r.Elapsed.Round(time.Millisecond)
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "%s: error: %v\n", name, r.Err)
		return
	case r.Equal():
		fmt.Fprintf(w, "%s: equal, %d rows (%s, %s)\n", name, r.SourceRows, r.Mode, took)
		return
	}
	fmt.Fprintf(w, "%s: different: %d missing, %d extra, %d changed (%d source rows, %d target rows; %s, %s)\n",
		name, r.Missing, r.Extra, r.Changed, r.SourceRows, r.TargetRows, r.Mode, took)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	for _, d := range r.Diffs {
		fmt.Fprintf(w, "  %-8s %s", d.Kind, d.Key)
		for i, c := range d.Columns {
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(w, "%s%s %s → %s", sep, c.Name, shorten(c.Source), shorten(c.Target))
		}
		fmt.Fprintln(w)
	}
	if n := r.Missing + r.Extra + r.Changed; n > int64(len(r.Diffs)) {
		fmt.Fprintf(w, "  … and %d more\n", n-int64(len(r.Diffs)))
	}
}

// shorten quotes a value, cut to 60 bytes.
func shorten(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q…", s[:60])
	}
	return fmt.Sprintf("%q", s)
}

// verifyProgress draws the progress line of sluice verify on a terminal.
// A nil *verifyProgress draws nothing.
type verifyProgress struct {
	w     io.Writer
	width int
}

func (p *verifyProgress) draw(pr verify.Progress) {
	line := fmt.Sprintf("[%d/%d] %s: %d rows", pr.Index, pr.Tables, pr.Table, pr.Rows)
	if pr.Estimate > 0 {
		line += fmt.Sprintf(" of ~%d (%.0f%%)", pr.Estimate, 100*float64(pr.Rows)/float64(pr.Estimate))
	}
	pad := max(0, p.width-len(line))
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.width = len(line)
}

func (p *verifyProgress) clear() {
	if p == nil || p.width == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	p.width = 0
}
