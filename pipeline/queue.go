package pipeline

import (
	"context"
	"sync"
)

// queue is a FIFO of batches bounded by the bytes they hold. put blocks
// while the queue is over its bound, except that an empty queue always
// accepts one batch, so a single batch larger than the bound still moves.
type queue struct {
	mu     sync.Mutex
	items  []*Batch
	head   int
	used   int64 // bytes of queued batches plus batches taken but not released
	max    int64
	closed bool
	err    error         // why the producer stopped (nil: it finished)
	wake   chan struct{} // closed and replaced on every state change
}

func newQueue(maxBytes int64) *queue {
	return &queue{max: maxBytes, wake: make(chan struct{})}
}

// signal wakes every waiter; the caller holds mu.
func (q *queue) signal() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// put appends b, waiting for room. It fails when ctx ends or the consumer
// has shut the queue.
func (q *queue) put(ctx context.Context, b *Batch) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return errStopped
		}
		if q.used == 0 || q.used+b.charge <= q.max {
			q.used += b.charge
			q.items = append(q.items, b)
			q.signal()
			q.mu.Unlock()
			return nil
		}
		w := q.wake
		q.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take removes the oldest batch. With wait it blocks until one is queued
// or the producer has finished; it then returns (nil, err, true) where err
// is the producer's error. Without wait it returns (nil, nil, false) when
// the queue is empty.
func (q *queue) take(ctx context.Context, wait bool) (*Batch, error, bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			b := q.items[q.head]
			q.items[q.head] = nil
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.mu.Unlock()
			return b, nil, false
		}
		if q.closed {
			err := q.err
			q.mu.Unlock()
			return nil, err, true
		}
		w := q.wake
		q.mu.Unlock()
		if !wait {
			return nil, nil, false
		}
		select {
		case <-w:
		case <-ctx.Done():
			return nil, ctx.Err(), false
		}
	}
}

// release returns n bytes to the bound once a taken batch is done with.
func (q *queue) release(n int64) {
	q.mu.Lock()
	q.used -= n
	q.signal()
	q.mu.Unlock()
}

// close marks the producer finished with err; queued batches stay readable.
func (q *queue) close(err error) {
	q.mu.Lock()
	if !q.closed {
		q.closed, q.err = true, err
	}
	q.signal()
	q.mu.Unlock()
}

// usedBytes reports the bytes currently held.
func (q *queue) usedBytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.used
}
