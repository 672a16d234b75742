package tools

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

// Spool records of the undo, as the first pass writes them (Flashback
// and FlashbackSQL read them back last first).
const (
	recBegin  = 'B' // a transaction with undone rows begins here (its end comes first when read back)
	recCommit = 'C' // the end of such a transaction: (binary undo) its commit event, header and body
	recStmt   = 'S' // (SQL undo) undo statements of a rows event read whole
	recRows   = 'R' // (binary undo) the undo rows event, header and body, of a rows event read whole
	recTable  = 'T' // the TABLE_MAP record, header and body, of the rows event spooled before it
	recRef    = 'F' // a rows event to undo, by place (see undoRefs)
)

// undoScan is the first pass of Flashback and FlashbackSQL: it reads the
// input once, asks the selection which events are selected, and spools
// in order what the undo needs, for the writer of each mode to read back
// last first. Rows events of regular files are spooled by reference and
// read again then, so the input is not copied.
type undoScan struct {
	ops Ops
	sql bool // FlashbackSQL: transactions come from the selection's changes
	sp  *spool
	sel selection
	res *FlashbackResult

	fde []byte // header and body of the first FORMAT_DESCRIPTION_EVENT, in-use flag cleared
	// tableRecords holds, by table id, the TABLE_MAP record (header and
	// body) spooled after each undone rows event of the table.
	tableRecords map[uint64][]byte
	raw          rawRows
	refs         undoRefs
	open         bool // a recBegin was spooled for the current transaction
	rec          []byte
}

func newUndoScan(filter changes.Filter, ops Ops, sp *spool, res *FlashbackResult) *undoScan {
	u := &undoScan{ops: ops, sp: sp, res: res, tableRecords: map[uint64][]byte{}}
	u.sel.dec = changes.NewDecoder(filter)
	u.sel.emit = u.sel.count
	return u
}

// run reads every input file in order and returns the bytes read; the
// selection ending early (changes.ErrStop) is not an error.
func (u *undoScan) run(ctx context.Context, files []string, progress Progress, total int64) (int64, error) {
	sc := scan{progress: progress, total: total, event: u.event,
		start: func(i int, path string, in *input) error {
			st, err := in.f.Stat()
			if err != nil {
				return fmt.Errorf("tools: %w", err)
			}
			u.refs.inputs = append(u.refs.inputs, refInput{path: path, regular: st.Mode().IsRegular()})
			u.sel.dec.StartFile(path, i == 0, i == len(files)-1)
			clear(u.tableRecords)
			return nil
		}}
	done, err := sc.run(ctx, files)
	if errors.Is(err, changes.ErrStop) {
		err = nil
	}
	return done, err
}

// event handles one event of the input.
func (u *undoScan) event(ev *binlog.Event) error {
	if binlog.IsRowsEvent(ev.Header.Type) {
		if err := u.rowsEvent(ev); err != nil {
			return err
		}
		return u.end(ev)
	}
	if err := u.sel.event(ev); err != nil {
		return err
	}
	st := u.sel.dec.Step()
	switch st.Kind {
	case binlog.KindFormat:
		if u.fde == nil && ev.Header.Type == binlog.FormatDescriptionEvent {
			u.fde = appendRecord(nil, 0, binlog.ClosedHeader(ev.Header), ev.Body)[1:]
		}
	case binlog.KindTableMap:
		id := st.Table.TableID
		u.tableRecords[id] = appendRecord(u.tableRecords[id][:0], recTable, ev.Header, ev.Body)
	case binlog.KindStatement:
		if !u.sql && u.sel.selected > 0 {
			u.res.SkippedDDL++
		}
	}
	return u.end(ev)
}

// end spools the end of an undone binary transaction that ev ends. The
// undo ends with the original XID or COMMIT; a transaction that ended
// otherwise (ROLLBACK of non-transactional rows, XA PREPARE, a statement
// without BEGIN) gets a COMMIT with ev's header.
func (u *undoScan) end(ev *binlog.Event) error {
	if u.sql || !u.sel.dec.Step().Ends || !u.open {
		return nil
	}
	u.open = false
	u.res.Transactions++
	h, body := ev.Header, ev.Body
	commit := h.Type == binlog.XIDEvent
	if !commit && h.Type == binlog.QueryEvent {
		commit = u.sel.dec.Framer().Query().SQL == "COMMIT"
	}
	if !commit {
		h.Type, h.Flags = binlog.QueryEvent, 0
		body = binlog.AppendQueryBody(nil, "COMMIT")
	}
	u.rec = appendRecord(u.rec, recCommit, h, body)
	return u.sp.add(u.rec)
}

