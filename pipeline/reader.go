package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/sluice-cdc/sluice/change"
)

// errStopped is what emit returns once the consumer has stopped the reader.
var errStopped = errors.New("pipeline stopped")

// errStopAt is what emit returns to end the source at ReaderConfig.StopAt.
var errStopAt = errors.New("reached the stop position")

// ErrOrder is returned (wrapped) when a source emits a position that does
// not come after the one before it.
var ErrOrder = errors.New("source broke position order")

// ErrStopped reports whether err is (or wraps) the error emit returns when
// the pipeline is shutting down. Sources may use it to tell a shutdown from
// a failure, though they need not: they should simply return what emit
// returned.
func ErrStopped(err error) bool { return errors.Is(err, errStopped) }

// Batch is a run of changes read from the source, filtered, and copied into
// memory the pipeline owns.
type Batch struct {
	// Changes are the changes to deliver, in source order.
	Changes []change.Change
	// Last is the position to save once this batch and all before it are
	// delivered: the position of the last change the batch covers, which
	// may be a change the filter dropped or a hidden begin/commit/heartbeat.
	Last change.Position
	// HasLast is false when the batch covers no position of its own (it
	// only carries changes held back from an earlier batch).
	HasLast bool
	// Bytes is the estimated memory the batch holds (see EstimateSize).
	Bytes int64
	// Read counts every change the source emitted into this batch, shown or not.
	Read int

	// charge is what the batch counts against the queue's bound: its
	// buffers' capacity, or Bytes when that is larger. Small batches hold
	// buffers of a minimum size (and recycled ones keep theirs), so Bytes
	// alone let the queue hold several times its bound.
	charge int64

	arena arena
	// loan is set when the batch's changes are a source's lent memory
	// (see Lender): Release gives them back instead of recycling them.
	loan *loan
}

func (b *Batch) reset() {
	// The old contents are not cleared: they point into this batch's own
	// arena or at the source's immutable strings and Columns, and clearing
	// costs more than it frees.
	b.Changes = b.Changes[:0]
	b.Last, b.HasLast, b.Bytes, b.Read = change.Position{}, false, 0, 0
	b.arena.reset()
}

// Lent reports whether the batch's changes are memory its source lent the
// pipeline (see Lender) rather than a copy.
func (b *Batch) Lent() bool { return b.loan != nil }

// capacity is the memory a batch's buffers hold.
func (b *Batch) capacity() int64 {
	return int64(cap(b.Changes))*changeSize + int64(cap(b.arena.vals))*valueSize + int64(cap(b.arena.buf))
}

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	// From is where the source resumes (see the package documentation).
	From change.Position
	// Filter drops tables and columns; nil keeps everything.
	Filter *Filter
	// Transform masks, hashes and renames what the Filter kept; nil
	// changes nothing.
	Transform *Transform
	// BeginCommit delivers begin and commit events. Without it they only
	// move positions. A begin is held back until the first change of its
	// transaction that passes the filter, and a transaction of which the
	// filter kept nothing shows neither.
	BeginCommit bool
	// QueueBytes bounds the estimated bytes of batches read but not yet
	// released. Default DefaultQueueBytes.
	QueueBytes int64
	// BatchBytes and BatchChanges cut batches. Defaults DefaultBatchBytes
	// and DefaultBatchChanges.
	BatchBytes   int64
	BatchChanges int
	// Reuse lets the Reader reuse a batch's memory once it is released;
	// set it only when nothing keeps changes past Release.
	Reuse bool
	// StopAt, when not zero, ends the stream where the source reaches it
	// (compared with change.ComparePlace, so a GTID set or token in either
	// does not matter): changes at or before StopAt are delivered, the first change (of any
	// kind, heartbeats included) after it is neither delivered nor saved,
	// and Next returns io.EOF after the batches before it. A commit sits
	// at the position just past its transaction (both sources), so a
	// transaction boundary as StopAt ends the stream with that commit, like
	// mysqlbinlog --stop-position and pg_recvlogical --endpos.
	StopAt change.Position
}

