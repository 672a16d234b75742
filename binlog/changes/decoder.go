package changes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// ErrStop is returned by an emit function to end decoding early without
// an error; DecodeFiles then returns nil. A Decoder returns it itself when
// Filter.StopPosition or StopTime is reached.
var ErrStop = errors.New("changes: stop")

// Decoder turns events into changes. It keeps the table maps and the
// transaction state between events (a binlog.Framer frames the
// transactions). A Decoder is not safe for concurrent use.
type Decoder struct {
	filter Filter

	file   string // base name of the current file
	first  bool   // the current file is the first one
	last   bool   // the current file is the last one
	source string // "mysql" or "mariadb", from the format description

	frame  binlog.Framer
	step   binlog.Step // what the last event was to the framing
	rows   binlog.RowsReader
	lookup func(uint64) *binlog.TableMap

	quiet   bool   // the current event is before the start: emit nothing
	inTx    bool   // an explicit transaction is open: its begin and commit are shown
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

	// ReaderOptions are passed to the binlog readers DecodeFiles and
	// DecodeReader open (for example binlog.WithoutChecksums()).
	ReaderOptions []binlog.Option
	// Precisions give the precision of MariaDB TIME, DATETIME and
	// TIMESTAMP columns logged in its own fractional-seconds format.
	Precisions []ColumnPrecision
}

// NewDecoder returns a Decoder that emits the changes f selects.
func NewDecoder(f Filter) *Decoder {
	d := &Decoder{filter: f}
	d.lookup = d.frame.Table
	return d
}

// StartFile tells the decoder that the following events come from the
// file named name; first and last say whether it is the first or the last
// file of the run (for Filter.StartPosition and StopPosition).
func (d *Decoder) StartFile(name string, first, last bool) {
	d.file = filepath.Base(name)
	d.first, d.last = first, last
	d.frame.Tables().Clear()
}

// Step returns what the last event given to Event was to the transaction
// framing (zero when Event stopped before framing it).
func (d *Decoder) Step() binlog.Step { return d.step }

// Framer returns the framer the decoder follows the transactions with:
// its table maps and the transaction of the last event.
func (d *Decoder) Framer() *binlog.Framer { return &d.frame }

// Event decodes one event and calls emit for each change it yields. It
// returns ErrStop when the filter's stop position or time is reached, the
// first error of emit, or an *binlog.Error for a malformed event.
func (d *Decoder) Event(ev *binlog.Event, emit func(*change.Change) error) error {
	d.Events++
	d.step = binlog.Step{}
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
	st, err := d.frame.Event(ev)
	if err != nil {
		return err
	}
	d.step = st
	if st.Begins {
		d.startTx()
	}
	if st.Opens {
		d.begin(ev)
	}
	switch st.Kind {
	case binlog.KindFormat:
		if ev.Header.Type == binlog.FormatDescriptionEvent {
			d.source = "mysql"
			if ev.FDE != nil && ev.FDE.MariaDB {
				d.source = "mariadb"
			}
		}
	case binlog.KindTableMap:
		applyPrecisions(st.Table, d.Precisions)
	case binlog.KindLost:
		return binlog.LostError(ev)
	case binlog.KindRows:
		return d.rowsEvent(ev, emit)
	case binlog.KindStatement:
		if err := d.statement(ev, d.frame.Query(), emit); err != nil {
			return err
		}
	}
	if st.Ends {
		return d.commit(ev, emit)
	}
	return nil
}

// startTx takes the GTID of a transaction that begins, and whether the
// GTID filters leave it out. A transaction without a GTID (or with an
// anonymous one) is left out when the filter asks for GTIDs.
func (d *Decoder) startTx() {
	tx := d.frame.Tx()
	f := &d.filter
	d.gtid = tx.GTIDString()
	switch tx.GTID {
	case binlog.TxMySQLGTID:
		d.skipTx = f.IncludeGTIDs != nil && !f.IncludeGTIDs.containsMySQL(tx.MySQL) ||
			f.ExcludeGTIDs != nil && f.ExcludeGTIDs.containsMySQL(tx.MySQL)
	case binlog.TxMariaGTID:
		d.skipTx = f.IncludeGTIDs != nil && !f.IncludeGTIDs.containsMaria(tx.Maria) ||
			f.ExcludeGTIDs != nil && f.ExcludeGTIDs.containsMaria(tx.Maria)
	default:
		d.skipTx = f.IncludeGTIDs != nil
	}
	d.inTx, d.emitted, d.pending = false, false, false
	d.txIndex = 0
}

// statement handles a statement: one that changes rows (binlog_format=
// STATEMENT or MIXED, see binlog.IsDML) is a statement change, every other
// one a DDL change.
func (d *Decoder) statement(ev *binlog.Event, q *binlog.Query, emit func(*change.Change) error) error {
	if d.skipTx || !d.keepDDL(q.Schema) {
		return nil
	}
	op := change.OpDDL
	if binlog.IsDML(q.SQL) {
		op = change.OpStatement
	}
	d.reset(op, ev.Header.Timestamp)
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

// begin opens a transaction. Its begin change is emitted just before the
// transaction's first change that passes the filters, so that filtered
// runs show no empty transactions.
func (d *Decoder) begin(ev *binlog.Event) {
	d.inTx = true
	d.emitted = false
	d.txIndex = 0
	d.pending = !d.skipTx && !d.quiet
	d.beginAt, d.beginTS = ev.Offset, ev.Header.Timestamp
}

func (d *Decoder) commit(ev *binlog.Event, emit func(*change.Change) error) error {
	// A commit follows the changes it ends, also when the run started
	// inside the transaction, after its begin. Only explicit transactions
	// show their begin and commit.
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
	if err := r.ResetEvent(ev, d.lookup); err != nil {
		return ev.Wrap(err)
	}
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
			return ev.Wrap(err)
		}
		if d.after, err = r.After(d.after[:0]); err != nil {
			return ev.Wrap(err)
		}
		d.c.Before, d.c.After = d.before, d.after
		if err := d.emit(ev, emit); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return ev.Wrap(err)
	}
	return nil
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
	r := binlog.NewReader(src, filepath.Base(path), d.ReaderOptions...)
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
