package tools

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	// Progress, when set, gets the bytes read so far.
	Progress func(done int64)
}

// FlashbackResult counts what Flashback wrote.
type FlashbackResult struct {
	Transactions int64
	RowsEvents   int64
	Rows         int64
	SkippedDDL   int64 // DDL in the range, which a binlog cannot undo
}

// Spool record kinds of Flashback (recBegin and recCommit as in FlashbackSQL).
const (
	recRows  = 'R'
	recTable = 'T'
)

// Flashback writes to w a binlog that undoes the selected row changes of
// files: inserts become deletes and deletes inserts (the event type
// swapped), updates get their before and after images swapped, rows inside
// an event, events inside a transaction and transactions are in reverse
// order. Each rows event follows its TABLE_MAP and ends its statement.
// GTID events are dropped (the undo applies as new transactions): each
// transaction starts with a QUERY "BEGIN" and ends with its original XID
// or COMMIT. Compressed transaction payloads (MySQL 8) and compressed rows
// (MariaDB) are written expanded. Rows must have FULL images.
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
	f := &flashback{opt: opt, sp: sp, oracle: changes.NewDecoder(opt.Filter), res: &res,
		tables: map[uint64]*binlog.TableMap{}, maps: map[uint64][]byte{}}
	var done int64
	for i, p := range files {
		n, err := f.file(ctx, p, i == 0, i == len(files)-1, done)
		done += n
		if errors.Is(err, changes.ErrStop) {
			break
		}
		if err != nil {
			return res, err
		}
	}
	if f.fde == nil {
		return res, fmt.Errorf("tools: flashback: no FORMAT_DESCRIPTION_EVENT in the input")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	out := binlog.NewWriter(bw)
	if err := f.writeRecords(out); err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("tools: flashback: writing: %w", err)
	}
	return res, nil
}

type flashback struct {
	opt    FlashbackOptions
	sp     *spool
	oracle *changes.Decoder
	res    *FlashbackResult

	fde    []byte // header and body of the first FORMAT_DESCRIPTION_EVENT
	tables map[uint64]*binlog.TableMap
	maps   map[uint64][]byte // table id → TABLE_MAP header and body
	raw    rawRows
	rec    []byte
	open   bool // a begin record was spooled for the current transaction
	hits   int64
}

func (f *flashback) file(ctx context.Context, path string, first, last bool, base int64) (int64, error) {
	src, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("tools: %w", err)
	}
	defer src.Close()
	f.oracle.StartFile(path, first, last)
	clear(f.tables)
	clear(f.maps)
	r := binlog.NewReader(bufio.NewReaderSize(src, 1<<20), filepath.Base(path))
	defer r.Close()
	count := func(*change.Change) error { f.hits++; return nil }
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return r.Offset(), err
			}
			if f.opt.Progress != nil {
				f.opt.Progress(base + r.Offset())
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			return r.Offset(), nil
		}
		if err != nil {
			return r.Offset(), err
		}
		f.hits = 0
		if err := f.oracle.Event(ev, count); err != nil {
			return r.Offset(), err
		}
		if err := f.event(ev); err != nil {
			return r.Offset(), err
		}
	}
}

func appendRecord(dst []byte, kind byte, h binlog.Header, body []byte) []byte {
	dst = append(dst[:0], kind)
	dst = h.Append(dst)
	return append(dst, body...)
}

func (f *flashback) event(ev *binlog.Event) error {
	switch t := ev.Header.Type; {
	case t == binlog.FormatDescriptionEvent:
		if f.fde == nil {
			h := ev.Header
			h.Flags &^= 0x0001
			f.fde = appendRecord(nil, 0, h, ev.Body)[1:]
		}
	case t == binlog.TableMapEvent:
		tm, err := binlog.DecodeTableMapEvent(ev)
		if err != nil {
			return ev.Wrap(err)
		}
		f.tables[tm.TableID] = tm
		f.maps[tm.TableID] = appendRecord(f.maps[tm.TableID][:0], recTable, ev.Header, ev.Body)
	case binlog.IsRowsEvent(t):
		if f.hits == 0 {
			return nil // not selected (or no rows)
		}
		return f.rows(ev)
	case t == binlog.XIDEvent:
		return f.commit(ev)
	case t == binlog.QueryEvent:
		var q binlog.Query
		if err := q.Decode(ev.Body, ev.FDE); err != nil {
			return ev.Wrap(err)
		}
		switch sql := strings.ToUpper(strings.TrimSpace(q.SQL)); {
		case sql == "COMMIT":
			return f.commit(ev)
		case sql == "BEGIN", sql == "ROLLBACK", strings.HasPrefix(sql, "SAVEPOINT"), strings.HasPrefix(sql, "XA "):
		default:
			if f.hits > 0 {
				f.res.SkippedDDL++
			}
		}
	}
	return nil
}

func (f *flashback) commit(ev *binlog.Event) error {
	if !f.open {
		return nil
	}
	f.open = false
	f.res.Transactions++
	f.rec = appendRecord(f.rec, recCommit, ev.Header, ev.Body)
	return f.sp.add(f.rec)
}

func (f *flashback) rows(ev *binlog.Event) error {
	r := &f.raw
	if err := r.parse(ev, func(id uint64) *binlog.TableMap { return f.tables[id] }); err != nil {
		return err
	}
	if !f.opt.Ops.keep(opOf(r.Kind)) || r.rows() == 0 {
		return nil
	}
	if !r.full() {
		tm := f.tables[r.TableID]
		return ev.Wrap(fmt.Errorf("%s.%s: %w", tm.Database, tm.Table, ErrNotFullImage))
	}
	if !f.open {
		f.open = true
		if err := f.sp.add([]byte{recBegin}); err != nil {
			return err
		}
	}
	h := ev.Header
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
	body := append(f.rec[:0], recRows)
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
	f.rec = body
	f.res.RowsEvents++
	f.res.Rows += int64(r.rows())
	if err := f.sp.add(f.rec); err != nil {
		return err
	}
	tm := f.maps[r.TableID]
	if tm == nil {
		return ev.Wrap(fmt.Errorf("%w %d", binlog.ErrNoTableMap, r.TableID))
	}
	return f.sp.add(tm)
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

// queryBody returns a QUERY_EVENT body running sql with no database and
// no status variables.
func queryBody(sql string) []byte {
	b := make([]byte, 13, 14+len(sql))
	return append(append(b, 0), sql...)
}

// writeRecords writes the FDE, then the spooled records last first.
func (f *flashback) writeRecords(out *binlog.Writer) error {
	write := func(rec []byte) error {
		h, err := binlog.DecodeHeader(rec)
		if err != nil {
			return err
		}
		return out.WriteEvent(h, rec[binlog.HeaderLenV4:])
	}
	if err := write(f.fde); err != nil {
		return err
	}
	var pending []byte // the commit event that ends the undo transaction being written
	open := false
	begin := func(h binlog.Header) error {
		h.Type = binlog.QueryEvent
		h.Flags = 0
		open = true
		return out.WriteEvent(h, queryBody("BEGIN"))
	}
	err := f.sp.reverse(func(rec []byte) error {
		switch rec[0] {
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
				pending = appendRecord(pending, 0, h, queryBody("COMMIT"))[1:]
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
