package tools

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

// FlashbackOptions configures Flashback.
type FlashbackOptions struct {
	// Filter selects events as mysqlbinlog does; its selection is applied
	// by a changes.Decoder run alongside, so it means the same as for
	// "sluice binlog decode".
	Filter changes.Filter
	// Ops selects row operations (zero: all).
	Ops Ops
	// TempDir is where the reversal spills (default: os.TempDir()).
	TempDir string
	// Progress, when set, gets the work done so far and the total, in
	// bytes of input: the total is twice the input's size, the first
	// pass's bytes read and then the second pass's share of the input
	// written back.
	Progress Progress
}

// FlashbackResult counts what Flashback wrote.
type FlashbackResult struct {
	Transactions int64
	RowsEvents   int64
	Rows         int64
	SkippedDDL   int64 // DDL and statement-based DML (binlog_format=STATEMENT) in the range, which a binlog cannot undo
}

// Flashback writes to w a binlog that undoes the selected row changes of
// files: inserts become deletes and deletes inserts (the event type
// swapped), updates get their before and after images swapped, rows inside
// an event, events inside a transaction and transactions are in reverse
// order. Each rows event follows its TABLE_MAP and ends its statement.
// GTID events are dropped (the undo applies as new transactions): each
// transaction starts with a QUERY "BEGIN" and ends with its original XID
// or COMMIT (a COMMIT for one that ended otherwise: XA PREPARE, ROLLBACK
// of non-transactional rows). Compressed transaction payloads (MySQL 8)
// and compressed rows (MariaDB) are written expanded. Rows must have FULL
// images.
//
// The input is read twice: the first pass (undoScan) checks every event
// and row and spools, in temporary files, references to the rows events
// of regular files (other rows events are copied there whole); the second
// pass reads those rows events again, last first, checks their checksums
// again and writes their undo. Memory does not grow with the input.
// Progress covers both passes.
func Flashback(ctx context.Context, files []string, opt FlashbackOptions, w io.Writer) (FlashbackResult, error) {
	var res FlashbackResult
	if len(files) == 0 {
		return res, errNoFiles
	}
	sp, err := newSpool(opt.TempDir)
	if err != nil {
		return res, err
	}
	defer sp.close()
	u := newUndoScan(opt.Filter, opt.Ops, sp, &res)
	defer u.refs.close()
	total := 2 * inputSize(files)
	done, err := u.run(ctx, files, opt.Progress, total)
	if err != nil {
		return res, err
	}
	if u.fde == nil {
		return res, fmt.Errorf("tools: flashback: no FORMAT_DESCRIPTION_EVENT in the input")
	}
	if opt.Progress != nil {
		sp.progress = func(i, n int64) { opt.Progress(done+done*i/max(n, 1), total) }
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := u.writeBinary(ctx, binlog.NewWriter(bw)); err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("tools: flashback: writing: %w", err)
	}
	return res, nil
}

// writeBinary is the second pass of Flashback: it writes the format
// description, then the spooled records last first, as undo transactions.
func (u *undoScan) writeBinary(ctx context.Context, out *binlog.Writer) error {
	write := func(rec []byte) error {
		h, err := binlog.DecodeHeader(rec)
		if err != nil {
			return err
		}
		return out.WriteEvent(h, rec[binlog.HeaderLenV4:])
	}
	if err := write(u.fde); err != nil {
		return err
	}
	var pending []byte // the commit event that ends the undo transaction being written
	open := false
	begin := func(h binlog.Header) error {
		h.Type = binlog.QueryEvent
		h.Flags = 0
		open = true
		return out.WriteEvent(h, binlog.AppendQueryBody(nil, "BEGIN"))
	}
	var table []byte // the TABLE_MAP record that precedes the next rows event
	n := 0
	err := u.sp.reverse(func(rec []byte) error {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch rec[0] {
		case recRef:
			ev, tm, err := u.refs.read(rec, table)
			if err != nil {
				return err
			}
			if err := u.raw.parse(ev, only(tm)); err != nil {
				return err
			}
			u.rec = undoRecord(u.rec[:0], ev.Header, &u.raw)
			return write(u.rec[1:])
		case recCommit:
			pending = append(pending[:0], rec[1:]...)
			h, err := binlog.DecodeHeader(rec[1:])
			if err != nil {
				return err
			}
			return begin(h)
		case recBegin:
			if !open {
				return nil
			}
			open = false
			return write(pending)
		default:
			if !open {
				// The input ended inside a transaction: its undo
				// gets a BEGIN here and a COMMIT at its end.
				h, err := binlog.DecodeHeader(rec[1:])
				if err != nil {
					return err
				}
				if err := begin(h); err != nil {
					return err
				}
				h.Type, h.Flags = binlog.QueryEvent, 0
				pending = appendRecord(pending, 0, h, binlog.AppendQueryBody(nil, "COMMIT"))[1:]
			}
			if rec[0] == recTable {
				table = append(table[:0], rec...)
			}
			return write(rec[1:])
		}
	})
	if err != nil {
		return fmt.Errorf("tools: flashback: %w", err)
	}
	if open {
		if err := write(pending); err != nil {
			return fmt.Errorf("tools: flashback: %w", err)
		}
	}
	return nil
}

// undoRecord appends to dst the recRows record undoing the rows event
// with header h, parsed in r: the rows in reverse order, inserts and
// deletes swapped, the images of updates swapped.
func undoRecord(dst []byte, h binlog.Header, r *rawRows) []byte {
	h.Type = r.Type
	switch r.Type {
	case binlog.WriteRowsEventV1:
		h.Type = binlog.DeleteRowsEventV1
	case binlog.DeleteRowsEventV1:
		h.Type = binlog.WriteRowsEventV1
	case binlog.WriteRowsEventV2:
		h.Type = binlog.DeleteRowsEventV2
	case binlog.DeleteRowsEventV2:
		h.Type = binlog.WriteRowsEventV2
	}
	body := append(dst, recRows)
	body = h.Append(body)
	pf := len(body)
	body = append(body, r.post...)
	flags := binary.LittleEndian.Uint16(body[pf+r.idLen:])
	binary.LittleEndian.PutUint16(body[pf+r.idLen:], flags|binlog.RowsFlagStmtEnd)
	body = append(body, r.ncols...)
	if len(r.bitmaps) == 2 {
		body = append(append(body, r.bitmaps[1]...), r.bitmaps[0]...)
	} else {
		body = append(body, r.bitmaps[0]...)
	}
	for i := r.rows() - 1; i >= 0; i-- {
		start, mid, end := r.row(i)
		body = append(body, r.data[mid:end]...) // the after image (nothing for one-image rows)
		body = append(body, r.data[start:mid]...)
	}
	return body
}

func opOf(k binlog.RowsKind) change.Op {
	switch k {
	case binlog.RowsInsert:
		return change.OpInsert
	case binlog.RowsUpdate:
		return change.OpUpdate
	}
	return change.OpDelete
}
