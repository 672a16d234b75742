package tools

import (
	"bufio"
	"bytes"
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
	// Progress, when set, gets the work done so far, in bytes of input: it
	// runs up to twice the input's size, the first pass's bytes read and
	// then the second pass's share of the input written back.
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
	recRows  = 'R' // the undo rows event (header and body)
	recTable = 'T' // a TABLE_MAP (header and body)
	recRef   = 'F' // a rows event to undo, by place: input, format, offset, size
)

// refLen is the size of a recRef record.
const refLen = 1 + 4 + 4 + 8 + 4

// input is one input file of Flashback.
type input struct {
	path    string
	regular bool // a regular file: rows events can be read again by offset
	back    backReader
}

// decodedMap is a TABLE_MAP met while writing the undo.
type decodedMap struct {
	body []byte
	tm   *binlog.TableMap
}

// Flashback writes to w a binlog that undoes the selected row changes of
// files: inserts become deletes and deletes inserts (the event type
// swapped), updates get their before and after images swapped, rows inside
// an event, events inside a transaction and transactions are in reverse
// order. Each rows event follows its TABLE_MAP and ends its statement.
// GTID events are dropped (the undo applies as new transactions): each
// transaction starts with a QUERY "BEGIN" and ends with its original XID
// or COMMIT. Compressed transaction payloads (MySQL 8) and compressed rows
// (MariaDB) are written expanded. Rows must have FULL images.
//
// The input is read twice: the first pass checks every event and row and
// spools, in temporary files, references to the rows events of regular
// files (other rows events are copied there whole); the second pass reads
// those rows events again, last first, checks their checksums again and
// writes their undo. Memory does not grow with the input. Progress covers
// both passes.
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
	f := newFlashback(opt, sp, &res)
	f.emit = func(*change.Change) error { f.hits++; return nil }
	defer f.closeInputs()
	done, err := f.files(ctx, files)
	if err != nil {
		return res, err
	}
	if f.fde == nil {
		return res, fmt.Errorf("tools: flashback: no FORMAT_DESCRIPTION_EVENT in the input")
	}
	if f.opt.Progress != nil {
		sp.progress = func(i, n int64) { f.opt.Progress(done + done*i/max(n, 1)) }
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	out := binlog.NewWriter(bw)
	if err := f.writeRecords(ctx, out); err != nil {
		return res, err
	}
	if err := bw.Flush(); err != nil {
		return res, fmt.Errorf("tools: flashback: writing: %w", err)
	}
	return res, nil
}

// newFlashback returns the first pass of Flashback or FlashbackSQL; the
// caller sets emit.
func newFlashback(opt FlashbackOptions, sp *spool, res *FlashbackResult) *flashback {
	return &flashback{opt: opt, sp: sp, oracle: changes.NewDecoder(opt.Filter), res: res,
		tables: map[uint64]*binlog.TableMap{}, maps: map[uint64][]byte{}, maps2: map[uint64]*decodedMap{}}
}

// flashback reads the input of Flashback and FlashbackSQL (first pass)
// and spools what the undo needs; its writers read the spool back.
type flashback struct {
	opt    FlashbackOptions
	sp     *spool
	oracle *changes.Decoder
	res    *FlashbackResult

	fde    []byte // header and body of the first FORMAT_DESCRIPTION_EVENT
	tables map[uint64]*binlog.TableMap
	maps   map[uint64][]byte // table id → TABLE_MAP header and body
	raw    rawRows
	probe  []byte // body of the one-row event the selection is asked about
	rec    []byte

	// Rows events of regular files are spooled as references (recRef)
	// and read again, last first, when the undo is written: the input is
	// not copied to the spill file.
	inputs []input
	fdes   []*binlog.FormatDescription // formats the references name
	maps2  map[uint64]*decodedMap      // table id → TABLE_MAP, when writing
	open   bool                        // a begin record was spooled for the current transaction
	hits   int64

	// emit gets the changes of the selecting decoder: Flashback counts
	// them in hits; FlashbackSQL spools transaction boundaries, and the
	// undo statements of rows events it does not spool by reference.
	emit    func(*change.Change) error
	sql     bool // FlashbackSQL: transactions come from emit
	probing bool // emit is getting the probe of a rows event: count only
	reread  binlog.Event
}

