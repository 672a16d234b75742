package tools

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

// Ops selects row operations; the zero Ops selects all of them.
type Ops struct{ Insert, Update, Delete bool }

// keep reports whether op passes.
func (o Ops) keep(op change.Op) bool {
	if !o.Insert && !o.Update && !o.Delete {
		return true
	}
	switch op {
	case change.OpInsert:
		return o.Insert
	case change.OpUpdate:
		return o.Update
	case change.OpDelete:
		return o.Delete
	}
	return true
}

// SQLOptions configures SQL and FlashbackSQL.
type SQLOptions struct {
	// Filter selects events as mysqlbinlog does.
	Filter changes.Filter
	// Ops selects row operations (zero: all).
	Ops Ops
	// TempDir is where FlashbackSQL spills (default: os.TempDir()).
	TempDir string
	// Progress, when set, gets the bytes read so far and the total. For
	// FlashbackSQL both count twice the input: it reads it in two passes.
	Progress changes.Progress
}

// SQLResult counts what SQL and FlashbackSQL wrote.
type SQLResult struct {
	Rows         int64 // row statements written
	Transactions int64 // transactions written
	SkippedDDL   int64 // DDL statements in the range, which are not replayed or undone
}

// SQL writes to w the SQL statements that apply again the row changes of
// the binlog files, transaction by transaction (BEGIN … COMMIT).
func SQL(ctx context.Context, files []string, opt SQLOptions, w io.Writer) (SQLResult, error) {
	var res SQLResult
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(SQLPreamble); err != nil {
		return res, fmt.Errorf("tools: writing SQL: %w", err)
	}
	var buf []byte
	open := false
	emit := func(c *change.Change) error {
		var err error
		buf = buf[:0]
		switch c.Op {
		case change.OpBegin:
			buf, open = append(buf, "BEGIN;\n"...), true
		case change.OpCommit:
			if !open {
				return nil
			}
			buf, open = append(buf, "COMMIT;\n"...), false
			res.Transactions++
		case change.OpDDL:
			res.SkippedDDL++
			return nil
		case change.OpInsert, change.OpUpdate, change.OpDelete:
			if !opt.Ops.keep(c.Op) {
				return nil
			}
			if buf, err = AppendRedo(buf, c); err != nil {
				return fmt.Errorf("tools: at %s: %w", c.Pos, err)
			}
			res.Rows++
		default:
			return nil
		}
		_, err = bw.Write(buf)
		return err
	}
	if err := changes.DecodeFiles(ctx, files, changes.NewDecoder(opt.Filter), emit, opt.Progress); err != nil {
		return res, err
	}
	if open {
		if _, err := bw.WriteString("COMMIT;\n"); err != nil {
			return res, fmt.Errorf("tools: writing SQL: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("tools: writing SQL: %w", err)
	}
	return res, nil
}

// Spool record kinds of FlashbackSQL.
const (
	recBegin  = 'B'
	recCommit = 'C'
	recStmt   = 'S'
)

// FlashbackSQL writes to w the SQL statements that undo the selected row
// changes: the last change first, each INSERT undone by a DELETE, each
// DELETE by an INSERT, each UPDATE by the reverse UPDATE, transaction by
// transaction in reverse order. Rows must have FULL images and the tables
// column names (binlog_row_metadata=FULL). Memory does not grow with the
// input: rows events of regular files are spooled by reference and read
// again, last first, when the statements are written (a value that fails
// to decode is then reported after part of the output was written); other
// rows events (nested in a compressed payload, or from a pipe) have their
// statements spilled to a temporary file.
func FlashbackSQL(ctx context.Context, files []string, opt SQLOptions, w io.Writer) (SQLResult, error) {
	var res SQLResult
	sp, err := newSpool(opt.TempDir)
	if err != nil {
		return res, err
	}
	defer sp.close()
	fopt := FlashbackOptions{Filter: opt.Filter, Ops: opt.Ops, TempDir: opt.TempDir}
	if opt.Progress != nil {
		var total int64
		for _, p := range files {
			if st, err := os.Stat(p); err == nil {
				total += st.Size()
			}
		}
		total *= 2 // two passes
		fopt.Progress = func(done int64) { opt.Progress(done, total) }
	}
	var fres FlashbackResult
	f := newFlashback(fopt, sp, &fres)
	f.sql = true
	defer f.closeInputs()
	buf := []byte{0}
	f.emit = func(c *change.Change) error {
		var err error
		buf = buf[:1]
		switch c.Op {
		case change.OpBegin:
			buf[0] = recBegin
		case change.OpCommit:
			buf[0] = recCommit
		case change.OpDDL:
			res.SkippedDDL++
			return nil
		case change.OpInsert, change.OpUpdate, change.OpDelete:
			if f.probing {
				f.hits++ // the rows event is selected; it is spooled by reference
				return nil
			}
			if !opt.Ops.keep(c.Op) {
				return nil
			}
			buf[0] = recStmt
			if buf, err = AppendUndo(buf, c); err != nil {
				return fmt.Errorf("tools: at %s: %w", c.Pos, err)
			}
			res.Rows++
		default:
			return nil
		}
		return sp.add(buf)
	}
	done, err := f.files(ctx, files)
	if err != nil {
		return res, err
	}
	res.Rows += fres.Rows
	if fopt.Progress != nil {
		sp.progress = func(i, n int64) { fopt.Progress(done + done*i/max(n, 1)) }
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(SQLPreamble); err != nil {
		return res, fmt.Errorf("tools: writing SQL: %w", err)
	}
	open := false
	var table []byte // the TABLE_MAP record that precedes the next reference
	var s sqlUndo
	n := 0
	err = sp.reverse(func(rec []byte) error {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var err error
		switch rec[0] {
		case recCommit: // read backwards, a commit opens the undo transaction
			if open {
				_, err = bw.WriteString("COMMIT;\n")
			}
			if err == nil {
				_, err = bw.WriteString("BEGIN;\n")
			}
			open = true
		case recBegin:
			if open {
				_, err = bw.WriteString("COMMIT;\n")
				res.Transactions++
			}
			open = false
		case recTable:
			table = append(table[:0], rec...)
		case recRef:
			err = s.write(bw, f, rec, table)
		default:
			_, err = bw.Write(rec[1:])
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("tools: writing SQL: %w", err)
	}
	if open {
		if _, err := bw.WriteString("COMMIT;\n"); err != nil {
			return res, fmt.Errorf("tools: writing SQL: %w", err)
		}
		res.Transactions++
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("tools: writing SQL: %w", err)
	}
	return res, nil
}

// sqlUndo writes the undo statements of rows events spooled by reference.
type sqlUndo struct {
	c             change.Change
	before, after []change.Value
	stmts         []byte
	ends          []int
}

// write reads the rows event of the recRef record rec again (its
// TABLE_MAP record is table) and writes the undo statement of each of its
// rows to w, the last row first.
func (s *sqlUndo) write(w *bufio.Writer, f *flashback, rec, table []byte) error {
	ev, tm, err := f.readRef(rec, table)
	if err != nil {
		return err
	}
	r := &f.raw.rr
	if err := r.ResetEvent(ev, func(id uint64) *binlog.TableMap {
		if id == tm.TableID {
			return tm
		}
		return nil
	}); err != nil {
		return err
	}
	op := opOf(r.Kind)
	s.stmts, s.ends = s.stmts[:0], s.ends[:0]
	for r.Next() {
		if s.before, err = r.Before(s.before[:0]); err != nil {
			return err
		}
		if s.after, err = r.After(s.after[:0]); err != nil {
			return err
		}
		s.c = change.Change{Op: op, Columns: tm.Columns, Before: s.before, After: s.after}
		s.c.Database, s.c.Table = tm.Database, tm.Table
		if s.stmts, err = AppendUndo(s.stmts, &s.c); err != nil {
			pos := change.Position{Flavor: change.FlavorBinlog, File: ev.Source, Offset: uint64(ev.Offset), Index: uint64(r.Row() - 1)}
			return fmt.Errorf("tools: at %s: %w", pos, err)
		}
		s.ends = append(s.ends, len(s.stmts))
	}
	if err := r.Err(); err != nil {
		return err
	}
	for i := len(s.ends) - 1; i >= 0; i-- {
		start := 0
		if i > 0 {
			start = s.ends[i-1]
		}
		if _, err := w.Write(s.stmts[start:s.ends[i]]); err != nil {
			return err
		}
	}
	if cap(s.stmts) > 16<<20 {
		s.stmts = nil
	}
	return nil
}