func (c *ReaderConfig) setDefaults() {
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchChanges <= 0 {
		c.BatchChanges = DefaultBatchChanges
	}
}

// Reader runs a Source in its own goroutine and turns what it emits into
// Batches held in a queue bounded in bytes: when the consumer falls behind,
// the source's emit blocks, so a transaction of any size streams through in
// bounded memory. A Reader is used by one consumer goroutine.
type Reader struct {
	cfg    ReaderConfig
	q      *queue
	cancel context.CancelFunc
	done   chan struct{}
	lender *Lender // what the source lends batches through

	// Owned by the source goroutine.
	cur      *Batch
	pending  *change.Change  // a begin held back, cloned
	txOpen   bool            // the begin of the current transaction was shown
	lastPos  change.Position // position of the last change emitted
	havePos  bool
	stopAt   bool // cfg.StopAt is set
	colCache map[colKey]colSel
	keep     map[change.Namespace]bool // the table filter's verdicts
	// keepNS and keepLast are the last verdict looked up (keepSet: there
	// is one): consecutive changes mostly share their table, and
	// comparing two names is cheaper than hashing one.
	keepNS   change.Namespace
	keepLast bool
	keepSet  bool
	renames  map[change.Namespace]change.Namespace
	mask     masker

	hint      struct{ changes, vals, bytes int } // sizes of the last batch queued
	freeMu    sync.Mutex
	free      []*Batch
	freeBytes int64 // capacity of the batches in free
}

type colKey struct {
	first *change.Column
	n     int
	ns    change.Namespace
}

type colSel struct {
	keep    []int
	cols    []change.Column
	actions []columnAction // the transform's, per kept column (nil: none)
}

// NewReader starts src from cfg.From. Stop it with Close.
func NewReader(ctx context.Context, src Source, cfg ReaderConfig) *Reader {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(ctx)
	r := &Reader{cfg: cfg, q: newQueue(cfg.QueueBytes), cancel: cancel, done: make(chan struct{}), lender: &Lender{}}
	ctx = context.WithValue(ctx, lenderKey{}, r.lender)
	// Nothing at or before from may come again (rule 3).
	r.lastPos, r.havePos = cfg.From, !cfg.From.IsZero()
	r.stopAt = !cfg.StopAt.IsZero()
	go r.run(ctx, src)
	return r
}

func (r *Reader) run(ctx context.Context, src Source) {
	defer close(r.done)
	err := src.Stream(ctx, r.cfg.From, func(batch []change.Change) error { return r.emit(ctx, batch) })
	if errors.Is(err, errStopAt) {
		err = nil
	}
	if err == nil {
		err = r.flush(ctx)
	}
	if err == nil {
		err = io.EOF
	} else if ctx.Err() != nil || errors.Is(err, errStopped) {
		err = errStopped
	} else {
		// Deliver what was read before the failure, then report it.
		if ferr := r.flush(ctx); ferr != nil {
			err = errStopped
		} else {
			err = fmt.Errorf("source: %w", err)
		}
	}
	r.q.close(err)
}

// Next returns the next batch, waiting for one. It returns io.EOF once the
// source has finished and every batch was returned, the source's error
// (after every batch read before it), or ctx's error.
func (r *Reader) Next(ctx context.Context) (*Batch, error) {
	b, err, _ := r.q.take(ctx, true)
	if b != nil {
		return b, nil
	}
	if errors.Is(err, errStopped) {
		return nil, context.Canceled
	}
	return nil, err
}

// TryNext returns the next batch if one is queued, without waiting.
func (r *Reader) TryNext() *Batch {
	b, _, _ := r.q.take(context.Background(), false)
	return b
}

