// Package writeload is the write load and the latency check that the
// incremental snapshot tests of source/mysql and source/postgres share:
// writers change the rows of a table at 1,000 changes a second while a
// snapshot reads it, and CheckLatency compares when the stream delivered
// their changes with when they committed, during the snapshot and before
// it was requested.
//
// Only tests import it (it imports testing).
package writeload

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Write makes change v (a version: 1, 2, … over all writers) to the row
// of key k, on writer w's connection.
type Write func(ctx context.Context, w int, v int64, k int) error

// Writers are running writers; they record when each change committed.
type Writers struct {
	n       int
	stop    context.CancelFunc
	errs    chan error
	version atomic.Int64 // the last version written

	mu        sync.Mutex
	committed map[int64]time.Time // version -> when write returned
}

// Start starts n writers making one change a millisecond in all: writer
// w makes one every n ms (one that fell behind does not catch up in a
// burst; one connection cannot keep the whole pace on a loaded machine)
// to a key below rows equal to w modulo n, so that no two writers touch
// the same row, drawn from a generator seeded with seed and w. They run
// until Stop or the end of ctx.
func Start(ctx context.Context, n, rows int, seed uint64, write Write) *Writers {
	wctx, stop := context.WithCancel(ctx)
	ws := &Writers{n: n, stop: stop, errs: make(chan error, n), committed: map[int64]time.Time{}}
	for w := range n {
		go func() { ws.errs <- ws.run(wctx, w, rows, seed, write) }()
	}
	return ws
}

func (ws *Writers) run(ctx context.Context, w, rows int, seed uint64, write Write) error {
	rng := rand.New(rand.NewPCG(seed, uint64(w)))
	next := time.Now().Add(time.Duration(w) * time.Millisecond)
	for ctx.Err() == nil {
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			continue
		}
		if next = next.Add(time.Duration(ws.n) * time.Millisecond); next.Before(time.Now()) {
			next = time.Now()
		}
		v := ws.version.Add(1)
		k := rng.IntN(rows/ws.n)*ws.n + w
		if err := write(ctx, w, v, k); err != nil && ctx.Err() == nil {
			return err
		}
		ws.mu.Lock()
		ws.committed[v] = time.Now()
		ws.mu.Unlock()
	}
	return nil
}

// Stop stops the writers and returns the first error of one.
func (ws *Writers) Stop() error {
	ws.stop()
	var first error
	for range ws.n {
		if err := <-ws.errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Deliveries records when the stream delivered each version; it is safe
// for concurrent use.
type Deliveries struct {
	mu sync.Mutex
	at map[int64]time.Time
}

// Add records that version v was delivered at at.
func (d *Deliveries) Add(v int64, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at == nil {
		d.at = map[int64]time.Time{}
	}
	d.at[v] = at
}

// Snapshot is what a test knows of the incremental snapshot it measured.
type Snapshot struct {
	Requested time.Time     // when it was asked for: changes committed before are the baseline
	Began     time.Time     // when the request returned
	Took      time.Duration // from Began until it was done
	Rows      int           // the table's rows
	Reads     int           // the rows the stream read
}

// CheckLatency fails t unless the stream delivered the writers' changes
// committed while the snapshot ran within 100 ms at the 99th percentile,
// and logs the numbers. On a machine so loaded that the stream's p99 is
// over 50 ms before the snapshot, the bound is twice that p99 plus 50 ms:
// the snapshot may not more than double the stream's latency. The race
// detector makes a source several times slower (p99 of 26–230 ms at a
// load of 6–16 on 2 cores): with it the check is only that the stream
// keeps flowing (under 1 s); make test runs the tests without the race
// detector too. Fewer than 20 changes measured during the snapshot or
// before it is a failure too. Call it after Stop.
func (ws *Writers) CheckLatency(t testing.TB, d *Deliveries, s Snapshot) {
	t.Helper()
	var lat, base []time.Duration
	ws.mu.Lock()
	d.mu.Lock()
	wrote := 0 // changes the writers committed while the snapshot ran
	for v, at := range ws.committed {
		during := at.After(s.Began) && at.Before(s.Began.Add(s.Took))
		if during {
			wrote++
		}
		delivered, ok := d.at[v]
		switch {
		case !ok:
		case during:
			lat = append(lat, delivered.Sub(at))
		case at.Before(s.Requested):
			base = append(base, delivered.Sub(at))
		}
	}
	d.mu.Unlock()
	ws.mu.Unlock()
	slices.Sort(lat)
	slices.Sort(base)
	if len(lat) < 20 || len(base) < 20 {
		t.Fatalf("only %d changes measured during the snapshot (%v), %d before it", len(lat), s.Took, len(base))
	}
	p99, base99 := lat[len(lat)*99/100], base[len(base)*99/100]
	t.Logf("incremental snapshot of %d rows in %v: %d rows read, %d changes written meanwhile (%.0f/s), %d updates measured; stream latency p50 %v p99 %v (before the snapshot: p99 %v of %d)",
		s.Rows, s.Took.Round(time.Millisecond), s.Reads, wrote, float64(wrote)/s.Took.Seconds(), len(lat), lat[len(lat)/2], p99, base99, len(base))
	if limit := Limit(base99); p99 > limit {
		t.Errorf("p99 latency of the stream during the incremental snapshot %v (before it %v), want under %v", p99, base99, limit)
	}
}

// Limit is the bound CheckLatency puts on the p99 latency during a
// snapshot, given the p99 before it.
func Limit(base99 time.Duration) time.Duration {
	limit := 100 * time.Millisecond
	if base99 > 50*time.Millisecond {
		limit = 2*base99 + 50*time.Millisecond
	}
	if raceDetector {
		limit = max(limit, time.Second)
	}
	return limit
}
