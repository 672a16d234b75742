package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// AsyncSink is a destination that acknowledges changes after it has taken
// them: an iterator whose user acknowledges each change when done with it
// (package sluice), a server whose clients acknowledge batches later (the
// Canal protocol), a producer with requests in flight. The pipeline hands
// it one Delivery per batch, in source order, and saves a position once
// every change up to it is acknowledged, in any order the sink acknowledges
// them.
//
// Send, End and Close are called from one goroutine; a Delivery's methods
// may be called from any goroutine.
type AsyncSink interface {
	// Send hands d over. It may block to push back (the pipeline's queue
	// then fills and the source waits) and must return promptly when ctx
	// ends. An error stops the pipeline.
	Send(ctx context.Context, d *Delivery) error
	// End tells the sink that no Delivery follows: err is nil when the
	// source finished (or reached the stop position), the source's error,
	// or ctx's error when the pipeline was canceled. After End, Run waits
	// until every Delivery sent is acknowledged, or its ctx ends, then
	// saves and returns.
	End(err error)
	// Close releases the sink's resources. Run does not call it.
	Close() error
}

// RecyclingSink is an AsyncSink that touches no Delivery (its Changes,
// Index, AckAt) after releasing it, so that the pipeline reuses the
// memory of released batches for the next ones, as it does for a Sink:
// no allocation per batch in steady streaming. (Ack and Fail stay
// allowed, but a sink that acknowledges after it releases gains little.)
// RecycleReleased is only a marker; it is never called.
type RecyclingSink interface {
	AsyncSink
	RecycleReleased()
}

func recycles(s AsyncSink) bool {
	_, ok := s.(RecyclingSink)
	return ok
}

// Delivery is one batch handed to an AsyncSink.
type Delivery struct {
	// Changes are the changes to deliver, in source order, with strictly
	// increasing positions. They stay valid after Release (the pipeline
	// does not reuse an AsyncSink's memory) unless the sink is a
	// RecyclingSink; the sink must not modify them.
	Changes []change.Change

	t     *tracker
	b     *Batch
	first uint64 // the tracker sequence number of Changes[0]
	lag   time.Duration
	read  int   // b.Read, len(Changes) and b.Bytes, kept for the
	n     int   // metrics: a RecyclingSink's b is reused once
	bytes int64 // released

	mu       sync.Mutex
	left     int    // changes not yet acknowledged
	acked    []bool // per change, allocated on the first AckAt
	released bool
}

// Held reports the bytes d counts against the pipeline's queue bound
// until it is released: its buffers' capacity, at least the estimated size
// of its changes. A sink that waits for more deliveries while holding some
// must compare this, not EstimateSize, with the bound.
func (d *Delivery) Held() int64 {
	if d.b == nil {
		return 0
	}
	return d.b.charge
}

// Ack acknowledges every change of d not yet acknowledged.
func (d *Delivery) Ack() {
	d.mu.Lock()
	if d.left == 0 {
		d.mu.Unlock()
		return
	}
	var seqs []int
	if d.acked == nil {
		d.left = 0
	} else {
		for i, a := range d.acked {
			if !a {
				d.acked[i] = true
				seqs = append(seqs, i)
			}
		}
		d.left = 0
	}
	d.mu.Unlock()
	if seqs == nil {
		d.t.ackRange(d.first, len(d.Changes))
	} else {
		for _, i := range seqs {
			d.t.ackRange(d.first+uint64(i), 1)
		}
	}
	d.t.deliveryDone(d)
}

// AckAt acknowledges the change of d at position p. It returns false when
// d has no change at p or that change was already acknowledged.
func (d *Delivery) AckAt(p change.Position) bool {
	i, ok := d.Index(p)
	if !ok {
		return false
	}
	d.mu.Lock()
	if d.left == 0 || (d.acked != nil && d.acked[i]) {
		d.mu.Unlock()
		return false
	}
	if d.acked == nil {
		d.acked = make([]bool, len(d.Changes))
	}
	d.acked[i] = true
	d.left--
	done := d.left == 0
	d.mu.Unlock()
	d.t.ackRange(d.first+uint64(i), 1)
	if done {
		d.t.deliveryDone(d)
	}
	return true
}

// Index returns the index in Changes of the change at position p.
func (d *Delivery) Index(p change.Position) (int, bool) {
	lo, hi := 0, len(d.Changes)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if change.Compare(d.Changes[m].Pos, p) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(d.Changes) && d.Changes[lo].Pos == p {
		return lo, true
	}
	return 0, false
}

// Fail reports that d cannot be delivered (a destination refused a
// change): the pipeline stops, and Run returns err after saving the
// acknowledged prefix, which ends before d's first unacknowledged change.
// A sink that learns of a failure only after Send returned (a producer's
// callback) calls it; only the first failure of a Run counts, and a Fail
// after Run returned does nothing.
func (d *Delivery) Fail(err error) { d.t.fail(err) }

// Acked reports whether every change of d is acknowledged.
func (d *Delivery) Acked() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.left == 0
}

// Release gives d's bytes back to the pipeline's queue bound: the sink
// holds no more of its changes in wait. Until then they count against
// the bound, so a sink that holds deliveries pushes back on the source.
// Release may come before or after the acknowledgement; a second call
// does nothing.
func (d *Delivery) Release() {
	d.mu.Lock()
	released := d.released
	d.released = true
	d.mu.Unlock()
	if !released {
		d.t.r.Release(d.b)
	}
}

