package changes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// ErrStop is returned by an emit function to end decoding early without
// an error; DecodeFiles then returns nil. A Decoder returns it itself when
// Filter.StopPosition or StopTime is reached.
var ErrStop = errors.New("changes: stop")

// Decoder turns events into changes. It keeps the table maps and the
// transaction state between events. A Decoder is not safe for concurrent
// use.
type Decoder struct {
	filter Filter

	file   string // base name of the current file
	first  bool   // the current file is the first one
	last   bool   // the current file is the last one
	source string // "mysql" or "mariadb", from the format description

	tables map[uint64]*binlog.TableMap
	rows   binlog.RowsReader
	lookup func(uint64) *binlog.TableMap

	quiet   bool // the current event is before the start: emit nothing
	inTx    bool
	emitted bool   // a change of the current transaction was emitted
	pending bool   // a begin is due before the transaction's first change
	beginAt int64  // offset of the event that began the transaction
	beginTS uint32 // its timestamp
	skipTx  bool   // the current transaction is filtered out by GTID
	gtid    string // GTID of the current transaction ("" when none)
	txIndex uint64 // index of the next change inside the transaction

	posOffset int64  // offset of the event the last change came from
	posIndex  uint64 // index of the next change at posOffset

	c      change.Change
	before []change.Value
	after  []change.Value

	// Counters, for progress and statistics.
	Events  int64 // events seen
	Changes int64 // changes emitted
}

// NewDecoder returns a Decoder that emits the changes f selects.
func NewDecoder(f Filter) *Decoder {
	d := &Decoder{filter: f, tables: map[uint64]*binlog.TableMap{}}
	d.lookup = func(id uint64) *binlog.TableMap { return d.tables[id] }
	return d
}

// StartFile tells the decoder that the following events come from the
// file named name; first and last say whether it is the first or the last
// file of the run (for Filter.StartPosition and StopPosition).
func (d *Decoder) StartFile(name string, first, last bool) {
	d.file = filepath.Base(name)
	d.first, d.last = first, last
	clear(d.tables)
}

// Event decodes one event and calls emit for each change it yields. It
// returns ErrStop when the filter's stop position or time is reached, the
// first error of emit, or an *binlog.Error for a malformed event.
func (d *Decoder) Event(ev *binlog.Event, emit func(*change.Change) error) error {
	d.Events++
	f := &d.filter
	if d.last && f.StopPosition > 0 && ev.Offset >= f.StopPosition {
		return ErrStop
	}
	if !f.StopTime.IsZero() && !fileEvent(ev.Header.Type) &&
		!time.Unix(int64(ev.Header.Timestamp), 0).Before(f.StopTime) {
		return ErrStop
	}
	// Events before the start still update state (table maps, the
	// transaction), but emit nothing.
	d.quiet = (d.first && ev.Offset < f.StartPosition) ||
		(!f.StartTime.IsZero() && !fileEvent(ev.Header.Type) && time.Unix(int64(ev.Header.Timestamp), 0).Before(f.StartTime))
	switch t := ev.Header.Type; {
	case t == binlog.FormatDescriptionEvent:
		d.source = "mysql"
		if ev.FDE != nil && ev.FDE.MariaDB {
			d.source = "mariadb"
		}
	case t == binlog.TableMapEvent:
		tm, err := binlog.DecodeTableMap(ev.Body, ev.FDE)
		if err != nil {
			return locate(ev, err)
		}
		d.tables[tm.TableID] = tm
	case binlog.IsRowsEvent(t):
		return d.rowsEvent(ev, emit)
	case t == binlog.MariaPartialRowDataEvent:
		return ev.Wrap(binlog.ErrFragmentedRow)
	case t == binlog.IncidentEvent:
		// The server logs an incident when it may have lost changes (the
		// replica SQL thread stops on it): going on would be silent loss.
		var in binlog.Incident
		if err := in.Decode(ev.Body, ev.FDE); err != nil {
			return locate(ev, err)
		}
		return ev.Errorf("incident %d (%s): the server may have lost events here", in.Type, in.Message)
	case t == binlog.MariaGTIDEvent:
		var g binlog.MariaGTIDStart
		if err := g.Decode(ev.Body, ev.FDE); err != nil {
			return locate(ev, err)
		}
		gt := g.GTID(ev.Header.ServerID)
		d.startGTID(gt.String(), d.skipMaria(gt))
		if g.Flags&binlog.MariaGTIDStandalone == 0 {
			return d.begin(ev, emit)
		}
	case t == binlog.GTIDEvent, t == binlog.AnonymousGTIDEvent, t == binlog.GTIDTaggedLogEvent:
		var g binlog.GTID
		var err error
		if t == binlog.GTIDTaggedLogEvent {
			err = g.DecodeTagged(ev.Body, ev.FDE)
		} else {
			err = g.Decode(ev.Body, ev.FDE)
		}
		if err != nil {
			return locate(ev, err)
		}
		if g.Anonymous() {
			d.startGTID("", f.IncludeGTIDs != nil)
		} else {
			gt := g.GTID()
			d.startGTID(gt.String(), d.skipMySQL(gt))
		}
	case t == binlog.QueryEvent || t == binlog.MariaQueryCompressedEvent:
		var q binlog.Query
		var err error
		if t == binlog.QueryEvent {
			err = q.Decode(ev.Body, ev.FDE)
		} else {
			err = q.DecodeCompressed(ev.Body, ev.FDE)
		}
		if err != nil {
			return locate(ev, err)
		}
		return d.query(ev, &q, emit)
	case t == binlog.XIDEvent:
		return d.commit(ev, emit)
	}
	return nil
}

