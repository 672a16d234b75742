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
