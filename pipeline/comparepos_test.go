package pipeline

import (
	"testing"

	"github.com/sluice-cdc/sluice/change"
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