// files runs the first pass over every input file in order and returns
// the bytes read; the selection ending early (changes.ErrStop) is not an
// error.
func (f *flashback) files(ctx context.Context, files []string) (int64, error) {
	var done int64
	for i, p := range files {
		n, err := f.file(ctx, p, i == 0, i == len(files)-1, done)
		done += n
		if errors.Is(err, changes.ErrStop) {
			break
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (f *flashback) file(ctx context.Context, path string, first, last bool, base int64) (int64, error) {
	src, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("tools: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return 0, fmt.Errorf("tools: %w", err)
	}
	f.inputs = append(f.inputs, input{path: path, regular: st.Mode().IsRegular()})
	f.oracle.StartFile(path, first, last)
	clear(f.tables)
	clear(f.maps)
	r := binlog.NewReader(bufio.NewReaderSize(src, 1<<20), filepath.Base(path))
	defer r.Close()
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
			if f.opt.Progress != nil {
				f.opt.Progress(base + r.Offset())
			}
			return r.Offset(), nil
		}
		if err != nil {
			return r.Offset(), err
		}
		if binlog.IsRowsEvent(ev.Header.Type) {
			if err := f.rowsEvent(ev); err != nil {
				return r.Offset(), err
			}
			continue
		}
		f.hits = 0
		if err := f.oracle.Event(ev, f.emit); err != nil {
			return r.Offset(), err
		}
		if err := f.event(ev); err != nil {
			return r.Offset(), err
		}
	}
}

// rowsEvent undoes the rows event ev if the selection holds it. A rows
// event is selected or not as a whole (its table, position, time and
// transaction decide), so the selecting decoder is shown a probe: the
// event cut after its first row, which it decodes alone; then the rows are
// walked once, sized without decoding, for the rewrite.
//
// FlashbackSQL spools only rows events it can read again by reference
// that way; the others go to the decoder whole, and emit spools their
// undo statements.
func (f *flashback) rowsEvent(ev *binlog.Event) error {
	f.hits = 0
	r := &f.raw
	err := r.parse(ev, func(id uint64) *binlog.TableMap { return f.tables[id] })
	if f.sql && (err != nil || !f.referable(ev) || !r.full() || !named(f.tables[r.TableID])) {
		return f.oracle.Event(ev, f.emit)
	}
	if err != nil {
		// Not rewritable (or damaged): the selection decides whether
		// that matters, as it did before the rows were walked.
		if err := f.oracle.Event(ev, f.emit); err != nil {
			return err
		}
		if f.hits == 0 {
			return nil
		}
		return err
	}
	probe := *ev
	probe.Header.Type = r.Type
	f.probe = append(f.probe[:0], r.prefix...)
	if r.rows() > 0 {
		start, _, end := r.row(0)
		f.probe = append(f.probe, r.data[start:end]...)
	}
	probe.Body = f.probe
	probe.Raw = nil
	f.probing = true
	err = f.oracle.Event(&probe, f.emit)
	f.probing = false
	if err != nil {
		return err
	}
	if f.hits == 0 {
		return nil // not selected (or no rows)
	}
	return f.rows(ev)
}

// named reports whether every column of tm has a name.
func named(tm *binlog.TableMap) bool {
	if tm == nil {
		return false
	}
	for i := range tm.Columns {
		if tm.Columns[i].Name == "" {
			return false
		}
	}
	return true
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
	case f.sql:
		// FlashbackSQL: transactions and DDL come from emit.
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

// rows spools the undo of the rows event ev, which f.raw holds parsed.
func (f *flashback) rows(ev *binlog.Event) error {
	r := &f.raw
	if !f.opt.Ops.keep(opOf(r.Kind)) || r.rows() == 0 {
		return nil
	}
	if !r.full() {
		tm := f.tables[r.TableID]
		return ev.Wrap(fmt.Errorf("%s.%s: %w", tm.Database, tm.Table, ErrNotFullImage))
	}
	if !f.open && !f.sql {
		f.open = true
		if err := f.sp.add([]byte{recBegin}); err != nil {
			return err
		}
	}
	f.res.RowsEvents++
	f.res.Rows += int64(r.rows())
	tm := f.maps[r.TableID]
	if tm == nil {
		return ev.Wrap(fmt.Errorf("%w %d", binlog.ErrNoTableMap, r.TableID))
	}
	if f.referable(ev) {
		f.rec = f.ref(f.rec[:0], ev)
	} else {
		f.rec = undoRecord(f.rec[:0], ev.Header, r)
	}
	if err := f.sp.add(f.rec); err != nil {
		return err
	}
	return f.sp.add(tm)
}

// referable reports whether ev can be spooled as a reference: an event of
// a regular file, not nested in a payload, with a v4 header.
func (f *flashback) referable(ev *binlog.Event) bool {
	return !ev.Nested && f.inputs[len(f.inputs)-1].regular && ev.FDE != nil &&
		ev.FDE.HeaderLength == binlog.HeaderLenV4 && !ev.FDE.OldTypeCodes &&
		len(ev.Raw) == int(ev.Header.EventSize) && ev.Header.EventSize >= binlog.HeaderLenV4
}

// ref appends to dst the recRef record of ev.
func (f *flashback) ref(dst []byte, ev *binlog.Event) []byte {
	fi := len(f.fdes) - 1
	if fi < 0 || f.fdes[fi] != ev.FDE {
		f.fdes = append(f.fdes, ev.FDE)
		fi++
	}
	dst = append(dst, recRef)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.inputs)-1))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(fi))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ev.Offset))
	return binary.LittleEndian.AppendUint32(dst, ev.Header.EventSize)
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

