package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-cdc/sluice/binlog/tools"
)

const bigtxHelp = `
List the largest transactions of binlog files, by bytes and by rows: file,
start and end offsets, GTID, commit time, duration (first to last event
timestamp) and the rows changed per table. --format json prints one JSON
document.`

func runBinlogBigTx(ctx context.Context, e *env, args []string) error {
	var (
		opt    tools.BigTxOptions
		format string
	)
	fs := newFlagSet(e, "binlog bigtx", "sluice binlog bigtx [options] FILE...", bigtxHelp)
	fs.IntVar(&opt.Top, "top", 10, "how many transactions to list by each measure")
	fs.Int64Var(&opt.MinBytes, "min-bytes", 0, "leave out transactions smaller than this many bytes")
	fs.Int64Var(&opt.MinRows, "min-rows", 0, "leave out transactions with fewer rows")
	fs.StringVar(&format, "format", "table", "output format: table or json")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog bigtx: no FILE given")
	}
	if format != "table" && format != "json" {
		return usagef("binlog bigtx: --format must be table or json, not %q", format)
	}
	if opt.Top <= 0 {
		return usagef("binlog bigtx: --top must be positive")
	}
	prog := newByteProgress(e, files)
	if prog != nil {
		opt.Progress = prog.update
	}
	rep, err := tools.BigTx(ctx, files, opt)
	prog.done()
	if err != nil {
		return err
	}
	if format == "json" {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(e.Stdout, "%d transactions\n\nLargest by bytes:\n", rep.Transactions)
	if err := printTxs(e.Stdout, rep.ByBytes); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "\nLargest by rows:\n")
	return printTxs(e.Stdout, rep.ByRows)
}

func printTxs(w io.Writer, txs []*tools.Transaction) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSTART\tEND\tBYTES\tROWS\tGTID\tCOMMIT TIME\tDURATION\tTABLES")
	for _, tx := range txs {
		var tabs []string
		for _, t := range tx.Tables {
			tabs = append(tabs, fmt.Sprintf("%s(i%d u%d d%d)", t.Table, t.Inserts, t.Updates, t.Deletes))
		}
		gtid := tx.GTID
		if gtid == "" {
			gtid = "-"
		}
		dur := time.Duration(int64(tx.CommitTime)-int64(tx.FirstTime)) * time.Second
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", tx.File, tx.Start, tx.End, tx.Bytes(), tx.Rows, gtid,
			time.Unix(int64(tx.CommitTime), 0).UTC().Format("2006-01-02 15:04:05"), dur, strings.Join(tabs, " "))
	}
	return tw.Flush()
}
