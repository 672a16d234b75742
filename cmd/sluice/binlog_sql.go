package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/binlog/tools"
)

const sqlHelp = `
Write SQL statements that apply the row changes of binlog files again
(like binlog2sql), one transaction per BEGIN … COMMIT: an INSERT for each
inserted row, an UPDATE and a DELETE keyed on the primary key (or on every
column when the table has none) for each updated and deleted row. Values
are exact SQL literals; TIMESTAMPs are in UTC, so the output starts with
SET time_zone = '+00:00'. Needs binlog_row_metadata=FULL (column names)
and binlog_row_image=FULL. DDL is not replayed.

Selection works as in mysqlbinlog and "sluice binlog decode"; --type keeps
only some row operations. Progress goes to standard error when it is a
terminal.`

// selection holds the mysqlbinlog-style selection flags shared by the
// binlog tools.
type selection struct {
	startPos, stopPos int64
	startT, stopT     timeFlag
	dbs, tables       listFlag
	include, exclude  gtidFlag
	types             listFlag
}

func (s *selection) register(fs *flag.FlagSet, withTypes bool) {
	fs.Int64Var(&s.startPos, "start-position", 0, "start at the first event at or after this offset of the first file")
	fs.Int64Var(&s.stopPos, "stop-position", 0, "stop at the first event at or after this offset of the last file")
	fs.Var(&s.startT, "start-datetime", "skip events before this time")
	fs.Var(&s.stopT, "stop-datetime", "stop at the first event at or after this time")
	fs.Var(&s.dbs, "database", "keep only changes of this database (repeatable)")
	fs.Var(&s.dbs, "d", "short for --database")
	fs.Var(&s.tables, "table", "keep only changes of this table, name or db.name (repeatable)")
	fs.Var(&s.include, "include-gtids", "keep only transactions whose GTID is in this set")
	fs.Var(&s.exclude, "exclude-gtids", "drop transactions whose GTID is in this set")
	if withTypes {
		fs.Var(&s.types, "type", "keep only these row operations: insert, update, delete (comma-separated)")
	}
}

func (s *selection) filter(cmd string) (changes.Filter, error) {
	if s.startPos < 0 || s.stopPos < 0 {
		return changes.Filter{}, usagef("%s: positions must not be negative", cmd)
	}
	return changes.Filter{
		StartPosition: s.startPos, StopPosition: s.stopPos,
		StartTime: s.startT.t, StopTime: s.stopT.t,
		Databases: s.dbs, Tables: s.tables,
		IncludeGTIDs: s.include.set, ExcludeGTIDs: s.exclude.set,
	}, nil
}

func (s *selection) ops(cmd string) (tools.Ops, error) {
	var o tools.Ops
	for _, t := range s.types {
		switch t {
		case "insert":
			o.Insert = true
		case "update":
			o.Update = true
		case "delete":
			o.Delete = true
		default:
			return o, usagef("%s: --type takes insert, update and delete, not %q", cmd, t)
		}
	}
	return o, nil
}

// output opens path for writing ("" or "-": standard output); closing it
// reports write errors.
func output(e *env, path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return e.Stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

func runBinlogSQL(ctx context.Context, e *env, args []string) error {
	var sel selection
	var out string
	fs := newFlagSet(e, "binlog sql", "sluice binlog sql [options] FILE...", sqlHelp)
	sel.register(fs, true)
	fs.StringVar(&out, "o", "", "write the SQL to this file (default: standard output)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog sql: no FILE given")
	}
	flt, err := sel.filter("binlog sql")
	if err != nil {
		return err
	}
	ops, err := sel.ops("binlog sql")
	if err != nil {
		return err
	}
	w, closeOut, err := output(e, out)
	if err != nil {
		return err
	}
	prog := newByteProgress(e, files)
	opt := tools.SQLOptions{Filter: flt, Ops: ops}
	if prog != nil {
		opt.Progress = prog.update
	}
	res, err := tools.SQL(ctx, files, opt, w)
	prog.done()
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err == nil && res.SkippedDDL > 0 {
		fmt.Fprintf(e.Stderr, "sluice: binlog sql: %d statements in the range (DDL, or DML logged as a statement) were not replayed\n", res.SkippedDDL)
	}
	return err
}
