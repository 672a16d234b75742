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
	// Progress, when set, gets the bytes read so far and the total. For
	// FlashbackSQL both count twice the input: it reads it in two passes.
	Progress Progress
}

// SQLResult counts what SQL and FlashbackSQL wrote.
type SQLResult struct {
	Rows         int64 // row statements written
	Transactions int64 // transactions written
	SkippedDDL   int64 // DDL and statement-based DML (binlog_format=STATEMENT) in the range, which are not replayed or undone
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
		case change.OpDDL, change.OpStatement:
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
	if err := changes.DecodeFiles(ctx, files, changes.NewDecoder(opt.Filter), emit, changes.Progress(opt.Progress)); err != nil {
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
