package main

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/binlog/tools"
)

const flashbackHelp = `
Write a binlog that undoes the selected row changes of binlog files (or,
with --sql, the undo SQL). In the binlog, each INSERT becomes a DELETE and
each DELETE an INSERT, each UPDATE gets its before and after images
swapped, and rows, events and transactions are in reverse order; GTID
events are replaced by BEGIN so the undo applies as new transactions:

    sluice binlog flashback --start-datetime '2026-11-24 08:00:00' bin.000042 -o undo.bin
    mariadb-binlog undo.bin | mariadb

Needs binlog_row_image=FULL (and, for --sql, binlog_row_metadata=FULL).
DDL is not undone (it is counted on standard error). Memory does not grow
with the input: the reversal spills to temporary files.

Selection works as in mysqlbinlog and "sluice binlog decode".`

func runBinlogFlashback(ctx context.Context, e *env, args []string) error {
	var (
		sel   selection
		out   string
		asSQL bool
		tmp   string
	)
	fs := newFlagSet(e, "binlog flashback", "sluice binlog flashback [options] FILE... -o undo.bin", flashbackHelp)
	sel.register(fs, true)
	fs.StringVar(&out, "o", "", "write the undo to this file (default: standard output)")
	fs.BoolVar(&asSQL, "sql", false, "write undo SQL instead of a binlog")
	fs.StringVar(&tmp, "tmpdir", "", "directory for spill files (default: the system's)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog flashback: no FILE given")
	}
	flt, err := sel.filter("binlog flashback")
	if err != nil {
		return err
	}
	ops, err := sel.ops("binlog flashback")
	if err != nil {
		return err
	}
	w, closeOut, err := output(e, out)
	if err != nil {
		return err
	}
	prog := newByteProgressTotal(e, 2*totalSize(files)) // two passes over the input
	var rows, tx, ddl int64
	if asSQL {
		opt := tools.SQLOptions{Filter: flt, Ops: ops, TempDir: tmp}
		if prog != nil {
			opt.Progress = prog.update
		}
		var res tools.SQLResult
		res, err = tools.FlashbackSQL(ctx, files, opt, w)
		rows, tx, ddl = res.Rows, res.Transactions, res.SkippedDDL
	} else {
		opt := tools.FlashbackOptions{Filter: flt, Ops: ops, TempDir: tmp}
		if prog != nil {
			opt.Progress = prog.update
		}
		var res tools.FlashbackResult
		res, err = tools.Flashback(ctx, files, opt, w)
		rows, tx, ddl = res.Rows, res.Transactions, res.SkippedDDL
	}
	prog.done()
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if ddl > 0 {
		fmt.Fprintf(e.Stderr, "sluice: binlog flashback: warning: %d statements in the range (DDL, or DML logged as a statement) are not undone\n", ddl)
	}
	if out != "" && out != "-" {
		fmt.Fprintf(e.Stderr, "sluice: binlog flashback: %d rows in %d transactions undone in %s\n", rows, tx, out)
	}
	return nil
}
