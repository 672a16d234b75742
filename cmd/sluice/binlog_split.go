package main

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/binlog/tools"
)

const splitHelp = `
Copy binlog files to one binlog in which every transaction over --max-rows
rows or --max-bytes bytes of row images is split into a sequence of
complete smaller transactions (each with BEGIN, its TABLE_MAPs and an XID;
a large rows event is cut at row boundaries). The pieces get no GTID event,
so they apply as new transactions; smaller transactions are copied as they
are. The pieces are no longer atomic: a failure between them leaves part of
the original transaction applied.

--max-bytes counts the bytes of the rows themselves (before and after
images); event headers, TABLE_MAPs, BEGIN and XID come on top (1.6% for
64 KiB pieces in the tests). A single row larger than --max-bytes becomes a
piece of its own, over the limit. Both limits may be given. While deciding
whether a transaction is over a limit, split holds up to 64 MiB of its
events in memory and the rest in a temporary file (--tmpdir), so memory
stays bounded whatever the transaction's size and any limit is honoured.
Progress goes to standard error when it is a terminal.`

func runBinlogSplit(ctx context.Context, e *env, args []string) error {
	var (
		opt tools.SplitOptions
		out string
	)
	fs := newFlagSet(e, "binlog split", "sluice binlog split [options] FILE... -o out.bin", splitHelp)
	fs.Int64Var(&opt.MaxRows, "max-rows", 0, "most rows per transaction")
	fs.Int64Var(&opt.MaxBytes, "max-bytes", 0, "most bytes of row images per transaction (a larger row goes alone)")
	fs.StringVar(&out, "o", "", "write the binlog to this file")
	fs.StringVar(&opt.TempDir, "tmpdir", "", "directory for the temporary file of a transaction still undecided past 64 MiB (default: the system's)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog split: no FILE given")
	}
	if out == "" {
		return usagef("binlog split: -o FILE is required")
	}
	if opt.MaxRows < 0 || opt.MaxBytes < 0 || opt.MaxRows == 0 && opt.MaxBytes == 0 {
		return usagef("binlog split: give --max-rows or --max-bytes (positive)")
	}
	w, closeOut, err := output(e, out)
	if err != nil {
		return err
	}
	prog := newByteProgress(e, files)
	if prog != nil {
		w = newBinlogCounter(w, prog)
	}
	res, err := tools.Split(ctx, files, opt, w)
	prog.done()
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if res.Split > 0 {
		fmt.Fprintf(e.Stderr, "sluice: binlog split: warning: %d transactions split into %d pieces, which are no longer atomic\n", res.Split, res.Pieces)
	}
	return nil
}
