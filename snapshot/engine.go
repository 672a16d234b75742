package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Table is one table (MongoDB: collection) a snapshot reads.
type Table struct {
	change.Namespace
	// Columns describe its rows; every change read from it shares them.
	Columns []change.Column
	// Key holds the indexes in Columns of the key columns, in the key's
	// order, which is the order rows are read and resumed in. Nil for a
	// table without a key: it is read in one pass, and a restart in its
	// middle reads it again from the start.
	Key []int
	// Rows is the database's estimate of its row count (-1 unknown).
	Rows int64
	// Source is the source's own description of the table (how to query
	// it), for its Reader.
	Source any
}

// keyOf returns the key values of row (a view into row).
func (t *Table) keyOf(row []change.Value, dst []change.Value) []change.Value {
	dst = dst[:0]
	for _, i := range t.Key {
		dst = append(dst, row[i])
	}
	return dst
}

// Reader reads rows of the snapshot's consistent view over one connection.
// A Run gives each worker a Reader of its own.
type Reader interface {
	// Read calls row with each row of t whose key comes after the key
	// `after` (every row when after is nil), in key order, at most limit
	// rows (no limit when limit is 0; a table without a key is always read
	// so, in one call). The values passed to row are valid only during the
	// call; cols, when not nil, are the row's own columns (a MongoDB
	// document's fields), which the row's change keeps (they must not
	// change afterwards), else the row has t.Columns. It returns how many
	// rows it read.
	Read(ctx context.Context, t *Table, after []change.Value, limit int, row func(cols []change.Column, vals []change.Value) error) (int, error)
}

// RangeReader is a Reader that can also read a part of a table. The engine
// then splits a large table whose key is one integer column into key
// ranges that its workers read at once; otherwise one worker reads a whole
// table, and one large table keeps one worker (and one connection of the
// database) busy while the others idle.
type RangeReader interface {
	Reader
	// KeyRange returns the smallest and the largest key of t, whose key is
	// one column; ok is false when t has no rows.
	KeyRange(ctx context.Context, t *Table) (lo, hi change.Value, ok bool, err error)
	// ReadUntil is Read of the rows whose key is also at most until (t's
	// key is one column).
	ReadUntil(ctx context.Context, t *Table, after []change.Value, until change.Value, limit int,
		row func(cols []change.Column, vals []change.Value) error) (int, error)
}

// KeyQuantiler is a RangeReader that knows from the database's statistics
// where a table's keys lie: the engine then cuts the table at keys that
// part its rows about equally, rather than into ranges of equal width
// (which hold unequal rows when the keys cluster).
type KeyQuantiler interface {
	RangeReader
	// KeyQuantiles returns ascending keys of t (one integer column) that
	// cut its rows into about equal parts, the first and last being about
	// its smallest and largest key; none when the database has no
	// statistics of the key.
	KeyQuantiles(ctx context.Context, t *Table) ([]change.Value, error)
}

// Run is one run of a snapshot: the tables to read, readers on the
// database's consistent view, and where the rows go.
type Run struct {
	Options
	// Source is the Change.Source of the rows ("mariadb", "postgres", …).
	Source string
	// Point is the snapshot's consistent point: the rows' positions are
	// Point with Row and Snapshot set, and the stream continues from it.
	// On a resumed run it is the consistent point of the first run.
	Point change.Position
	// PointLater, when set, gives Point once it is known, waiting if need
	// be: a source that learns part of its point slowly (MariaDB's GTID
	// set, for which the server reads a binlog file from its start) lets
	// the workers read meanwhile. Do calls it once the workers have
	// started, before it emits the first row, and sets Point to its result.
	PointLater func(ctx context.Context) (change.Position, error)
	// Tables are the tables to read, in any order.
	Tables []*Table
	// Readers are the workers' readers (at least one).
	Readers []Reader
	// Resume is the progress of the runs before this one (the zero State
	// for a first run), and LastRow the Row of the last row they delivered.
	Resume  State
	LastRow uint64
	// Logger gets the progress and the resumption notes (nil: discard).
	Logger *slog.Logger
}