// tracker keeps the positions handed to an AsyncSink in order, with
// whether each is acknowledged, and offers the end of the acknowledged
// prefix to the saver as it moves.
type tracker struct {
	r      *Reader
	saver  *saver
	m      Metrics
	mu     sync.Mutex
	pos    []change.Position // entries base+head … base+len-1 are outstanding
	acked  []bool
	head   int
	base   uint64 // sequence number of pos[0]
	open   int    // deliveries not fully acknowledged
	wake   chan struct{}
	closed bool
	failed error                   // the first Delivery.Fail
	stop   context.CancelCauseFunc // ends sendLoop's context on a failure
}

func newTracker(r *Reader, sv *saver, m Metrics) *tracker {
	return &tracker{r: r, saver: sv, m: m, wake: make(chan struct{})}
}

// push records the positions of b's changes (unacknowledged) and of its
// hidden end (acknowledged) and returns the sequence number of the first.
func (t *tracker) push(b *Batch) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := t.base + uint64(len(t.pos))
	for i := range b.Changes {
		t.pos = append(t.pos, b.Changes[i].Pos)
		t.acked = append(t.acked, false)
	}
	n := len(b.Changes)
	if b.HasLast && (n == 0 || b.Changes[n-1].Pos != b.Last) {
		t.pos = append(t.pos, b.Last)
		t.acked = append(t.acked, true)
	}
	if n > 0 {
		t.open++
	}
	t.advance()
	return first
}

// ackRange acknowledges n entries from sequence number seq.
func (t *tracker) ackRange(seq uint64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range n {
		k := int(seq-t.base) + i
		if k >= t.head && k < len(t.acked) {
			t.acked[k] = true
		}
	}
	t.advance()
}

// deliveryDone counts a fully acknowledged delivery.
func (t *tracker) deliveryDone(d *Delivery) {
	t.mu.Lock()
	t.open--
	t.signal()
	t.mu.Unlock()
	if cm, ok := t.m.(ChangeMetrics); ok {
		cm.DeliveredChanges(d.Changes)
	}
	if t.m != nil {
		t.m.Delivered(d.read, d.n, d.bytes, d.lag)
	}
}

// advance pops the acknowledged prefix and offers its end; the caller holds mu.
func (t *tracker) advance() {
	moved := false
	var p change.Position
	for t.head < len(t.pos) && t.acked[t.head] {
		p, moved = t.pos[t.head], true
		t.head++
	}
	if !moved {
		return
	}
	t.saver.offer(p)
	if t.head == len(t.pos) {
		t.base += uint64(len(t.pos))
		t.pos, t.acked, t.head = t.pos[:0], t.acked[:0], 0
	} else if t.head > 1024 && t.head > len(t.pos)/2 {
		t.base += uint64(t.head)
		t.pos = append(t.pos[:0], t.pos[t.head:]...)
		t.acked = append(t.acked[:0], t.acked[t.head:]...)
		t.head = 0
	}
	t.signal()
}

// fail records the first failure and stops the send loop.
func (t *tracker) fail(err error) {
	t.mu.Lock()
	if t.failed == nil {
		t.failed = err
	}
	stop := t.stop
	t.mu.Unlock()
	if stop != nil {
		stop(err)
	}
}

// failure returns the first failure a Delivery reported, or nil.
func (t *tracker) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *tracker) signal() {
	close(t.wake)
	t.wake = make(chan struct{})
}

// wait blocks until every delivery is acknowledged or ctx ends.
func (t *tracker) wait(ctx context.Context) {
	for {
		t.mu.Lock()
		if t.open == 0 {
			t.mu.Unlock()
			return
		}
		w := t.wake
		t.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
}

// sendLoop is Run's delivery loop for an AsyncSink: every batch the reader
// has becomes one Delivery, sent at once. It returns nil on a clean end or
// ctx cancel, after telling the sink how the input ended and waiting for
// the acknowledgements, and a Delivery's failure as soon as one is
// reported.
func (p *Pipeline) sendLoop(ctx context.Context, r *Reader, sv *saver) error {
	// sctx also ends on a Delivery's failure.
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	t := newTracker(r, sv, p.cfg.metrics)
	t.stop = stop
	var end error
	prev := sv.latestPosition()
	for {
		b, err := r.Next(sctx)
		if err != nil {
			end = err
			break
		}
		if snapshotEnds(prev, b) {
			// The stream's first change waits until every row of the
			// snapshot is acknowledged and its end saved.
			t.wait(sctx)
			if sctx.Err() != nil {
				r.Release(b)
				end = sctx.Err()
				break
			}
			if err := sv.sync(sctx); err != nil {
				r.Release(b)
				p.async.End(err)
				return err
			}
		}
		if b.HasLast {
			prev = b.Last
		}
		first := t.push(b)
		if len(b.Changes) == 0 {
			// Counted before Release: a RecyclingSink's batch is reused
			// by the reader once released.
			if p.cfg.metrics != nil {
				p.cfg.metrics.Delivered(b.Read, 0, 0, 0)
			}
			r.Release(b)
			continue
		}
		d := &Delivery{Changes: b.Changes, t: t, b: b, first: first, left: len(b.Changes),
			read: b.Read, n: len(b.Changes), bytes: b.Bytes}
		if ct := b.Changes[len(b.Changes)-1].CommitTime; !ct.IsZero() {
			d.lag = time.Since(ct)
		}
		if err := p.async.Send(sctx, d); err != nil {
			if sctx.Err() != nil {
				end = sctx.Err()
				break
			}
			p.async.End(err)
			return err
		}
	}
	if err := t.failure(); err != nil {
		p.async.End(err)
		return err
	}
	switch {
	case errors.Is(end, io.EOF):
		p.async.End(nil)
	case ctx.Err() != nil:
		p.async.End(ctx.Err())
		return nil
	default:
		p.async.End(end)
	}
	t.wait(sctx)
	if err := t.failure(); err != nil {
		return err
	}
	if errors.Is(end, io.EOF) {
		return nil
	}
	return end
}