// rowsEvent undoes the rows event ev if the selection holds it. A rows
// event is selected or not as a whole (its table, position, time and
// transaction decide), so the selection is shown a probe: the event cut
// after its first row, which it decodes alone; then the rows are walked
// once, sized without decoding, for the rewrite.
//
// FlashbackSQL spools only rows events it can read again by reference
// that way; the others go to the selection whole, and its changes spool
// their undo statements.
func (u *undoScan) rowsEvent(ev *binlog.Event) error {
	r := &u.raw
	tables := u.sel.dec.Framer()
	err := r.parse(ev, tables.Table)
	if u.sql && (err != nil || !u.refs.referable(ev) || !r.full() || !named(tables.Table(r.TableID))) {
		return u.sel.event(ev)
	}
	if err != nil {
		// Not rewritable (or damaged): the selection decides whether
		// that matters, as it did before the rows were walked.
		if err := u.sel.event(ev); err != nil {
			return err
		}
		if u.sel.selected == 0 {
			return nil
		}
		return err
	}
	selected, err := u.sel.probe(ev, r)
	if err != nil || !selected {
		return err
	}
	return u.spoolRows(ev)
}

// spoolRows spools the undo of the rows event ev, which u.raw holds parsed.
func (u *undoScan) spoolRows(ev *binlog.Event) error {
	r := &u.raw
	if !u.ops.keep(opOf(r.Kind)) || r.rows() == 0 {
		return nil
	}
	if !r.full() {
		tm := u.sel.dec.Framer().Table(r.TableID)
		return ev.Wrap(fmt.Errorf("%s.%s: %w", tm.Database, tm.Table, ErrNotFullImage))
	}
	if !u.open && !u.sql {
		u.open = true
		if err := u.sp.add([]byte{recBegin}); err != nil {
			return err
		}
	}
	u.res.RowsEvents++
	u.res.Rows += int64(r.rows())
	tm := u.tableRecords[r.TableID]
	if tm == nil {
		return ev.Wrap(fmt.Errorf("%w %d", binlog.ErrNoTableMap, r.TableID))
	}
	if u.refs.referable(ev) {
		u.rec = u.refs.record(u.rec[:0], ev)
	} else {
		u.rec = undoRecord(u.rec[:0], ev.Header, r)
	}
	if err := u.sp.add(u.rec); err != nil {
		return err
	}
	return u.sp.add(tm)
}

// selection asks the filter of a run whether an event is selected: a
// changes.Decoder, fed every event of the input in order (a rows event
// perhaps as a probe), decides as "sluice binlog decode" would, and the
// changes it emits for the event are counted.
type selection struct {
	dec *changes.Decoder
	// emit gets the decoder's changes: count, or FlashbackSQL's spooler,
	// which counts too.
	emit     func(*change.Change) error
	selected int64 // changes emitted for the current event
	probing  bool  // the current event is a probe: its rows are spooled by reference
	body     []byte
}

// count is the emit of a selection that only counts.
func (s *selection) count(*change.Change) error {
	s.selected++
	return nil
}

// event shows ev to the decoder.
func (s *selection) event(ev *binlog.Event) error {
	s.selected = 0
	return s.dec.Event(ev, s.emit)
}

// probe shows the decoder the rows event ev (parsed in r) cut after its
// first row, and reports whether it selected it.
func (s *selection) probe(ev *binlog.Event, r *rawRows) (bool, error) {
	probe := *ev
	probe.Header.Type = r.Type
	s.body = append(s.body[:0], r.prefix...)
	if r.rows() > 0 {
		start, _, end := r.row(0)
		s.body = append(s.body, r.data[start:end]...)
	}
	probe.Body = s.body
	probe.Raw = nil
	s.probing = true
	err := s.event(&probe)
	s.probing = false
	return s.selected > 0, err
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