// Result is what a Run did.
type Result struct {
	// Rows is how many rows this run delivered; Last the position of the
	// last one (zero when none).
	Rows int64
	Last change.Position
}

// batch is rows of one table read by one worker, owned by that worker
// between uses. The emitter hands its rows to emit without copying them
// where the pipeline takes them as they are (see pipeline.Lender); the
// batch goes back to its worker when the pipeline has delivered them.
type batch struct {
	t *Table
	// changes[0] is room for the row the emitter held back from the
	// batch before, which it sends first; the batch's own rows are
	// changes[1:].
	changes []change.Change
	vals    []change.Value
	bytes   []byte
	// headVals and headBytes hold the values of changes[0].
	headVals  []change.Value
	headBytes []byte
	// spilled is set when vals may point to memory the batch no longer
	// holds (bytes it replaced, cloned values): reset then clears them.
	spilled bool
	// copied is how many value bytes add copied into bytes arrays since
	// reset: reset makes bytes that large when it was not, so that a
	// batch reused for rows like the last ones needs no new array.
	copied  int
	text    []byte // the progress texts of the rows, back to back
	textEnd []int  // end of each row's text in text
	valEnd  []int  // end of each row's values in vals
	size    int64
	read    time.Time
	owner   *worker
}

func (b *batch) reset() {
	// add writes every field of the changes it appends; their old values
	// only point into this batch's own buffers and texts, so the changes
	// need no clearing. The values are cleared only when they may point
	// to byte arrays the batch has replaced, which they would keep alive.
	b.changes = append(b.changes[:0], change.Change{})
	if b.spilled {
		clear(b.vals[:cap(b.vals)])
		clear(b.headVals[:cap(b.headVals)])
		b.spilled = false
	}
	b.vals = b.vals[:0]
	if b.copied > cap(b.bytes) {
		// The rows outgrew the array (add started others): one that
		// holds them all, from now on. Without it, every use of a batch
		// with more value bytes than its array allocated new arrays for
		// the excess (92 bytes a row in BenchmarkDo, a new garbage
		// collection every ~10 MB).
		b.bytes = make([]byte, 0, b.copied+b.copied/4)
	}
	b.copied = 0
	b.bytes = b.bytes[:0]
	b.text = b.text[:0]
	b.textEnd = b.textEnd[:0]
	b.valEnd = b.valEnd[:0]
	b.size = 0
}

// add copies row into b with its progress text: prefix (t=TABLE), the key
// (,k=KEY) and tail (the windows).
func (b *batch) add(cols []change.Column, row, key []change.Value, prefix, tail []byte) {
	first := len(b.vals)
	b.vals = append(b.vals, row...) // one copy of the values, then their bytes
	size := b.size
	for i := first; i < len(b.vals); i++ {
		v := &b.vals[i]
		if v.Elems != nil || v.Names != nil {
			*v = v.Clone()
			b.spilled = true
			size += valueBytes(v)
			continue
		}
		size += int64(112 + len(v.B)) // valueBytes of a value without elements
		if v.B != nil {
			if cap(b.bytes)-len(b.bytes) < len(v.B) {
				// Values already copied keep the old array; start a new one.
				b.spilled = b.spilled || cap(b.bytes) > 0
				b.bytes = make([]byte, 0, max(64<<10, 2*len(v.B), cap(b.bytes)))
			}
			at := len(b.bytes)
			b.bytes = append(b.bytes, v.B...)
			v.B = b.bytes[at:len(b.bytes):len(b.bytes)]
			b.copied += len(v.B)
		}
	}
	b.size = size
	if cols == nil {
		cols = b.t.Columns
	}
	b.changes = append(b.changes, change.Change{Columns: cols})
	b.valEnd = append(b.valEnd, len(b.vals))
	b.text = append(b.text, prefix...)
	if key != nil {
		b.text = append(b.text, ",k="...)
		b.text = AppendKey(b.text, key)
	}
	b.text = append(b.text, tail...)
	b.textEnd = append(b.textEnd, len(b.text))
	b.size += changeBytes
}