// Release gives a batch's bytes back to the queue bound; with
// ReaderConfig.Reuse its memory is recycled, so nothing may use it after.
func (r *Reader) Release(b *Batch) {
	r.q.release(b.charge)
	if l := b.loan; l != nil {
		// The changes are the source's: give them back, and do not
		// recycle a batch that points at them.
		b.loan, b.Changes = nil, nil
		l.done()
		return
	}
	if !r.cfg.Reuse {
		return
	}
	b.reset()
	size := b.capacity()
	r.freeMu.Lock()
	// Keep released batches for reuse up to the queue bound, so steady
	// streaming allocates nothing: batches in the queue and batches kept
	// here together stay about that size.
	if r.freeBytes+size <= r.cfg.QueueBytes {
		r.free = append(r.free, b)
		r.freeBytes += size
	}
	r.freeMu.Unlock()
}

// QueuedBytes reports the bytes held by batches read and not yet released.
func (r *Reader) QueuedBytes() int64 { return r.q.usedBytes() }

// Close stops the source and waits for its goroutine to end.
func (r *Reader) Close() {
	r.cancel()
	<-r.done
}

func (r *Reader) newBatch() *Batch {
	r.freeMu.Lock()
	defer r.freeMu.Unlock()
	if n := len(r.free); n > 0 {
		b := r.free[n-1]
		r.free[n-1] = nil
		r.free = r.free[:n-1]
		r.freeBytes -= b.capacity()
		return b
	}
	// Size a new batch like the last one, so it does not grow step by step.
	b := &Batch{}
	if r.hint.changes > 0 {
		b.Changes = make([]change.Change, 0, r.hint.changes)
		b.arena.vals = make([]change.Value, 0, r.hint.vals)
		b.arena.buf = make([]byte, 0, r.hint.bytes)
	}
	return b
}

// flush queues the current batch if it holds anything.
func (r *Reader) flush(ctx context.Context) error {
	b := r.cur
	if b == nil || (len(b.Changes) == 0 && !b.HasLast) {
		return nil
	}
	r.cur = nil
	r.hint.changes, r.hint.vals, r.hint.bytes = len(b.Changes), len(b.arena.vals), len(b.arena.buf)
	b.charge = max(b.Bytes, b.capacity())
	return r.q.put(ctx, b)
}

// advance records that every change up to p is dealt with, unless a begin
// is held back (then p must not be saved before that begin is shown).
func (r *Reader) advance(p change.Position) {
	if r.pending != nil {
		return
	}
	r.cur.Last, r.cur.HasLast = p, true
}

// emit is the callback the source calls. It copies what passes the filter.
func (r *Reader) emit(ctx context.Context, batch []change.Change) error {
	if err := ctx.Err(); err != nil {
		return errStopped
	}
	if r.lender.offered(batch) {
		if took, err := r.adopt(ctx, batch); took || err != nil {
			return err
		}
	}
	for i := range batch {
		if r.cur == nil {
			r.cur = r.newBatch()
		}
		c := &batch[i]
		atStop := false
		if r.stopAt && !c.Pos.IsZero() {
			d := change.ComparePlace(c.Pos, r.cfg.StopAt)
			if d > 0 {
				if err := r.flush(ctx); err != nil {
					return errStopped
				}
				return errStopAt
			}
			atStop = d == 0
		}
		if err := r.checkOrder(c); err != nil {
			return err
		}
		r.cur.Read++
		switch c.Op {
		case change.OpHeartbeat:
			r.advance(c.Pos)
		case change.OpBegin:
			if r.cfg.BeginCommit {
				// The begin is not shown yet, so its position is not
				// done: Last stays at the change before it.
				p := *c
				p.Before, p.After = cloneImage(c.Before), cloneImage(c.After)
				r.pending, r.txOpen = &p, false
			} else {
				r.advance(c.Pos)
			}
		case change.OpCommit:
			switch {
			case !r.cfg.BeginCommit:
				r.advance(c.Pos)
			case r.pending != nil: // nothing of the transaction was kept
				r.pending = nil
				r.advance(c.Pos)
			default: // shown begin, or a transaction resumed past its begin
				r.add(c, colSel{})
				r.txOpen = false
			}
		default:
			if !r.keepTable(c) {
				r.advance(c.Pos)
				break
			}
			if r.pending != nil {
				p := r.pending
				r.pending = nil
				r.add(p, colSel{})
				r.txOpen = true
			}
			var sel colSel
			if (r.cfg.Filter.HasColumnRules() || r.cfg.Transform.hasColumnRules()) && len(c.Columns) > 0 {
				sel = r.columns(c)
			}
			r.add(c, sel)
			if c.Op == change.OpStatement && r.cfg.Transform.hasColumnRules() {
				// The text of a statement-based DML change holds the very
				// values the mask and hash rules hide.
				r.cur.Changes[len(r.cur.Changes)-1].SQL = withheldStatement
			}
			if r.cfg.Transform.hasRenames() {
				if err := r.rename(&r.cur.Changes[len(r.cur.Changes)-1]); err != nil {
					return err
				}
			}
		}
		if atStop {
			if err := r.flush(ctx); err != nil {
				return errStopped
			}
			return errStopAt
		}
		if r.cur.Bytes >= r.cfg.BatchBytes || len(r.cur.Changes) >= r.cfg.BatchChanges {
			if err := r.flush(ctx); err != nil {
				return errStopped
			}
		}
	}
	if err := r.flush(ctx); err != nil {
		return errStopped
	}
	return nil
}

