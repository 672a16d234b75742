package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// snapThenStream emits rows snapshot rows (three per emit, as a snapshot
// engine's batches) at point 100, the last marked SnapshotLast, and then
// stream changes at offsets 200, 201, … one per emit, as a source that
// finished its snapshot and follows the log.
type snapThenStream struct{ rows, stream int }

func (s snapThenStream) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	ns := change.Namespace{Database: "db", Table: "t"}
	var batch []change.Change
	first := 1
	if from.Snapshot != "" {
		first = int(from.Row) + 1
	}
	if from.Snapshot != "" || from.IsZero() {
		for i := first; i <= s.rows; i++ {
			c := change.Change{Op: change.OpRead, Namespace: ns, Snapshot: change.SnapshotOn,
				Pos: change.Position{Flavor: change.FlavorLSN, Offset: 100, Row: uint64(i), Snapshot: fmt.Sprintf("t=db.t,k=%d", i)}}
			if i == s.rows {
				c.Snapshot = change.SnapshotLast
			}
			batch = append(batch, c)
			if len(batch) == 3 || i == s.rows {
				if err := emit(batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
	}
	for i := 0; i < s.stream; i++ {
		c := change.Change{Op: change.OpInsert, Namespace: ns, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 200 + uint64(i)}}
		if err := emit([]change.Change{c}); err != nil {
			return err
		}
	}
	return nil
}

// snapEndCheck checks, for every stream change a sink is handed, that the
// store already holds the snapshot's last position.
type snapEndCheck struct {
	t      *testing.T
	store  checkpoint.Store
	last   change.Position
	mu     sync.Mutex
	got    int
	stream int
	slow   bool // the first write waits, so that batches queue behind it
}

func (s *snapEndCheck) check(batch []change.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slow && s.got == 0 {
		time.Sleep(30 * time.Millisecond)
	}
	for _, c := range batch {
		s.got++
		if c.Pos.Snapshot != "" {
			continue
		}
		s.stream++
		saved, err := s.store.Load(context.Background(), "default")
		if err != nil || change.Compare(saved, s.last) < 0 {
			s.t.Errorf("stream change at %s handed over while the store holds %s (%v): the snapshot's end %s is not saved", c.Pos, saved, err, s.last)
		}
	}
}

func (s *snapEndCheck) Write(_ context.Context, batch []change.Change) error {
	s.check(batch)
	return nil
}

func (s *snapEndCheck) Close() error { return nil }

// snapEndAsync is snapEndCheck as an AsyncSink that acknowledges each
// delivery later, from another goroutine.
type snapEndAsync struct{ *snapEndCheck }

func (s snapEndAsync) Send(_ context.Context, d *Delivery) error {
	s.check(d.Changes)
	go func() {
		time.Sleep(time.Millisecond)
		d.Ack()
		d.Release()
	}()
	return nil
}

func (snapEndAsync) End(error) {}

// TestSnapshotEndSavedBeforeStream checks that the stream after a snapshot
// reaches the sink only once the snapshot's last position is saved, even
// with a checkpoint interval far longer than the run: a crash right after
// the first stream changes were delivered must not resume the snapshot.
func TestSnapshotEndSavedBeforeStream(t *testing.T) {
	const rows, stream = 50, 20
	last := change.Position{Flavor: change.FlavorLSN, Offset: 100, Row: rows, Snapshot: fmt.Sprintf("t=db.t,k=%d", rows)}
	for _, tc := range []struct {
		name  string
		async bool
		slow  bool
		from  change.Position // saved before the run
	}{
		{name: "sink"},
		{name: "sink/queued", slow: true},
		{name: "sink/resumed", from: change.Position{Flavor: change.FlavorLSN, Offset: 100, Row: 20, Snapshot: "t=db.t,k=20"}},
		{name: "async", async: true},
		{name: "async/queued", async: true, slow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &checkpoint.Memory{}
			if !tc.from.IsZero() {
				if err := store.Save(context.Background(), "default", tc.from); err != nil {
					t.Fatal(err)
				}
			}
			chk := &snapEndCheck{t: t, store: store, last: last, slow: tc.slow}
			src := snapThenStream{rows: rows, stream: stream}
			opts := []Option{WithCheckpointInterval(time.Hour), WithBatch(1<<20, 4)}
			var p *Pipeline
			var err error
			if tc.async {
				p, err = NewAsync(src, snapEndAsync{chk}, store, opts...)
			} else {
				p, err = New(src, chk, store, opts...)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := p.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if chk.stream != stream {
				t.Errorf("the sink got %d stream changes, want %d", chk.stream, stream)
			}
			saved, _ := store.Load(ctx, "default")
			if want := (change.Position{Flavor: change.FlavorLSN, Offset: 200 + stream - 1}); saved != want {
				t.Errorf("saved %s at the end, want %s", saved, want)
			}
		})
	}
}
