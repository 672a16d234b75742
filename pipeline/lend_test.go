package pipeline

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// lendingSource emits batches of its own, offering each to the pipeline's
// Lender, and reuses a batch (scribbling over it) as soon as it is its own
// again: a Reader that kept a lent batch past its release, or copied a
// batch after emit returned, would deliver the scribbles.
type lendingSource struct {
	batches  int // how many batches to emit
	size     int // changes per batch
	copied   int // emit every copied-th batch without offering it (0: none)
	heartbit int // emit a heartbeat after every heartbit-th batch (0: none)
	table    func(i int) string

	offered, taken, released atomic.Int64
	free                     chan []change.Change
}

func (s *lendingSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	l := LenderFrom(ctx)
	s.free = make(chan []change.Change, s.batches+1)
	row := uint64(0)
	for i := 0; i < s.batches; i++ {
		var b []change.Change
		select {
		case b = <-s.free:
		default:
			b = make([]change.Change, s.size)
		}
		for j := range b {
			row++
			table := "t"
			if s.table != nil {
				table = s.table(i)
			}
			b[j] = change.Change{Op: change.OpRead, Namespace: change.Namespace{Database: "d", Table: table},
				Pos:   change.Position{Flavor: change.FlavorLSN, Offset: 1, Row: row},
				After: []change.Value{change.Int(int64(row), 64)}}
		}
		lend := l != nil && (s.copied == 0 || i%s.copied != 0)
		if lend {
			s.offered.Add(1)
			l.Offer(b, int64(len(b))*200, func() {
				s.released.Add(1)
				s.free <- b
			})
		}
		err := emit(b)
		taken := lend && l.Taken()
		if taken {
			s.taken.Add(1)
		}
		if !taken {
			// Ours again at once: scribble over it.
			for j := range b {
				b[j].Pos.Row, b[j].After[0] = 0, change.Int(-1, 64)
			}
			s.free <- b
		}
		if err != nil {
			return err
		}
		if s.heartbit > 0 && i%s.heartbit == 0 {
			if err := emit([]change.Change{{Op: change.OpHeartbeat, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 1, Row: row}}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// drain reads r to the end, holding up to hold batches before releasing
// the oldest, and returns the rows' numbers in order after checking each
// change against its position.
func drain(t *testing.T, r *Reader, hold int) []int64 {
	t.Helper()
	var held []*Batch
	var rows []int64
	check := func(b *Batch) {
		for _, c := range b.Changes {
			if c.Op == change.OpHeartbeat {
				continue
			}
			if c.Pos.Row == 0 || c.After[0].I != int64(c.Pos.Row) {
				t.Fatalf("change at row %d holds %d: the source reused it before its release", c.Pos.Row, c.After[0].I)
			}
			rows = append(rows, c.After[0].I)
		}
	}
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
		if len(held) > hold {
			check(held[0])
			r.Release(held[0])
			held = held[1:]
		}
	}
	for _, b := range held {
		check(b)
		r.Release(b)
	}
	return rows
}

func TestLenderTakesBatches(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      ReaderConfig
		copied   int
		heartbit int
		table    func(int) string
		lent     int64 // how many offered batches are taken (-1: all)
	}{
		{name: "reuse", cfg: ReaderConfig{Reuse: true}, lent: -1},
		{name: "reuse, small batches", cfg: ReaderConfig{Reuse: true, BatchChanges: 7, BatchBytes: 3000}, lent: -1},
		{name: "reuse, some copied, heartbeats", cfg: ReaderConfig{Reuse: true}, copied: 3, heartbit: 2, lent: -1},
		{name: "no reuse", cfg: ReaderConfig{}},
		{name: "column filter", cfg: ReaderConfig{Reuse: true, Filter: mustFilter(t, FilterSpec{ExcludeColumns: `d\.t:x`})}},
		{name: "stop position", cfg: ReaderConfig{Reuse: true, StopAt: change.Position{Flavor: change.FlavorLSN, Offset: 1, Row: 1 << 40}}},
		{name: "table filter drops some", cfg: ReaderConfig{Reuse: true, Filter: mustFilter(t, FilterSpec{Exclude: `d\.odd`})},
			table: func(i int) string { return []string{"t", "odd"}[i%2] }, lent: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &lendingSource{batches: 40, size: 50, copied: tc.copied, heartbit: tc.heartbit, table: tc.table}
			r := NewReader(context.Background(), src, tc.cfg)
			defer r.Close()
			rows := drain(t, r, 3)
			var want []int64
			for i := 0; i < src.batches; i++ {
				if tc.table != nil && tc.table(i) == "odd" {
					continue
				}
				for j := 0; j < src.size; j++ {
					want = append(want, int64(i*src.size+j+1))
				}
			}
			if !slices.Equal(rows, want) {
				t.Fatalf("%d rows delivered, want %d in order", len(rows), len(want))
			}
			offered, taken, released := src.offered.Load(), src.taken.Load(), src.released.Load()
			wantTaken := tc.lent
			if wantTaken < 0 {
				wantTaken = offered
			}
			if taken != wantTaken || offered == 0 {
				t.Errorf("%d of %d offered batches taken", taken, offered)
			}
			if released != taken {
				t.Errorf("%d taken batches released %d times", taken, released)
			}
		})
	}
}

// TestLenderOnlyThatSlice checks that a batch other than the one offered
// (a wrapper's own) is copied, and the offer is not taken.
func TestLenderOnlyThatSlice(t *testing.T) {
	var taken atomic.Bool
	src := sourceFunc(func(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
		l := LenderFrom(ctx)
		b := []change.Change{{Op: change.OpRead, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 1, Row: 1}, After: []change.Value{change.Int(1, 64)}},
			{Op: change.OpRead, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 1, Row: 2}, After: []change.Value{change.Int(2, 64)}}}
		l.Offer(b, 400, func() { t.Error("released a batch it did not take") })
		err := emit(b[1:])
		taken.Store(l.Taken())
		return err
	})
	r := NewReader(context.Background(), src, ReaderConfig{Reuse: true})
	defer r.Close()
	if rows := drain(t, r, 0); !slices.Equal(rows, []int64{2}) {
		t.Fatalf("rows %v", rows)
	}
	if taken.Load() {
		t.Error("a sub-slice of the offer was taken")
	}
	if LenderFrom(WithoutLender(context.Background())) != nil || LenderFrom(context.Background()) != nil {
		t.Error("a Lender without a Reader")
	}
}

func mustFilter(t *testing.T, spec FilterSpec) *Filter {
	t.Helper()
	f, err := NewFilter(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sourceFunc is a Source made of its Stream.
type sourceFunc func(ctx context.Context, from change.Position, emit func([]change.Change) error) error

func (f sourceFunc) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	return f(ctx, from, emit)
}
