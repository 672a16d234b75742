package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// holdSink is an AsyncSink that keeps what it is sent, for the test to
// acknowledge in the order it likes.
type holdSink struct {
	// blockAfter, when > 0, makes Send wait for ctx once it was sent
	// that many deliveries.
	blockAfter int
	mu         sync.Mutex
	got        []*Delivery
	sent       chan struct{}
	ended      chan error
}

func newHoldSink() *holdSink {
	return &holdSink{sent: make(chan struct{}, 1<<16), ended: make(chan error, 1)}
}

func (h *holdSink) Send(ctx context.Context, d *Delivery) error {
	h.mu.Lock()
	if h.blockAfter > 0 && len(h.got) >= h.blockAfter {
		h.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	h.got = append(h.got, d)
	h.mu.Unlock()
	h.sent <- struct{}{}
	return nil
}

func (h *holdSink) End(err error) { h.ended <- err }
func (h *holdSink) Close() error  { return nil }

func (h *holdSink) deliveries() []*Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Delivery(nil), h.got...)
}

// TestAsyncAcknowledgements acknowledges deliveries out of order, whole
// and change by change, and checks that the position moves only over the
// acknowledged prefix, hidden commits included, and that Run returns after
// the last acknowledgement with it saved.
func TestAsyncAcknowledgements(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{3, 2, 4}, Batch: 100, Payload: 8, Tables: []string{"t"}})
	h := newHoldSink()
	store := &checkpoint.Memory{}
	// WithBatch(1, 0): one change per delivery; a hidden commit rides
	// with the delivery after it.
	p, err := NewAsync(g, h, store, WithCheckpointInterval(0), WithBatch(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	if err := <-h.ended; err != nil {
		t.Fatalf("End(%v), want nil at the source's end", err)
	}
	ds := h.deliveries()
	var all []change.Change
	for _, d := range ds {
		all = append(all, d.Changes...)
	}
	if len(all) != 9 {
		t.Fatalf("%d changes in %d deliveries, want 9", len(all), len(ds))
	}
	find := func(c change.Change) *Delivery {
		for _, d := range ds {
			if _, ok := d.Index(c.Pos); ok {
				return d
			}
		}
		t.Fatalf("no delivery holds %s", c.Pos)
		return nil
	}
	ack := func(i int) {
		t.Helper()
		if !find(all[i]).AckAt(all[i].Pos) {
			t.Fatalf("AckAt(%s) = false", all[i].Pos)
		}
	}
	ack(1)
	ack(2)
	if p.Acknowledged() != (change.Position{}) {
		t.Fatalf("moved to %s before the first change was acknowledged", p.Acknowledged())
	}
	if find(all[1]).AckAt(all[1].Pos) {
		t.Error("a second AckAt of the same change succeeded")
	}
	ack(0)
	// The first transaction's rows are done.
	if got := p.Acknowledged(); got != all[2].Pos {
		t.Fatalf("after the first transaction: %s, want its last row %s", got, all[2].Pos)
	}
	for _, c := range all[5:] {
		find(c).Ack() // the third transaction, before the second
	}
	if got := p.Acknowledged(); got != all[2].Pos {
		t.Fatalf("moved past an unacknowledged transaction: %s", got)
	}
	select {
	case err := <-runErr:
		t.Fatalf("Run returned %v with changes unacknowledged", err)
	case <-time.After(50 * time.Millisecond):
	}
	ack(3)
	ack(4)
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	want := g.End()
	if got, _ := store.Load(context.Background(), DefaultID); got != want {
		t.Fatalf("saved %s, want the last commit %s", got, want)
	}
	for _, d := range ds {
		d.Release()
		d.Release() // twice is harmless
	}
}

// TestAsyncSourceFailure checks that a source error reaches the sink's End
// after the deliveries before it, and that Run returns it once they are
// acknowledged.
func TestAsyncSourceFailure(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{2, 2, 2}, Batch: 2, Payload: 8, Tables: []string{"t"}, FailAfter: 5})
	h := newHoldSink()
	p, err := NewAsync(g, h, &checkpoint.Memory{})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	end := <-h.ended
	if end == nil || !containsText(end, "injected failure") {
		t.Fatalf("End(%v), want the source's error", end)
	}
	for _, d := range h.deliveries() {
		d.Ack()
	}
	if err := <-runErr; err == nil || !containsText(err, "injected failure") {
		t.Fatalf("Run = %v", err)
	}
}

// TestAsyncCancel checks that canceling Run with deliveries unacknowledged
// ends the sink and saves only the acknowledged prefix.
func TestAsyncCancel(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{2, 2}, Batch: 1, Payload: 8, Tables: []string{"t"}})
	h := newHoldSink()
	h.blockAfter = 1
	store := &checkpoint.Memory{}
	p, err := NewAsync(g, h, store, WithBatch(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	<-h.sent
	h.deliveries()[0].Ack()
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if err := <-h.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("End(%v), want context.Canceled", err)
	}
	first := h.deliveries()[0].Changes
	if saved, err := store.Load(context.Background(), DefaultID); err != nil || saved != first[len(first)-1].Pos {
		t.Fatalf("saved %s, %v; want the one acknowledged change %s", saved, err, first[len(first)-1].Pos)
	}
}

