package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sluice-cdc/sluice/binlog/tools"
)

const statsHelp = `
Count, per table, the rows inserted, updated and deleted, the bytes of its
rows events and the transactions that changed it, the most changed table
first; then the same per time bucket of the event timestamps (--bucket,
0 for none). --format json prints one JSON document.`

func runBinlogStats(ctx context.Context, e *env, args []string) error {
	var (
		opt    tools.StatsOptions
		format string
	)
	fs := newFlagSet(e, "binlog stats", "sluice binlog stats [options] FILE...", statsHelp)
	fs.DurationVar(&opt.Bucket, "bucket", time.Minute, "width of the time buckets (0: none)")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog stats: no FILE given")
	}
	if format != "table" && format != "json" {
		return usagef("binlog stats: --format must be table or json, not %q", format)
	}
	if opt.Bucket < 0 {
		return usagef("binlog stats: --bucket must not be negative")
	}
	prog := newByteProgress(e, files)
	if prog != nil {
		opt.Progress = prog.update
	}
	rep, err := tools.Stats(ctx, files, opt)
	prog.done()
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tINSERTS\tUPDATES\tDELETES\tROWS\tBYTES\tTRANSACTIONS")
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", t.Table, t.Inserts, t.Updates, t.Deletes, t.Rows(), t.Bytes, t.Transactions)
	}
	fmt.Fprintf(tw, "(all)\t\t\t\t\t%d\t%d\n", rep.Bytes, rep.Transactions)
	if len(rep.Buckets) > 0 {
		fmt.Fprintln(tw, "\nBUCKET (UTC)\tINSERTS\tUPDATES\tDELETES\tROWS\tBYTES\tTRANSACTIONS")
		for _, b := range rep.Buckets {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", b.Start.Format("2006-01-02 15:04:05"), b.Inserts, b.Updates, b.Deletes,
				b.Inserts+b.Updates+b.Deletes, b.Bytes, b.Transactions)
		}
	}
	return tw.Flush()
}