const changeBytes = 200 // about a Change and its share of the batch's slices

func valueBytes(v *change.Value) int64 {
	n := int64(112 + len(v.B))
	for i := range v.Elems {
		n += valueBytes(&v.Elems[i])
	}
	return n
}

// keepHead makes c, a row held back from an earlier batch whose values
// are valid until the next hold, changes[0], its values copied into b.
func (b *batch) keepHead(c *change.Change) {
	b.headVals = append(b.headVals[:0], c.After...)
	size := 0
	for i := range b.headVals {
		size += len(b.headVals[i].B)
	}
	if cap(b.headBytes) < size {
		b.headBytes = make([]byte, 0, size)
		b.spilled = true
	}
	b.headBytes = b.headBytes[:0]
	for i := range b.headVals {
		// Elems and Names of held rows are clones of their own.
		if v := &b.headVals[i]; v.B != nil && v.Elems == nil && v.Names == nil {
			at := len(b.headBytes)
			b.headBytes = append(b.headBytes, v.B...)
			v.B = b.headBytes[at:len(b.headBytes):len(b.headBytes)]
		}
	}
	b.changes[0] = *c
	b.changes[0].After = b.headVals
}

// rows is the number of rows b holds.
func (b *batch) rows() int { return len(b.changes) - 1 }

// lastKey returns a copy of the key of b's last row.
func (b *batch) lastKey() []change.Value {
	start := 0
	if n := len(b.valEnd); n > 1 {
		start = b.valEnd[n-2]
	}
	return cloneValues(b.t.keyOf(b.vals[start:], nil))
}

// worker reads tables with its Reader into batches of its own. The bytes
// of the batches it has handed to the emitter and not got back stay under
// its budget, except that it may always have one batch out, however large
// its rows.
type worker struct {
	r      Reader
	budget int64
	out    int64    // bytes of the batches handed out
	pool   []*batch // batches to reuse

	mu      sync.Mutex
	back    []*batch      // delivered batches given back, not yet taken in (mu)
	backSig chan struct{} // holds a token once a batch was given back
}

func newWorker(r Reader, budget int64) *worker {
	return &worker{r: r, budget: budget, backSig: make(chan struct{}, 1)}
}

// giveBack returns a delivered batch to w. Any goroutine may call it (the
// pipeline releases lent batches from its own), and it never blocks.
func (w *worker) giveBack(b *batch) {
	w.mu.Lock()
	w.back = append(w.back, b)
	w.mu.Unlock()
	select {
	case w.backSig <- struct{}{}:
	default:
	}
}

// takeBack takes in the batches given back.
func (w *worker) takeBack() {
	w.mu.Lock()
	for i, b := range w.back {
		w.give(b)
		w.back[i] = nil
	}
	w.back = w.back[:0]
	w.mu.Unlock()
}

// RunRows is the first Row number of a snapshot run resumed at time t:
// the milliseconds since 2024 shifted left 24 bits. A run that resumes a
// snapshot numbers its rows from there (and on past it, whatever its
// length: no run delivers 2^24 rows in a millisecond), so they sort after
// every row of the runs before it — also of a run killed before any of
// its rows was saved, which the progress cannot count.
func RunRows(t time.Time) uint64 {
	ms := t.Sub(runEpoch).Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return uint64(ms) << 24
}

var runEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// resumedRows is how many rows the runs before r delivered, when LastRow
// says it: a first run numbers its rows from 1, so its last Row is their
// count; a resumed run numbers them from RunRows (above 2^48 for any time
// after 2024-01-01 05:00), which counts nothing, and then it is 0.
func (r *Run) resumedRows() int64 {
	if r.LastRow >= 1<<48 {
		return 0
	}
	return int64(r.LastRow)
}