// adopt queues batch, which the source offers to lend (see Lender), as it
// is, without copying it, when nothing needs to change it: it reports
// false when the batch must be copied instead.
func (r *Reader) adopt(ctx context.Context, batch []change.Change) (bool, error) {
	if !r.cfg.Reuse || r.stopAt || r.pending != nil || r.cfg.Filter.HasColumnRules() ||
		r.cfg.Transform.hasColumnRules() || r.cfg.Transform.hasRenames() {
		return false, nil
	}
	for i := range batch {
		c := &batch[i]
		switch c.Op {
		case change.OpHeartbeat, change.OpBegin, change.OpCommit:
			return false, nil
		}
		if !r.keepTable(c) {
			return false, nil
		}
	}
	for i := range batch {
		if err := r.checkOrder(&batch[i]); err != nil {
			return false, err
		}
	}
	// What was copied before this batch goes first.
	if err := r.flush(ctx); err != nil {
		return false, errStopped
	}
	release, bytes := r.lender.take()
	// Cut the batch as emit would: at most BatchChanges changes and about
	// BatchBytes each.
	per := len(batch)
	if bytes > r.cfg.BatchBytes {
		per = max(1, int(int64(len(batch))*r.cfg.BatchBytes/bytes))
	}
	per = min(per, r.cfg.BatchChanges)
	parts := (len(batch) + per - 1) / per
	l := &loan{release: release}
	l.left.Store(int32(parts))
	for i := 0; i < parts; i++ {
		part := batch[i*per : min((i+1)*per, len(batch))]
		size := max(1, bytes*int64(len(part))/int64(len(batch)))
		b := &Batch{Changes: part, Last: part[len(part)-1].Pos, HasLast: true, Bytes: size, Read: len(part), charge: size, loan: l}
		if err := r.q.put(ctx, b); err != nil {
			for ; i < parts; i++ {
				l.done()
			}
			return true, errStopped
		}
	}
	return true, nil
}

// checkOrder enforces rule 1 of the resume contract: positions strictly
// increase (a heartbeat may repeat the position before it). A source that
// breaks it would make checkpoints skip or repeat changes, so the pipeline
// stops with an error instead. Changes without a position are not checked.
func (r *Reader) checkOrder(c *change.Change) error {
	if c.Pos.IsZero() {
		return nil
	}
	if r.havePos {
		d := comparePos(&c.Pos, &r.lastPos)
		if d < 0 || (d == 0 && c.Op != change.OpHeartbeat) {
			return fmt.Errorf("%w: %s change at %s after %s: positions must strictly increase", ErrOrder, c.Op, c.Pos, r.lastPos)
		}
	}
	r.lastPos, r.havePos = c.Pos, true
	return nil
}

