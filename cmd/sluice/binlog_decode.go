package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

const decodeHelp = `
Decode binlog files to Sluice JSON lines on standard output, one change per
line: begin and commit of each transaction, insert, update and delete for
every row (with before and after images), statement (with "sql") for every
INSERT, UPDATE, DELETE, REPLACE or LOAD DATA the server logged as SQL text
instead of rows (binlog_format=STATEMENT or MIXED), and ddl (with "sql")
for every other statement. Files are read in the order given, as one stream; FILE
"-" alone reads one binlog from standard input (positions then name the
file "stdin").

Each change carries its position: the file, the offset of the event it came
from, and its index among the changes of that event ("pos"), and the GTID
of its transaction ("tx").

Filters work as in mysqlbinlog: positions apply to the first (start) and
last (stop) file; times are the events' header timestamps, given as
"YYYY-MM-DD hh:mm:ss" in the local time zone or as RFC 3339; --database and
--table may be repeated or given comma-separated (a table is "name" or
"db.name"; DDL is kept for the selected databases). GTID sets are MySQL
sets ("uuid:1-5,uuid2:7") or MariaDB lists of domain-server-seq GTIDs and
domain-server-first-last ranges ("0-1-5,0-1-10-20").

Checksums are verified unless --skip-checksums is given (as in "sluice
binlog events"): a damaged event then ends decoding with an error naming
the file and offset.

MariaDB 5.3-10.0 (and 10.1+ for tables created with
mysql56_temporal_format=OFF) logs TIME(n), DATETIME(n) and TIMESTAMP(n)
with fractional seconds in a format of its own whose precision the binlog
does not record: rows of such tables end decoding with an error until
--temporal-precision gives it, for example --temporal-precision
shop.orders.created=3 (COLUMN is a name, or a 1-based number when the
binlog has no column names).

Progress (bytes, events, rate, ETA) is written to standard error when it is
a terminal and the input is larger than 64 MB.`

// listFlag collects repeated and comma-separated flag values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// timeFlag parses mysqlbinlog-style datetimes.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		var t time.Time
		var err error
		if layout == time.RFC3339Nano {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, time.Local)
		}
		if err == nil {
			f.t = t
			return nil
		}
	}
	return fmt.Errorf("not a datetime: %q (want \"YYYY-MM-DD hh:mm:ss\" or RFC 3339)", s)
}

// gtidFlag parses a GTID set.
type gtidFlag struct{ set *changes.GTIDSet }

func (f *gtidFlag) String() string {
	if f.set == nil {
		return ""
	}
	return f.set.String()
}

func (f *gtidFlag) Set(s string) error {
	set, err := changes.ParseGTIDSet(s)
	if err != nil {
		return err
	}
	f.set = set
	return nil
}

func runBinlogDecode(ctx context.Context, e *env, args []string) error {
	var (
		flt                changes.Filter
		dbs, tables        listFlag
		startT, stopT      timeFlag
		include, exclude   gtidFlag
		progressThreshold  int64 = 64 << 20
		startPos, stopPos  int64
		noCheck            bool
		precisions         listFlag
		progressOnTerminal = e.StderrTerminal
	)
	fs := newFlagSet(e, "binlog decode", "sluice binlog decode [options] FILE...", decodeHelp)
	fs.Int64Var(&startPos, "start-position", 0, "start at the first event at or after this offset of the first file")
	fs.Int64Var(&stopPos, "stop-position", 0, "stop at the first event at or after this offset of the last file")
	fs.Var(&startT, "start-datetime", "skip events before this time")
	fs.Var(&stopT, "stop-datetime", "stop at the first event at or after this time")
	fs.Var(&dbs, "database", "keep only changes of this database (repeatable)")
	fs.Var(&dbs, "d", "short for --database")
	fs.Var(&tables, "table", "keep only changes of this table, name or db.name (repeatable)")
	fs.Var(&include, "include-gtids", "keep only transactions whose GTID is in this set")
	fs.Var(&exclude, "exclude-gtids", "drop transactions whose GTID is in this set")
	fs.BoolVar(&noCheck, "skip-checksums", false, "do not verify CRC32 checksums")
	fs.Var(&precisions, "temporal-precision", "DB.TABLE.COLUMN=N: the precision of a MariaDB TIME, DATETIME or TIMESTAMP column logged without it (repeatable)")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("binlog decode: no FILE given")
	}
	if startPos < 0 || stopPos < 0 {
		return usagef("binlog decode: positions must not be negative")
	}
	flt = changes.Filter{
		StartPosition: startPos, StopPosition: stopPos,
		StartTime: startT.t, StopTime: stopT.t,
		Databases: dbs, Tables: tables,
		IncludeGTIDs: include.set, ExcludeGTIDs: exclude.set,
	}
	d := changes.NewDecoder(flt)
	if noCheck {
		d.ReaderOptions = append(d.ReaderOptions, binlog.WithoutChecksums())
	}
	for _, p := range precisions {
		cp, err := changes.ParseColumnPrecision(p)
		if err != nil {
			return usagef("binlog decode: --temporal-precision: %v", strings.TrimPrefix(err.Error(), "changes: "))
		}
		d.Precisions = append(d.Precisions, cp)
	}
	w := bufio.NewWriterSize(e.Stdout, 256<<10)
	var line []byte
	var enc change.Encoder
	emit := func(c *change.Change) error {
		line = enc.Append(line[:0], c)
		line = append(line, '\n')
		_, err := w.Write(line)
		return err
	}
	var prog *progress
	if progressOnTerminal && totalSize(files) > progressThreshold {
		prog = newProgress(e.Stderr, d)
	}
	if len(files) == 1 && files[0] == "-" {
		err = changes.DecodeReader(ctx, e.Stdin, "stdin", true, true, d, emit)
	} else {
		err = changes.DecodeFiles(ctx, files, d, emit, prog.update)
	}
	prog.done()
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, binlog.ErrTemporalPrecision) {
		err = fmt.Errorf("%w; give each column's precision with --temporal-precision DB.TABLE.COLUMN=N", err)
	}
	return err
}

func totalSize(files []string) int64 {
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// progress draws one status line on a terminal.
type progress struct {
	w     io.Writer
	d     *changes.Decoder
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, d *changes.Decoder) *progress {
	now := time.Now()
	return &progress{w: w, d: d, start: now, last: now}
}

// update is a changes.Progress; it redraws at most twice a second.
func (p *progress) update(done, total int64) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 500*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / el
	eta := "?"
	if rate > 0 && total >= done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%d/%d MB (%.0f%%)  %d events  %d changes  %.0f MB/s  ETA %s   ",
		done>>20, total>>20, 100*float64(done)/float64(max(total, 1)), p.d.Events, p.d.Changes, rate/(1<<20), eta)
	p.drawn = true
}

// done clears the status line.
func (p *progress) done() {
	if p != nil && p.drawn {
		fmt.Fprintf(p.w, "\r%*s\r", 100, "")
	}
}