// deliveredAttrs are the log attributes of what the runs before r
// delivered: the rows when known, else how many runs there were.
func (r *Run) deliveredAttrs() []any {
	if r.LastRow >= 1<<48 {
		return []any{"runs_before", r.Resume.Runs + 1}
	}
	return []any{"rows_delivered", r.LastRow}
}

// batchesPerBudget is how many batches make a worker's budget.
const batchesPerBudget = 4

// give takes a delivered batch back.
func (w *worker) give(b *batch) {
	w.out -= b.size
	if b.capacity() <= 4*w.budget {
		w.pool = append(w.pool, b)
	}
}

// get returns an empty batch for t once the budget allows one more.
func (w *worker) get(ctx context.Context, t *Table) (*batch, error) {
	w.takeBack()
	for w.out > 0 && w.out >= w.budget {
		select {
		case <-w.backSig:
			w.takeBack()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var b *batch
	if n := len(w.pool); n > 0 {
		b, w.pool = w.pool[n-1], w.pool[:n-1]
	} else {
		b = &batch{owner: w}
	}
	b.reset()
	b.t, b.read = t, time.Now()
	return b, nil
}

// capacity is the memory a batch's buffers hold.
func (b *batch) capacity() int64 {
	return int64(cap(b.changes))*changeBytes + int64(cap(b.vals)+cap(b.headVals))*112 + int64(cap(b.bytes)+cap(b.headBytes)) + int64(cap(b.text))
}

// tableOut is the batches of one table, or of one key range of it, in
// order, closed when the part is read (err set before closing when
// reading failed).
type tableOut struct {
	t       *Table
	index   int            // the table's place among the tables read
	after   []change.Value // read after this key (nil: from the table's start)
	until   *change.Value  // read up to this key (nil: to the table's end)
	batches chan *batch
	err     error
}

// Splitting a table into key ranges (see RangeReader): a table is split
// when the database estimates it at splitMinChunks chunks or more (or
// cannot estimate it), into ranges of about splitChunks chunks, at most
// splitPerWorker per worker (more ranges balance skewed keys better; each
// costs a query). A chunk counts here as at most splitUnit rows, so that
// the large default chunk does not leave tables of a few hundred thousand
// rows to one worker.
const (
	splitMinChunks = 8
	splitChunks    = 4
	splitPerWorker = 16
	splitUnit      = 8192
)

// split cuts o's table into key ranges when the readers can read ranges
// and it is worth it, else returns o alone.
func split(ctx context.Context, r *Run, o *tableOut, chunk int, log *slog.Logger) []*tableOut {
	t := o.t
	if len(r.Readers) < 2 || len(t.Key) != 1 || (t.Rows >= 0 && t.Rows < int64(splitMinChunks*chunk)) {
		return []*tableOut{o}
	}
	for _, rd := range r.Readers {
		if _, ok := rd.(RangeReader); !ok {
			return []*tableOut{o}
		}
	}
	lo, hi, ok, err := r.Readers[0].(RangeReader).KeyRange(ctx, t)
	if err != nil {
		log.Warn("snapshot: the key range of a table is unknown; one worker reads it", "table", nsText(t.Namespace), "err", err)
		return []*tableOut{o}
	}
	if !ok || (lo.Kind != change.KindInt && lo.Kind != change.KindUint) || hi.Kind != lo.Kind {
		return []*tableOut{o} // empty, or a key that is not an integer: one worker
	}
	if o.after != nil {
		lo = o.after[0] // resuming: the part before is delivered
	}
	rows := t.Rows
	if rows < 0 {
		rows = 1 << 62 // unknown: as many ranges as allowed
	}
	parts := int(min(rows/int64(splitChunks*chunk), int64(splitPerWorker*len(r.Readers))))
	by := "equal width"
	var points []change.Value
	if kq, ok := r.Readers[0].(KeyQuantiler); ok {
		qs, err := kq.KeyQuantiles(ctx, t)
		if err != nil {
			log.Warn("snapshot: the key statistics of a table are unreadable; its ranges are of equal width", "table", nsText(t.Namespace), "err", err)
		}
		if points = quantilePoints(qs, lo, parts); len(points) > 0 {
			by = "statistics"
		}
	}
	if len(points) == 0 {
		points = splitPoints(lo, hi, parts)
	}
	if len(points) == 0 {
		return []*tableOut{o}
	}
	log.Info("snapshot: the workers read a table in key ranges", "table", nsText(t.Namespace), "ranges", len(points)+1,
		"from", keyDisplay([]change.Value{lo}), "to", keyDisplay([]change.Value{hi}), "cut_by", by)
	outs := make([]*tableOut, 0, len(points)+1)
	after := o.after
	for i := range points {
		outs = append(outs, &tableOut{t: t, index: o.index, after: after, until: &points[i], batches: make(chan *batch, 64)})
		after = points[i : i+1]
	}
	return append(outs, &tableOut{t: t, index: o.index, after: after, batches: make(chan *batch, 64)})
}

// quantilePoints picks from the quantiles qs (ascending keys of one integer
// kind) at most parts-1 inner ones after lo, evenly spaced, as the keys
// that cut a table into ranges; none when qs cannot give two ranges.
func quantilePoints(qs []change.Value, lo change.Value, parts int) []change.Value {
	var inner []change.Value // the quantiles strictly between lo and the last
	for i := 1; i < len(qs)-1; i++ {
		if qs[i].Kind != lo.Kind || compareInts(qs[i], lo) <= 0 {
			continue
		}
		if n := len(inner); n > 0 && compareInts(qs[i], inner[n-1]) <= 0 {
			return nil // not ascending: not usable
		}
		inner = append(inner, qs[i])
	}
	if parts < 2 || len(inner) == 0 {
		return nil
	}
	// parts ranges need parts-1 cuts; the quantiles give len(inner)+1
	// ranges: take every step-th.
	want := min(parts-1, len(inner))
	points := make([]change.Value, 0, want)
	for i := 1; i <= want; i++ {
		points = append(points, inner[i*len(inner)/(want+1)])
	}
	return slices.CompactFunc(points, func(a, b change.Value) bool { return compareInts(a, b) == 0 })
}

// compareInts orders two integer keys of one kind (KindInt or KindUint).
func compareInts(a, b change.Value) int {
	if a.Kind == change.KindUint {
		return cmp.Compare(a.U, b.U)
	}
	return cmp.Compare(a.I, b.I)
}

// splitPoints returns the keys that cut the integer keys in [lo, hi] into
// at most parts ranges of equal width: k1 < k2 < … (the ranges are
// (…, k1], (k1, k2], …, (kn, …)). It returns none for keys that are not
// integers or fewer than two parts.
func splitPoints(lo, hi change.Value, parts int) []change.Value {
	if parts < 2 || lo.Kind != hi.Kind {
		return nil
	}
	var from, span uint64 // from as the two's complement of an int64 key
	switch lo.Kind {
	case change.KindInt:
		if hi.I <= lo.I {
			return nil
		}
		from, span = uint64(lo.I), uint64(hi.I)-uint64(lo.I)
	case change.KindUint:
		if hi.U <= lo.U {
			return nil
		}
		from, span = lo.U, hi.U-lo.U
	default:
		return nil
	}
	step := span / uint64(parts)
	if step == 0 {
		step, parts = 1, int(span)+1
	}
	points := make([]change.Value, 0, parts-1)
	for i := 1; i < parts; i++ {
		v := lo
		if lo.Kind == change.KindInt {
			v.I = int64(from + step*uint64(i))
		} else {
			v.U = from + step*uint64(i)
		}
		points = append(points, v)
	}
	return points
}

// Do runs r, handing the rows to emit table by table in CompareTables
// order, each table in key order. It returns when every table was read and
// delivered, or at the first error (emit's error as is).
func Do(ctx context.Context, r *Run, emit func([]change.Change) error) (Result, error) {
	opts := r.Options.withDefaults()
	log := r.Logger
	if log == nil {
		log = discard()
	}
	if len(r.Readers) == 0 {
		return Result{}, errors.New("snapshot: no reader")
	}
	tables := slices.Clone(r.Tables)
	slices.SortFunc(tables, func(a, b *Table) int { return CompareTables(a.Namespace, b.Namespace) })
	var res Result
	resuming := r.Resume.Table != (change.Namespace{})
	var outs []*tableOut
	var estimated int64
	ntables := 0
	for _, t := range tables {
		if !opts.Keep(t.Namespace) {
			continue
		}
		o := &tableOut{t: t, index: ntables, batches: make(chan *batch, 64)}
		if resuming {
			switch c := CompareTables(t.Namespace, r.Resume.Table); {
			case c < 0:
				continue // delivered by an earlier run
			case c == 0:
				if t.Key != nil && r.Resume.Key != nil {
					if len(r.Resume.Key) != len(t.Key) {
						return res, fmt.Errorf("snapshot: table %s: its key has %d columns, the saved progress %d (was the key changed?)",
							nsText(t.Namespace), len(t.Key), len(r.Resume.Key))
					}
					o.after = r.Resume.Key
					log.Info("snapshot resumes in the middle of a table", append([]any{"table", nsText(t.Namespace),
						"after_key", keyDisplay(r.Resume.Key)}, r.deliveredAttrs()...)...)
				} else {
					log.Info("snapshot reads again from its start a table without a key it was reading when it stopped",
						append([]any{"table", nsText(t.Namespace)}, r.deliveredAttrs()...)...)
				}
			}
		}
		if estimated >= 0 && t.Rows >= 0 {
			estimated += t.Rows
		} else {
			estimated = -1
		}
		outs = append(outs, split(ctx, r, o, min(opts.ChunkRows, splitUnit), log)...)
		ntables++
	}
	// What every row's progress carries after its table and key: the
	// runs before this one.
	runs := 0
	if resuming {
		runs = r.Resume.Runs + 1
	}
	var tail []byte
	if runs > 0 {
		tail = append(tail, ",r="...)
		tail = strconv.AppendInt(tail, int64(runs), 10)
	}

	ctx, cancel := context.WithCancel(ctx)
	budget := max(opts.MemoryBytes/int64(len(r.Readers)), 16<<10)
	perBatch := budget / batchesPerBudget
	// Tables go to workers in order: each free worker takes the next.
	next := make(chan *tableOut, len(outs))
	for _, o := range outs {
		next <- o
	}
	close(next)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for _, rd := range r.Readers {
		w := newWorker(rd, budget)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				o.err = w.read(ctx, o, opts.ChunkRows, perBatch, tail)
				close(o.batches)
				if o.err != nil {
					return
				}
			}
		}()
	}

	// A resumed run numbers its rows from RunRows on: the rows an earlier
	// run delivered after its last saved position come again, read at this
	// run's point, and must sort after them, so that a consumer that drops
	// what it has seen by position takes them.
	if r.PointLater != nil {
		p, err := r.PointLater(ctx)
		if err != nil {
			return res, err
		}
		r.Point = p
	}
	first := r.LastRow
	if resuming {
		first = max(first, RunRows(time.Now()))
	}
	e := emitter{run: r, emit: emit, lender: pipeline.LenderFrom(ctx), row: first, log: log, opts: opts,
		progress: Progress{Tables: ntables, Resumed: r.resumedRows(), Estimated: estimated}, began: time.Now()}
	e.lastReport = e.began
	for _, o := range outs {
		e.progress.Table, e.progress.TablesDone = o.t.Namespace, o.index
		for b := range o.batches {
			if err := e.batch(b); err != nil {
				return res, err
			}
		}
		if o.err != nil {
			return res, o.err
		}
	}
	if err := e.finish(); err != nil {
		return res, err
	}
	e.progress.TablesDone, e.progress.Done = ntables, true
	e.report(time.Now())
	res.Rows, res.Last = e.progress.Rows, e.last
	return res, nil
}