// queryBody returns a QUERY_EVENT body running sql with no database and
// no status variables.
func queryBody(sql string) []byte {
	b := make([]byte, 13, 14+len(sql))
	return append(append(b, 0), sql...)
}

// closeInputs closes the input files read again.
func (f *flashback) closeInputs() {
	for i := range f.inputs {
		if b := &f.inputs[i].back; b.f != nil {
			b.f.Close()
			*b = backReader{} // and drop its window
		}
	}
}

// undoRef reads the rows event of a recRef record again and appends its
// undo record to dst; table is the TABLE_MAP record spooled after it.
func (f *flashback) undoRef(dst, rec, table []byte) ([]byte, error) {
	ev, tm, err := f.readRef(rec, table)
	if err != nil {
		return nil, err
	}
	if err := f.raw.parse(ev, func(id uint64) *binlog.TableMap {
		if id == tm.TableID {
			return tm
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return undoRecord(dst, ev.Header, &f.raw), nil
}

// readRef reads the rows event of a recRef record again, checking its
// checksum, and decodes the TABLE_MAP record spooled after it. The event
// is valid until the next call.
func (f *flashback) readRef(rec, table []byte) (*binlog.Event, *binlog.TableMap, error) {
	if len(rec) != refLen || len(table) < 1+binlog.HeaderLenV4 {
		return nil, nil, fmt.Errorf("tools: flashback: damaged spill record")
	}
	fi := int(binary.LittleEndian.Uint32(rec[1:]))
	di := int(binary.LittleEndian.Uint32(rec[5:]))
	off := int64(binary.LittleEndian.Uint64(rec[9:]))
	size := int(binary.LittleEndian.Uint32(rec[17:]))
	if fi >= len(f.inputs) || di >= len(f.fdes) {
		return nil, nil, fmt.Errorf("tools: flashback: damaged spill record")
	}
	in, fde := &f.inputs[fi], f.fdes[di]
	if in.back.f == nil {
		f.closeInputs() // refs come file by file, last first
		src, err := os.Open(in.path)
		if err != nil {
			return nil, nil, fmt.Errorf("tools: flashback: %w", err)
		}
		in.back = backReader{f: src}
	}
	raw, err := in.back.at(off, size)
	if err != nil {
		return nil, nil, fmt.Errorf("tools: flashback: reading again: %w", err)
	}
	name := filepath.Base(in.path)
	h, err := binlog.DecodeHeader(raw)
	if err != nil || int(h.EventSize) != size || !binlog.IsRowsEvent(h.Type) {
		return nil, nil, &binlog.Error{Source: name, Offset: off, Err: fmt.Errorf("the rows event read in the first pass has changed: %v", err)}
	}
	ev := binlog.Event{Source: name, Offset: off, Header: h, Raw: raw, Body: raw[binlog.HeaderLenV4:], FDE: fde}
	if fde.HasChecksum() {
		n := size - binlog.ChecksumLen
		if n < binlog.HeaderLenV4 || binlog.EventChecksum(raw[:n]) != binary.LittleEndian.Uint32(raw[n:]) {
			return nil, nil, ev.Wrap(fmt.Errorf("%w: the rows event read in the first pass has changed", binlog.ErrChecksum))
		}
		ev.Body, ev.Checksummed = raw[binlog.HeaderLenV4:n], true
	}
	tm, err := f.tableMap(table[1+binlog.HeaderLenV4:], fde)
	if err != nil {
		return nil, nil, ev.Wrap(err)
	}
	f.reread = ev
	return &f.reread, tm, nil
}

// tableMap decodes the TABLE_MAP body b, or returns the one decoded
// before from the same bytes.
func (f *flashback) tableMap(b []byte, fde *binlog.FormatDescription) (*binlog.TableMap, error) {
	idLen := 6
	if fde.PostHeaderLen(binlog.TableMapEvent) == 6 {
		idLen = 4
	}
	if len(b) < idLen {
		return nil, fmt.Errorf("%w: TABLE_MAP post-header", binlog.ErrTruncated)
	}
	var id uint64
	for i := idLen - 1; i >= 0; i-- {
		id = id<<8 | uint64(b[i])
	}
	if m := f.maps2[id]; m != nil && bytes.Equal(m.body, b) {
		return m.tm, nil
	}
	tm, err := binlog.DecodeTableMap(b, fde)
	if err != nil {
		return nil, err
	}
	m := f.maps2[id]
	if m == nil {
		m = &decodedMap{}
		f.maps2[id] = m
	}
	m.body, m.tm = append(m.body[:0], b...), tm
	return tm, nil
}

// writeRecords writes the FDE, then the spooled records last first.
func (f *flashback) writeRecords(ctx context.Context, out *binlog.Writer) error {
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
	var table []byte // the TABLE_MAP record that precedes the next rows event
	n := 0
	err := f.sp.reverse(func(rec []byte) error {
		if n++; n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch rec[0] {
		case recRef:
			var err error
			if f.rec, err = f.undoRef(f.rec[:0], rec, table); err != nil {
				return err
			}
			return write(f.rec[1:])
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