// startGTID opens a GTID group.
func (d *Decoder) startGTID(gtid string, skip bool) {
	d.gtid = gtid
	d.skipTx = skip
	d.inTx = false
	d.txIndex = 0
}

func (d *Decoder) skipMaria(g binlog.MariaGTID) bool {
	f := &d.filter
	if f.IncludeGTIDs != nil && !f.IncludeGTIDs.containsMaria(g) {
		return true
	}
	return f.ExcludeGTIDs != nil && f.ExcludeGTIDs.containsMaria(g)
}

func (d *Decoder) skipMySQL(g binlog.MySQLGTID) bool {
	f := &d.filter
	if f.IncludeGTIDs != nil && !f.IncludeGTIDs.containsMySQL(g) {
		return true
	}
	return f.ExcludeGTIDs != nil && f.ExcludeGTIDs.containsMySQL(g)
}

// query handles a QUERY_EVENT: BEGIN, COMMIT, ROLLBACK and XA statements
// frame transactions; SAVEPOINT statements are skipped; every other
// statement is a DDL change (or a statement-based DML, which Sluice passes
// on the same way).
func (d *Decoder) query(ev *binlog.Event, q *binlog.Query, emit func(*change.Change) error) error {
	sql := strings.TrimSpace(q.SQL)
	word := firstWord(sql)
	switch word {
	case "BEGIN":
		if d.inTx {
			return nil // MariaDB: the GTID event already began it
		}
		return d.begin(ev, emit)
	case "COMMIT", "ROLLBACK":
		if word == "ROLLBACK" && strings.HasPrefix(strings.ToUpper(sql), "ROLLBACK TO") {
			return nil // ROLLBACK TO SAVEPOINT: the transaction goes on
		}
		// A logged ROLLBACK ends a transaction whose non-transactional
		// changes stay: it commits what was logged.
		return d.commit(ev, emit)
	case "SAVEPOINT":
		return nil
	case "XA":
		return nil // XA START/END/PREPARE/COMMIT frame an XA transaction
	}
	if d.skipTx || !d.keepDDL(q.Schema) {
		return nil
	}
	d.reset(change.OpDDL, ev.Header.Timestamp)
	d.c.Database = q.Schema
	d.c.SQL = q.SQL
	return d.emit(ev, emit)
}

// keepDDL applies the database filter alone to a statement (its tables
// are not known without parsing SQL; a table filter keeps every DDL of
// the selected databases).
func (d *Decoder) keepDDL(db string) bool {
	if len(d.filter.Databases) == 0 {
		return true
	}
	for _, x := range d.filter.Databases {
		if x == db {
			return true
		}
	}
	return false
}

func firstWord(s string) string {
	end := strings.IndexAny(s, " \t\r\n;")
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:end])
}

// begin opens a transaction. Its begin change is emitted just before the
// transaction's first change that passes the filters, so that filtered
// runs show no empty transactions.
func (d *Decoder) begin(ev *binlog.Event, _ func(*change.Change) error) error {
	d.inTx = true
	d.emitted = false
	d.txIndex = 0
	d.pending = !d.skipTx && !d.quiet
	d.beginAt, d.beginTS = ev.Offset, ev.Header.Timestamp
	return nil
}

func (d *Decoder) commit(ev *binlog.Event, emit func(*change.Change) error) error {
	// A commit follows the changes it ends, also when the run started
	// inside the transaction, after its begin.
	emitted := d.inTx && d.emitted
	d.inTx, d.emitted, d.pending = false, false, false
	if d.skipTx || !emitted || d.quiet {
		return nil
	}
	d.reset(change.OpCommit, ev.Header.Timestamp)
	d.c.Tx.Last = true
	return d.emitAt(ev.Offset, emit)
}

// reset prepares d.c for a new change of op at an event of timestamp ts.
func (d *Decoder) reset(op change.Op, ts uint32) {
	d.c = change.Change{
		Op:         op,
		Source:     d.source,
		Tx:         change.Tx{ID: d.gtid, Index: d.txIndex},
		CommitTime: time.Unix(int64(ts), 0).UTC(),
	}
}

// emit passes on the change prepared in d.c, which came from ev, after the
// begin of its transaction if that is still due.
func (d *Decoder) emit(ev *binlog.Event, emit func(*change.Change) error) error {
	if d.quiet {
		return nil
	}
	if d.pending {
		d.pending = false
		c := d.c
		d.reset(change.OpBegin, d.beginTS)
		if err := d.emitAt(d.beginAt, emit); err != nil {
			return err
		}
		c.Tx.Index = d.txIndex
		d.c = c
	}
	return d.emitAt(ev.Offset, emit)
}