// read reads o's table into batches, chunk by chunk.
func (w *worker) read(ctx context.Context, o *tableOut, chunk int, perBatch int64, tail []byte) error {
	t := o.t
	prefix := appendTable([]byte("t="), t.Namespace)
	var b *batch
	send := func() error {
		start := 0
		for i, end := range b.valEnd {
			b.changes[i+1].After = b.vals[start:end:end]
			start = end
		}
		w.out += b.size
		select {
		case o.batches <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	keyBuf := make([]change.Value, 0, len(t.Key))
	after := o.after
	for {
		var lastKey []change.Value
		read := w.r.Read
		if o.until != nil {
			until := *o.until
			read = func(ctx context.Context, t *Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
				return w.r.(RangeReader).ReadUntil(ctx, t, after, until, limit, row)
			}
		}
		n, err := read(ctx, t, after, chunkLimit(t, chunk), func(cols []change.Column, row []change.Value) error {
			if cols == nil && len(row) != len(t.Columns) {
				return fmt.Errorf("a row of %d values for %d columns", len(row), len(t.Columns))
			}
			if b == nil {
				var err error
				if b, err = w.get(ctx, t); err != nil {
					return err
				}
			}
			var key []change.Value
			if t.Key != nil {
				key = t.keyOf(row, keyBuf)
			}
			b.add(cols, row, key, prefix, tail)
			if b.size >= perBatch {
				lastKey = b.lastKey()
				return send()
			}
			return nil
		})
		if err != nil {
			if b != nil {
				w.pool = append(w.pool, b)
				b = nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("snapshot: read %s: %w", nsText(t.Namespace), err)
		}
		if t.Key == nil || n < chunk || n == 0 {
			break
		}
		// The next chunk starts after the last key read.
		if b != nil && b.rows() > 0 {
			lastKey = b.lastKey()
		}
		after = lastKey
	}
	if b != nil && b.rows() > 0 {
		return send()
	}
	if b != nil {
		w.pool = append(w.pool, b)
	}
	return nil
}

// chunkLimit is the LIMIT of a table's queries: none without a key.
func chunkLimit(t *Table, chunk int) int {
	if t.Key == nil {
		return 0
	}
	return chunk
}

func cloneValues(vs []change.Value) []change.Value {
	out := make([]change.Value, len(vs))
	for i := range vs {
		out[i] = vs[i].Clone()
	}
	return out
}

// emitter hands batches to emit in order, numbering rows and marking the
// first and last. It holds back a copy of the last row it was given, since
// that row is the snapshot's last if no other follows.
type emitter struct {
	run    *Run
	emit   func([]change.Change) error
	lender *pipeline.Lender // nil: emit copies what it keeps
	row    uint64
	log    *slog.Logger
	opts   Options

	out        []change.Change // what finish's emit call takes
	pend       change.Change   // the held-back row (hasPend)
	hasPend    bool
	pendVals   []change.Value
	pendBytes  []byte
	last       change.Position
	progress   Progress
	began      time.Time
	lastReport time.Time
}

// batch delivers the held row and every row of b but its last, which it
// holds, and gives b back to its worker once they are delivered.
func (e *emitter) batch(b *batch) error {
	n := b.rows()
	if n == 0 {
		b.owner.giveBack(b)
		return nil
	}
	text := string(b.text) // one allocation for every row's progress text
	start := 0
	for i, end := range b.textEnd {
		c := &b.changes[i+1]
		e.row++
		c.Op, c.Source, c.Namespace, c.ReadTime = change.OpRead, e.run.Source, b.t.Namespace, b.read
		c.Pos = e.run.Point
		c.Pos.Row = e.row
		c.Pos.Snapshot = text[start:end]
		start = end
		c.Snapshot = change.SnapshotOn
		if e.row == 1 {
			c.Snapshot = change.SnapshotFirst
		}
	}
	from := 1
	if e.hasPend {
		b.keepHead(&e.pend)
		from = 0
	}
	// Hold the last row before emit: once the pipeline has delivered
	// what it took, b may be reused at any moment.
	e.hold(&b.changes[n])
	if out := b.changes[from:n]; len(out) > 0 {
		if err := e.send(out, b); err != nil {
			return err
		}
	} else {
		b.owner.giveBack(b)
	}
	if now := time.Now(); now.Sub(e.lastReport) >= e.opts.ProgressEvery {
		e.report(now)
	}
	return nil
}

// send hands out, rows of b (nil: of no batch), to emit, lending the
// pipeline b's memory when it can take it, and gives b back to its
// worker once the rows are delivered.
func (e *emitter) send(out []change.Change, b *batch) error {
	last, n := out[len(out)-1].Pos, len(out)
	lent := false
	if b != nil {
		if e.lender != nil {
			e.lender.Offer(out, b.size, func() { b.owner.giveBack(b) })
		}
		defer func() {
			if !lent {
				b.owner.giveBack(b)
			}
		}()
	}
	err := e.emit(out)
	if b != nil && e.lender != nil {
		lent = e.lender.Taken()
	}
	if err != nil {
		return err
	}
	e.last = last
	e.progress.Rows += int64(n)
	return nil
}

// hold keeps a copy of c, its values in e's own buffers.
func (e *emitter) hold(c *change.Change) {
	e.pend = *c
	e.hasPend = true
	e.pendVals = append(e.pendVals[:0], c.After...)
	size := 0
	for i := range e.pendVals {
		size += len(e.pendVals[i].B)
	}
	if cap(e.pendBytes) < size || cap(e.pendBytes) > 4*size+64<<10 {
		e.pendBytes = make([]byte, 0, size)
	}
	e.pendBytes = e.pendBytes[:0]
	for i := range e.pendVals {
		v := &e.pendVals[i]
		if v.Elems != nil || v.Names != nil {
			*v = v.Clone()
		} else if v.B != nil {
			at := len(e.pendBytes)
			e.pendBytes = append(e.pendBytes, v.B...)
			v.B = e.pendBytes[at:len(e.pendBytes):len(e.pendBytes)]
		}
	}
	e.pend.After = e.pendVals
}

// finish delivers the held row, the snapshot's last.
func (e *emitter) finish() error {
	if !e.hasPend {
		return nil
	}
	e.pend.Snapshot = change.SnapshotLast
	e.out = append(e.out[:0], e.pend)
	e.hasPend = false
	err := e.send(e.out, nil)
	clear(e.out)
	return err
}

// report logs the progress and hands it to Options.Progress.
func (e *emitter) report(now time.Time) {
	e.lastReport = now
	p := &e.progress
	p.Elapsed = now.Sub(e.began)
	if s := p.Elapsed.Seconds(); s > 0 {
		p.Rate = float64(p.Rows) / s
	}
	p.ETA = 0
	if left := p.Estimated - p.Rows - p.Resumed; p.Estimated >= 0 && left > 0 && p.Rate > 0 {
		p.ETA = time.Duration(float64(left) / p.Rate * float64(time.Second))
	}
	msg := "snapshot progress"
	if p.Done {
		msg = "snapshot done"
	}
	e.log.Info(msg, p.LogAttrs()...)
	if e.opts.Progress != nil {
		e.opts.Progress(*p)
	}
}

// nsText is "db.table" for messages.
func nsText(ns change.Namespace) string { return ns.Database + "." + ns.Table }

// keyDisplay renders a key for a log line, as the source prints its values.
func keyDisplay(key []change.Value) string {
	var b []byte
	for i, v := range key {
		if i > 0 {
			b = append(b, ',')
		}
		b = change.AppendText(b, v)
	}
	return string(b)
}

// KeyNames returns the names of t's key columns in the key's order (nil
// for a table without a key).
func (t *Table) KeyNames() []string {
	if t.Key == nil {
		return nil
	}
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = t.Columns[k].Name
	}
	return names
}
