package tools

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
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
	var fres FlashbackResult
	u := newUndoScan(opt.Filter, opt.Ops, sp, &fres)
	u.sql = true
	defer u.refs.close()
	spooler := sqlSpooler{sp: sp, ops: opt.Ops, res: &res, sel: &u.sel}
	u.sel.emit = spooler.emit
	total := 2 * inputSize(files) // two passes
	done, err := u.run(ctx, files, opt.Progress, total)
	if err != nil {
		return res, err
	}
	res.Rows += fres.Rows
	if opt.Progress != nil {
		sp.progress = func(i, n int64) { opt.Progress(done+done*i/max(n, 1), total) }
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
			err = s.write(bw, &u.refs, rec, table)
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
	rr            binlog.RowsReader
	c             change.Change
	before, after []change.Value
	stmts         []byte
	ends          []int
}

// write reads the rows event of the recRef record rec again (its
// TABLE_MAP record is table) and writes the undo statement of each of its
// rows to w, the last row first.
func (s *sqlUndo) write(w *bufio.Writer, refs *undoRefs, rec, table []byte) error {
	ev, tm, err := refs.read(rec, table)
	if err != nil {
		return err
	}
	r := &s.rr
	if err := r.ResetEvent(ev, only(tm)); err != nil {
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

// sqlSpooler is the first pass's handler of the selection's changes in
// FlashbackSQL: it spools the transactions' begins and commits, and the
// undo statements of the rows events that are not spooled by reference.
type sqlSpooler struct {
	sp  *spool
	ops Ops
	res *SQLResult
	sel *selection
	buf []byte
}

func (s *sqlSpooler) emit(c *change.Change) error {
	s.sel.selected++
	var err error
	s.buf = append(s.buf[:0], 0)
	switch c.Op {
	case change.OpBegin:
		s.buf[0] = recBegin
	case change.OpCommit:
		s.buf[0] = recCommit
	case change.OpDDL, change.OpStatement:
		s.res.SkippedDDL++
		return nil
	case change.OpInsert, change.OpUpdate, change.OpDelete:
		if s.sel.probing {
			return nil // the rows event is selected; it is spooled by reference
		}
		if !s.ops.keep(c.Op) {
			return nil
		}
		s.buf[0] = recStmt
		if s.buf, err = AppendUndo(s.buf, c); err != nil {
			return fmt.Errorf("tools: at %s: %w", c.Pos, err)
		}
		s.res.Rows++
	default:
		return nil
	}
	return s.sp.add(s.buf)
}