// emitAt stamps the position (the event offset and the index of the change
// among the changes of that event) and calls emit.
func (d *Decoder) emitAt(off int64, emit func(*change.Change) error) error {
	if off != d.posOffset {
		d.posOffset, d.posIndex = off, 0
	}
	d.c.Pos = change.Position{Flavor: change.FlavorBinlog, File: d.file, Offset: uint64(off), Index: d.posIndex}
	d.posIndex++
	if d.inTx {
		d.txIndex++
		d.emitted = true
	}
	d.Changes++
	return emit(&d.c)
}

// fileEvent reports whether events of type t describe the file rather than
// a transaction (their timestamps are when the file was written, and time
// filters ignore them).
func fileEvent(t binlog.EventType) bool {
	switch t {
	case binlog.FormatDescriptionEvent, binlog.StartEventV3, binlog.RotateEvent, binlog.StopEvent,
		binlog.PreviousGTIDsEvent, binlog.MariaGTIDListEvent, binlog.MariaBinlogCheckpointEvent:
		return true
	}
	return false
}

// rowsEvent emits one change per row of a rows event.
func (d *Decoder) rowsEvent(ev *binlog.Event, emit func(*change.Change) error) error {
	if d.skipTx {
		return nil
	}
	r := &d.rows
	if err := r.Reset(ev.Header.Type, ev.Body, ev.FDE, d.lookup); err != nil {
		return locate(ev, err)
	}
	r.SetLocation(ev.Source, ev.Offset)
	tm := r.Table
	if tm == nil || !d.filter.keepTable(tm.Database, tm.Table) {
		return nil
	}
	var op change.Op
	switch r.Kind {
	case binlog.RowsInsert:
		op = change.OpInsert
	case binlog.RowsUpdate:
		op = change.OpUpdate
	case binlog.RowsDelete:
		op = change.OpDelete
	}
	for r.Next() {
		var err error
		d.reset(op, ev.Header.Timestamp)
		d.c.Database, d.c.Table = tm.Database, tm.Table
		d.c.Columns = tm.Columns
		if d.before, err = r.Before(d.before[:0]); err != nil {
			return locate(ev, err)
		}
		if d.after, err = r.After(d.after[:0]); err != nil {
			return locate(ev, err)
		}
		d.c.Before, d.c.After = d.before, d.after
		if err := d.emit(ev, emit); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return locate(ev, err)
	}
	return nil
}

// locate returns err located at ev: ev.Wrap, and for an *binlog.Error
// that does not say where it happened, the file and offset filled in.
func locate(ev *binlog.Event, err error) error {
	var be *binlog.Error
	if errors.As(err, &be) && be.Source == "" && be.Offset == 0 {
		c := *be
		c.Source, c.Offset = ev.Source, ev.Offset
		if c.Type == binlog.UnknownEvent {
			c.Type = ev.Header.Type
		}
		return &c
	}
	return ev.Wrap(err)
}

// Progress is called by DecodeFiles after each event with the bytes read
// so far over all files and the total size of all files.
type Progress func(done, total int64)

// DecodeFiles reads binlog files in order with d and calls emit for each
// change. It stops early, returning nil, when emit or the filter returns
// ErrStop, and checks ctx between events. progress may be nil.
func DecodeFiles(ctx context.Context, paths []string, d *Decoder, emit func(*change.Change) error, progress Progress) error {
	var total, base int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	for i, p := range paths {
		n, err := decodeFile(ctx, p, i == 0, i == len(paths)-1, d, emit, func(done int64) {
			if progress != nil {
				progress(base+done, total)
			}
		})
		base += n
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DecodeReader reads one binlog file's content from r (for example
// standard input) with d and calls emit for each change; name is the file
// name positions carry. first and last are as in Decoder.StartFile. It
// returns nil when emit or the filter returns ErrStop.
func DecodeReader(ctx context.Context, r io.Reader, name string, first, last bool, d *Decoder, emit func(*change.Change) error) error {
	_, err := decodeStream(ctx, r, name, first, last, d, emit, func(int64) {})
	if errors.Is(err, ErrStop) {
		return nil
	}
	return err
}

func decodeFile(ctx context.Context, path string, first, last bool, d *Decoder, emit func(*change.Change) error, progress func(int64)) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("changes: %w", err)
	}
	defer f.Close()
	return decodeStream(ctx, f, path, first, last, d, emit, progress)
}

func decodeStream(ctx context.Context, src io.Reader, path string, first, last bool, d *Decoder, emit func(*change.Change) error, progress func(int64)) (int64, error) {
	d.StartFile(path, first, last)
	r := binlog.NewReader(src, filepath.Base(path))
	defer r.Close()
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return r.Offset(), err
			}
			progress(r.Offset())
		}
		ev, err := r.Next()
		if err == io.EOF {
			progress(r.Offset())
			return r.Offset(), nil
		}
		if err != nil {
			return r.Offset(), err
		}
		if err := d.Event(ev, emit); err != nil {
			return r.Offset(), err
		}
	}
}
