package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// countSink checks order and counts bytes without keeping anything.
type countSink struct {
	n       int
	payload int64
	last    change.Position
	err     error
}

func (s *countSink) Write(ctx context.Context, batch []change.Change) error {
	for i := range batch {
		c := &batch[i]
		if s.n > 0 && change.Compare(c.Pos, s.last) <= 0 && s.err == nil {
			s.err = fmt.Errorf("position %v after %v", c.Pos, s.last)
		}
		if len(c.After) > fixture.ColPayload {
			payload := c.After[fixture.ColPayload].B
			s.payload += int64(len(payload))
			if payload[0] == '#' && s.err == nil {
				s.err = fmt.Errorf("change at %v holds source memory the source overwrote", c.Pos)
			}
		}
		s.last = c.Pos
		s.n++
	}
	return nil
}

func (s *countSink) Close() error { return nil }

// TestHugeTransactionBoundedMemory streams one transaction of 2 million
// rows of 500-byte payloads (about 1 GB of row data, 3 GB as decoded
// Values) generated lazily, and samples the heap while it flows.
func TestHugeTransactionBoundedMemory(t *testing.T) {
	rows := 2_000_000
	if testing.Short() {
		rows = 200_000
	}
	g := gen(t, fixture.Options{Txs: []int{rows}, Batch: 512, Payload: 500, Tables: []string{"big"}})
	sink := &countSink{}
	store := &checkpoint.Memory{}
	var counters Counters
	p, err := New(g, sink, store, WithBeginCommit(true), WithMetrics(&counters), WithCheckpointInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	err = p.Run(context.Background())
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sink.err != nil {
		t.Fatal(sink.err)
	}
	if sink.n != rows+2 || sink.payload != int64(rows)*500 {
		t.Fatalf("delivered %d changes, %d payload bytes; want %d, %d", sink.n, sink.payload, rows+2, rows*500)
	}
	snap := counters.Snapshot()
	const limit = 64 << 20
	t.Logf("%d changes (%d MB payload) in %v; peak HeapInuse %.1f MB; %d checkpoints (%d store saves)",
		sink.n, sink.payload>>20, time.Since(start).Round(time.Millisecond), float64(peak.Load())/(1<<20), snap.Checkpoints, store.Saves())
	if peak.Load() > limit {
		t.Errorf("peak HeapInuse %d MB > %d MB", peak.Load()>>20, limit>>20)
	}
	if snap.Checkpoints < 2 {
		t.Errorf("only %d checkpoints during a long transaction", snap.Checkpoints)
	}
}
