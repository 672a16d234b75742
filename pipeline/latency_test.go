package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// stepper makes a fixture source emit its transactions one emit call each
// and then wait, before the next, until the sink holds the transaction's
// last shown change. A pipeline that waits for more input (a fuller batch,
// a timer, the store) before writing never gets it, and the source reports
// which transaction was left unwritten.
type stepper struct {
	sink        *recSink
	beginCommit bool
	wait        time.Duration

	mu    sync.Mutex
	stuck error // set when a transaction was not written in time
}

// source returns the fixture source o describes, stepping.
func (s *stepper) source(t *testing.T, o fixture.Options) *fixture.Source {
	o.Batch = 0 // a transaction an emit
	o.Emitted = s.written
	return gen(t, o)
}

// written waits until the sink holds the last shown change of tx.
func (s *stepper) written(ctx context.Context, tx []change.Change) error {
	want := tx[len(tx)-1].Pos // the commit, shown or not
	if !s.beginCommit {
		want = tx[len(tx)-2].Pos // the last row
	}
	deadline := time.Now().Add(s.wait)
	for {
		s.sink.mu.Lock()
		acked := s.sink.acked
		s.sink.mu.Unlock()
		if change.Compare(acked, want) >= 0 {
			return nil
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.stuck = fmt.Errorf("transaction %s (last shown change at %v) not written %s after it was emitted; sink holds up to %v",
				tx[0].Tx.ID, want, s.wait, acked)
			return s.stuck
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// gateStore is a checkpoint store whose Save blocks until the gate opens
// (nil gate: never blocks), or fails with failErr.
type gateStore struct {
	checkpoint.Memory
	gate    chan struct{}
	failErr error
}

func (s *gateStore) Save(ctx context.Context, id string, p change.Position) error {
	if s.failErr != nil {
		return s.failErr
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Memory.Save(ctx, id, p)
}

// TestPipelineWritesWithoutWaiting checks that every change is written as
// soon as the source has emitted it: with no further input, whatever the
// batch size and checkpoint interval, and while the checkpoint store is
// stuck in a save.
func TestPipelineWritesWithoutWaiting(t *testing.T) {
	cases := []struct {
		name        string
		beginCommit bool
		interval    time.Duration
		batch       int // changes per write
		slowStore   bool
	}{
		{"rows only", false, time.Second, 0, false},
		{"begin commit", true, time.Second, 0, false},
		{"save every batch", true, 0, 0, false},
		{"small writes", true, 0, 2, false},
		{"store blocked", true, 0, 0, true},
		{"store blocked interval", false, 10 * time.Millisecond, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recSink{}
			step := &stepper{sink: sink, beginCommit: tc.beginCommit, wait: 10 * time.Second}
			src := step.source(t, fixture.Options{Txs: []int{1, 3, 1, 50, 1, 1}, Payload: 10, Tables: []string{"t"}})
			store := &gateStore{}
			if tc.slowStore {
				store.gate = make(chan struct{})
			}
			p, err := New(src, sink, store, WithBeginCommit(tc.beginCommit), WithCheckpointInterval(tc.interval), WithBatch(0, tc.batch))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			if tc.slowStore {
				// The source finishes only if every transaction was written
				// while the store was blocked; then let the saves through.
				deadline := time.After(30 * time.Second)
				for len(sink.records()) < len(expected(src, func(string) bool { return true }, tc.beginCommit, change.Position{})) {
					select {
					case err := <-done:
						t.Fatalf("Run ended with the store blocked: %v", err)
					case <-deadline:
						step.mu.Lock()
						t.Fatalf("not all written with the store blocked: %v", step.stuck)
					case <-time.After(time.Millisecond):
					}
				}
				close(store.gate)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			diffRecs(t, sink.records(), expected(src, func(string) bool { return true }, tc.beginCommit, change.Position{}))
			saved, err := store.Load(context.Background(), "default")
			if err != nil {
				t.Fatal(err)
			}
			if want := src.End(); saved != want {
				t.Errorf("saved %v at the end, want %v (the last commit)", saved, want)
			}
		})
	}
}

// TestPipelineStoreFailureStops checks that a failing store stops Run with
// its error even while the source is idle (the save no longer runs on the
// delivery path, so nothing else would notice).
func TestPipelineStoreFailureStops(t *testing.T) {
	for _, interval := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(interval.String(), func(t *testing.T) {
			sink := &recSink{}
			step := &stepper{sink: sink, wait: 10 * time.Second}
			src := step.source(t, fixture.Options{Txs: []int{2}, Payload: 10, Tables: []string{"t"}, Follow: true})
			store := &gateStore{failErr: errors.New("disk on fire")}
			p, err := New(src, sink, store, WithCheckpointInterval(interval))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "disk on fire") || !strings.Contains(err.Error(), "save position") {
					t.Fatalf("Run = %v, want the store's error", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run still running 30 s after the store failed")
			}
			if n := len(sink.records()); n != 2 {
				t.Errorf("sink holds %d changes, want 2", n)
			}
		})
	}
}
