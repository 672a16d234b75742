package tools

import (
	"bufio"
	"context"
	"fmt"
	"io"

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
	// Progress, when set, gets the bytes read so far and the total.
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
// column names (binlog_row_metadata=FULL). Statements are spilled to
// temporary files, so memory does not grow with the input.
func FlashbackSQL(ctx context.Context, files []string, opt SQLOptions, w io.Writer) (SQLResult, error) {
	var res SQLResult
	sp, err := newSpool(opt.TempDir)
	if err != nil {
		return res, err
	}
	defer sp.close()
	buf := []byte{0}
	emit := func(c *change.Change) error {
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
	if err := changes.DecodeFiles(ctx, files, changes.NewDecoder(opt.Filter), emit, opt.Progress); err != nil {
		return res, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.WriteString(SQLPreamble); err != nil {
		return res, fmt.Errorf("tools: writing SQL: %w", err)
	}
	open := false
	err = sp.reverse(func(rec []byte) error {
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
