package metrics

import (
	"sync"
	"sync/atomic"

	"github.com/sluice-cdc/sluice/change"
)

// DefaultTailBuffer is how many delivered batches a watcher may fall
// behind before it is dropped.
const DefaultTailBuffer = 64

// Tail hands the changes a pipeline delivers, as Sluice JSON lines, to
// watchers (the API's tail endpoint). It never slows the pipeline: with no
// watcher it costs one atomic load per batch, and a watcher that falls
// behind by its buffer is dropped, not waited for. Its zero value is ready
// to use.
type Tail struct {
	n        atomic.Int32
	mu       sync.Mutex
	watchers map[*Watcher]struct{}
}

// Watcher receives delivered changes from a Tail.
type Watcher struct {
	// C receives one message per delivered batch: its changes as Sluice
	// JSON, one per line. It is closed when the watcher is closed or
	// dropped.
	C       <-chan []byte
	c       chan []byte
	t       *Tail
	dropped atomic.Bool
	closed  bool // under t.mu
}

// Watch adds a watcher that may fall behind by buffer batches (0:
// DefaultTailBuffer) before it is dropped.
func (t *Tail) Watch(buffer int) *Watcher {
	if buffer <= 0 {
		buffer = DefaultTailBuffer
	}
	c := make(chan []byte, buffer)
	w := &Watcher{C: c, c: c, t: t}
	t.mu.Lock()
	if t.watchers == nil {
		t.watchers = map[*Watcher]struct{}{}
	}
	t.watchers[w] = struct{}{}
	t.n.Add(1)
	t.mu.Unlock()
	return w
}

// Watchers returns how many watchers there are.
func (t *Tail) Watchers() int { return int(t.n.Load()) }

// Close removes the watcher and closes C.
func (w *Watcher) Close() {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	w.t.remove(w)
}

// Dropped reports whether the watcher was dropped for falling behind.
func (w *Watcher) Dropped() bool { return w.dropped.Load() }

// remove closes w; the caller holds t.mu.
func (t *Tail) remove(w *Watcher) {
	if w.closed {
		return
	}
	w.closed = true
	delete(t.watchers, w)
	t.n.Add(-1)
	close(w.c)
}

// publish sends batch to every watcher, dropping those whose buffer is full.
func (t *Tail) publish(batch []change.Change) {
	if t.n.Load() == 0 {
		return
	}
	var msg []byte
	for i := range batch {
		msg = change.AppendJSON(msg, &batch[i])
		msg = append(msg, '\n')
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for w := range t.watchers {
		select {
		case w.c <- msg:
		default:
			w.dropped.Store(true)
			t.remove(w)
		}
	}
}