// comparePos is change.Compare(*p, *q), quicker for two rows of one
// snapshot: at the same place but for their Row, Compare orders them by
// Row alone.
func comparePos(p, q *change.Position) int {
	if p.Row != q.Row && p.Offset == q.Offset && p.Index == q.Index && p.Flavor == q.Flavor && p.File == q.File {
		return cmp.Compare(p.Row, q.Row)
	}
	return change.Compare(*p, *q)
}

// add copies c into the current batch, keeping the columns sel selects.
func (r *Reader) add(c *change.Change, sel colSel) {
	b := r.cur
	b.Changes = append(b.Changes, *c)
	d := &b.Changes[len(b.Changes)-1]
	keep := sel.keep
	if keep != nil {
		d.Columns = sel.cols
	}
	d.Before = b.arena.copyImage(c.Before, keep)
	d.After = b.arena.copyImage(c.After, keep)
	if sel.actions != nil {
		r.mask.t = r.cfg.Transform
		r.mask.apply(&b.arena, d.Before, sel.actions)
		r.mask.apply(&b.arena, d.After, sel.actions)
	}
	b.Bytes += EstimateSize(d)
	b.Last, b.HasLast = c.Pos, true
}

// columns returns the column selection for c's table and column list.
func (r *Reader) columns(c *change.Change) colSel {
	k := colKey{first: &c.Columns[0], n: len(c.Columns), ns: c.Namespace}
	if s, ok := r.colCache[k]; ok {
		return s
	}
	if r.colCache == nil || len(r.colCache) >= 4096 {
		r.colCache = make(map[colKey]colSel)
	}
	s := colSel{keep: r.cfg.Filter.SelectColumns(c.Namespace, c.Columns)}
	cols := c.Columns
	if s.keep != nil {
		s.cols = make([]change.Column, len(s.keep))
		for i, k := range s.keep {
			s.cols[i] = c.Columns[k]
		}
		cols = s.cols
	}
	s.actions = r.cfg.Transform.Actions(c.Namespace, cols)
	r.colCache[k] = s
	return s
}

// rename gives d the namespace the transform renames it to.
func (r *Reader) rename(d *change.Change) error {
	if d.Table == "" {
		return nil
	}
	ns, ok := r.renames[d.Namespace]
	if !ok {
		var err error
		if ns, err = r.cfg.Transform.Rename(d.Namespace); err != nil {
			return err
		}
		if r.renames == nil || len(r.renames) >= 65536 {
			r.renames = make(map[change.Namespace]change.Namespace)
		}
		r.renames[d.Namespace] = ns
	}
	d.Namespace = ns
	return nil
}

// keepTable applies the table filter, remembering its verdict per table.
func (r *Reader) keepTable(c *change.Change) bool {
	f := r.cfg.Filter
	if f == nil || (len(f.include) == 0 && len(f.exclude) == 0) {
		return true
	}
	if c.Op == change.OpDDL || c.Table == "" {
		return f.Keep(c.Op, c.Namespace)
	}
	if r.keepSet && c.Namespace == r.keepNS {
		return r.keepLast
	}
	if k, ok := r.keep[c.Namespace]; ok {
		r.keepNS, r.keepLast, r.keepSet = c.Namespace, k, true
		return k
	}
	if r.keep == nil || len(r.keep) >= 65536 {
		r.keep = make(map[change.Namespace]bool)
	}
	k := f.Keep(c.Op, c.Namespace)
	r.keep[c.Namespace] = k
	r.keepNS, r.keepLast, r.keepSet = c.Namespace, k, true
	return k
}

func cloneImage(vs []change.Value) []change.Value {
	if vs == nil {
		return nil
	}
	out := make([]change.Value, len(vs))
	for i := range vs {
		out[i] = vs[i].Clone()
	}
	return out
}