func containsText(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}

// TestAsyncDeliveryFail checks that a Delivery's failure, reported after
// Send returned, stops Run with that error, both while the source still
// runs and after End, and that the saved position stays before the failed
// delivery even when later ones were acknowledged.
func TestAsyncDeliveryFail(t *testing.T) {
	for _, afterEnd := range []bool{false, true} {
		name := "running"
		if afterEnd {
			name = "after End"
		}
		t.Run(name, func(t *testing.T) {
			txs := []int{2, 2, 2, 2}
			if !afterEnd {
				txs = append(txs, 1000) // the source is still busy when the failure comes
			}
			g := gen(t, fixture.Options{Txs: txs, Batch: 1, Payload: 8, Tables: []string{"t"}})
			h := newHoldSink()
			if !afterEnd {
				h.blockAfter = 4
			}
			store := &checkpoint.Memory{}
			p, err := NewAsync(g, h, store, WithCheckpointInterval(0), WithBatch(1, 0))
			if err != nil {
				t.Fatal(err)
			}
			runErr := make(chan error, 1)
			go func() { runErr <- p.Run(context.Background()) }()
			for range 4 {
				<-h.sent
			}
			if afterEnd {
				if err := <-h.ended; err != nil {
					t.Fatalf("End(%v), want nil", err)
				}
			}
			ds := h.deliveries()
			ds[0].Ack()
			ds[2].Ack()
			ds[3].Ack()
			failure := errors.New("record refused")
			ds[1].Fail(failure)
			select {
			case err := <-runErr:
				if !errors.Is(err, failure) {
					t.Fatalf("Run = %v, want the delivery's failure", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after a delivery failed")
			}
			if !afterEnd {
				if err := <-h.ended; !errors.Is(err, failure) {
					t.Fatalf("End(%v), want the delivery's failure", err)
				}
			}
			want := ds[0].Changes[len(ds[0].Changes)-1].Pos
			if saved, err := store.Load(context.Background(), DefaultID); err != nil || saved != want {
				t.Fatalf("saved %s, %v; want the end of the first delivery %s", saved, err, want)
			}
			ds[1].Fail(errors.New("again")) // after Run: nothing happens
		})
	}
}

// recyclingSink acknowledges and releases every delivery at once and
// notes the address of its first change.
type recyclingSink struct {
	recycle bool
	mu      sync.Mutex
	firsts  map[*change.Change]bool
	reused  int
}

func (s *recyclingSink) Send(ctx context.Context, d *Delivery) error {
	s.mu.Lock()
	if s.firsts[&d.Changes[0]] {
		s.reused++
	}
	s.firsts[&d.Changes[0]] = true
	s.mu.Unlock()
	d.Ack()
	d.Release()
	return nil
}

func (s *recyclingSink) End(error)    {}
func (s *recyclingSink) Close() error { return nil }

type recycler struct{ *recyclingSink }

func (recycler) RecycleReleased() {}

// TestAsyncRecycling checks that the pipeline reuses the memory of
// released deliveries for a RecyclingSink only, and that the metrics
// count every change read, also of batches the filter emptied (which are
// released without a Delivery: under -race, a count read after the reader
// reused the batch is a data race). The queue bound of 16 KiB (a batch of
// the first case is about 11 KB) makes the reader wait for a release
// before it reads on, so a released batch is there to reuse however the
// goroutines are scheduled.
func TestAsyncRecycling(t *testing.T) {
	for _, tc := range []struct {
		name          string
		o             fixture.Options
		filter        FilterSpec
		read, written int64
	}{
		{name: "transactions", o: fixture.Options{Txs: []int{50, 50, 50, 50}, Batch: 10, Payload: 8, Tables: []string{"t"}},
			read: 208, written: 200},
		// One row per emit, every other one of a table the filter drops:
		// half the batches are empty.
		{name: "filtered", o: fixture.Options{Txs: []int{200}, NoTx: true, Payload: 8, Tables: []string{"t", "skip"}},
			filter: FilterSpec{Exclude: `shop\.skip`}, read: 200, written: 100},
	} {
		for _, recycle := range []bool{false, true} {
			g := gen(t, tc.o)
			s := &recyclingSink{firsts: map[*change.Change]bool{}}
			var as AsyncSink = s
			if recycle {
				as = recycler{s}
			}
			var m Counters
			p, err := NewAsync(g, as, &checkpoint.Memory{}, WithMetrics(&m), WithFilter(tc.filter), WithQueueBytes(16<<10))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if recycle != (s.reused > 0) {
				t.Errorf("%s, RecyclingSink %v: %d deliveries in reused memory", tc.name, recycle, s.reused)
			}
			if snap := m.Snapshot(); snap.Read != tc.read || snap.Written != tc.written {
				t.Errorf("%s, RecyclingSink %v: metrics count %d changes read, %d written; want %d, %d",
					tc.name, recycle, snap.Read, snap.Written, tc.read, tc.written)
			}
		}
	}
}
