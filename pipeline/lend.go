package pipeline

import (
	"context"
	"sync/atomic"

	"github.com/sluice-cdc/sluice/change"
)

// A Lender lets a source lend the pipeline the memory of a batch it emits,
// instead of the pipeline copying the batch: before calling emit the
// source offers the batch with a release function; if the pipeline takes
// it, it keeps the batch's changes (and what they point to) untouched
// until it calls release, once, from any goroutine, after delivery; if it
// does not take it, the batch is the source's again when emit returns, as
// with any emit. A source that reads rows into batches of its own (the
// snapshot engine) saves a copy of every row that way.
//
// The pipeline takes an offered batch only when it can deliver it as it
// is: no column filter, transform, rename or stop position applies, no
// begin is held back, and the pipeline's consumer keeps no change past
// Release. It recognises the offered batch by its first element and
// length, so a source wrapper that passes other changes to emit gets them
// copied as before. A wrapper that forwards the very slice it was given
// and reads it after emit returns must not pass the Lender on (see
// WithoutLender): the batch may already be released and reused by then.
//
// A Lender is used by the goroutine that calls emit.
type Lender struct {
	first   *change.Change
	n       int
	bytes   int64
	release func()
	taken   bool
}

type lenderKey struct{}

// LenderFrom returns the Lender of the pipeline whose source streams under
// ctx, or nil when there is none (a source run outside a pipeline Reader).
func LenderFrom(ctx context.Context) *Lender {
	l, _ := ctx.Value(lenderKey{}).(*Lender)
	return l
}

// WithoutLender returns ctx without a Lender, for a source wrapper that
// must see its batches copied.
func WithoutLender(ctx context.Context) context.Context {
	return context.WithValue(ctx, lenderKey{}, (*Lender)(nil))
}

// Offer offers changes, whose estimated size is bytes (see EstimateSize),
// to the next emit call, which must pass exactly this slice to be taken.
func (l *Lender) Offer(changes []change.Change, bytes int64, release func()) {
	l.first, l.n, l.bytes, l.release, l.taken = nil, 0, 0, nil, false
	if len(changes) > 0 && release != nil {
		l.first, l.n, l.bytes, l.release = &changes[0], len(changes), bytes, release
	}
}

// Taken reports whether the pipeline took the batch last offered, and
// withdraws the offer. Call it after emit returns: when it is false the
// pipeline copied the batch (or failed), and release will not be called.
func (l *Lender) Taken() bool {
	t := l.taken
	l.first, l.n, l.bytes, l.release, l.taken = nil, 0, 0, nil, false
	return t
}

// offered reports whether batch is the slice offered.
func (l *Lender) offered(batch []change.Change) bool {
	return l != nil && l.first != nil && len(batch) == l.n && &batch[0] == l.first
}

// take takes the offer (of the batch offered) and returns its release
// and size.
func (l *Lender) take() (release func(), bytes int64) {
	release, bytes = l.release, l.bytes
	l.first, l.release, l.taken = nil, nil, true
	return release, bytes
}

// loan is a lent batch shared by the Batches it was cut into: the source's
// release runs when the last of them is released.
type loan struct {
	left    atomic.Int32
	release func()
}

func (l *loan) done() {
	if l.left.Add(-1) == 0 {
		l.release()
	}
}
