package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/sluice-cdc/sluice/binlog/tools"
)

const cutHelp = `
Write a standalone binlog holding the transactions of binlog files that
start in the range, whole: the FORMAT_DESCRIPTION_EVENT, then every event
of each selected transaction (TABLE_MAPs included), with positions and
checksums rewritten. --start-position applies to the first file and
--stop-position to the last; datetimes are the transactions' first event
timestamps ("YYYY-MM-DD hh:mm:ss" local time, or RFC 3339). Progress goes
to standard error when it is a terminal (it counts what is written, so it
starts once the range does).`

const joinHelp = `
Join binlog files (for example parts written by "sluice binlog cut") into
one binlog: one FORMAT_DESCRIPTION_EVENT, then every transaction in order,
with positions and checksums rewritten. Progress goes to standard error
when it is a terminal.`

func runBinlogCut(ctx context.Context, e *env, args []string) error {
	var (
		rg            tools.Range
		startT, stopT timeFlag
		out           string
	)
	fs := newFlagSet(e, "binlog cut", "sluice binlog cut [options] FILE... -o part.bin", cutHelp)
	fs.Int64Var(&rg.StartPosition, "start-position", 0, "keep transactions starting at or after this offset of the first file")
	fs.Int64Var(&rg.StopPosition, "stop-position", 0, "stop at the first transaction starting at or after this offset of the last file")
	fs.Var(&startT, "start-datetime", "keep transactions starting at or after this time")
	fs.Var(&stopT, "stop-datetime", "stop at the first transaction starting at or after this time")
	fs.StringVar(&out, "o", "", "write the binlog to this file")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog cut: no FILE given")
	}
	if out == "" {
		return usagef("binlog cut: -o FILE is required")
	}
	if rg.StartPosition < 0 || rg.StopPosition < 0 {
		return usagef("binlog cut: positions must not be negative")
	}
	rg.StartTime, rg.StopTime = startT.t, stopT.t
	return writeCut(e, "cut", out, cutBound(files, rg), func(w io.Writer) (tools.CutResult, error) { return tools.Cut(ctx, files, rg, w) })
}

func runBinlogJoin(ctx context.Context, e *env, args []string) error {
	var out string
	fs := newFlagSet(e, "binlog join", "sluice binlog join FILE... -o all.bin", joinHelp)
	fs.StringVar(&out, "o", "", "write the binlog to this file")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog join: no FILE given")
	}
	if out == "" {
		return usagef("binlog join: -o FILE is required")
	}
	return writeCut(e, "join", out, totalSize(files), func(w io.Writer) (tools.CutResult, error) { return tools.Join(ctx, files, w) })
}

// cutBound returns how many bytes of files a cut by rg can write at most:
// all of them but the part of the first file before the start position
// and of the last file from the stop position on. It sizes the progress
// line.
func cutBound(files []string, rg tools.Range) int64 {
	n := totalSize(files) - rg.StartPosition
	if rg.StopPosition > 0 {
		n -= totalSize(files[len(files)-1:]) - rg.StopPosition
	}
	return max(n, 0)
}

// writeCut runs a cut or a join into the file out, with a progress line
// over total bytes, and reports what it wrote.
func writeCut(e *env, name, out string, total int64, do func(io.Writer) (tools.CutResult, error)) error {
	w, closeOut, err := output(e, out)
	if err != nil {
		return err
	}
	// The tools write one event at a time.
	bw := bufio.NewWriterSize(w, 1<<20)
	w = bw
	prog := newByteProgressTotal(e, total)
	if prog != nil {
		w = newBinlogCounter(w, prog)
	}
	res, err := do(w)
	prog.done()
	if err == nil {
		err = bw.Flush()
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "sluice: binlog %s: %d transactions, %d events, %d bytes in %s\n", name, res.Transactions, res.Events, res.Bytes, out)
	return nil
}
