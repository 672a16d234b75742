package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// TestComparePos checks comparePos against change.Compare on every pair of
// a set of positions: snapshot rows of one point and of others, stream
// positions, binlog files whose names sort otherwise as text.
func TestComparePos(t *testing.T) {
	var ps []change.Position
	for _, base := range []change.Position{
		{Flavor: change.FlavorBinlog, File: "bin.000009", Offset: 400, GTIDSet: "0-1-5"},
		{Flavor: change.FlavorBinlog, File: "bin.000010", Offset: 4},
		{Flavor: change.FlavorBinlog, File: "bin.000010", Offset: 4, Index: 2},
		{Flavor: change.FlavorLSN, Offset: 1000},
		{Flavor: change.FlavorLSN, Offset: 1000, Index: 1},
		{Flavor: change.FlavorLSN, Offset: 999},
	} {
		ps = append(ps, base)
		for _, row := range []uint64{1, 2, 1 << 50} {
			p := base
			p.Row, p.Snapshot = row, "t=d.t,k=int.s32.i1"
			ps = append(ps, p)
			p.Snapshot = "t=d.t,k=int.s32.i2"
			ps = append(ps, p)
		}
	}
	for i := range ps {
		for j := range ps {
			if got, want := comparePos(&ps[i], &ps[j]), change.Compare(ps[i], ps[j]); got != want {
				t.Errorf("comparePos(%s, %s) = %d, Compare %d", ps[i], ps[j], got, want)
			}
		}
	}
}

// lendingList is a source that lends each of its batches to the pipeline.
type lendingList [][]change.Change

func (l lendingList) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	lender := LenderFrom(ctx)
	for _, b := range l {
		if lender != nil {
			lender.Offer(b, int64(len(b))*200, func() {})
		}
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// TestLentBatchesKeepOrder checks the order rule on batches the pipeline
// takes as lent (checkRun), within a batch, across batches and against
// the position resumed from.
func TestLentBatchesKeepOrder(t *testing.T) {
	snap := func(row uint64) change.Change {
		return change.Change{Op: change.OpRead, Namespace: change.Namespace{Database: "d", Table: "t"},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4, Row: row, Snapshot: "t=d.t"}}
	}
	tests := []struct {
		name    string
		from    change.Position
		batches lendingList
		ok      bool
	}{
		{"increasing", change.Position{}, lendingList{{snap(1), snap(2)}, {snap(3), snap(4)}}, true},
		{"backwards in a batch", change.Position{}, lendingList{{snap(1), snap(3), snap(2)}}, false},
		{"repeated in a batch", change.Position{}, lendingList{{snap(1), snap(1)}}, false},
		{"backwards across batches", change.Position{}, lendingList{{snap(1), snap(3)}, {snap(2), snap(4)}}, false},
		{"after from", snap(2).Pos, lendingList{{snap(3), snap(4)}}, true},
		{"at from", snap(2).Pos, lendingList{{snap(2), snap(4)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			p, _ := New(tt.batches, sink, &checkpoint.Memory{}, WithFrom(tt.from))
			err := p.Run(context.Background())
			if tt.ok != (err == nil) || (!tt.ok && !errors.Is(err, ErrOrder)) {
				t.Fatalf("Run = %v, want ok=%v (or ErrOrder)", err, tt.ok)
			}
		})
	}
}
