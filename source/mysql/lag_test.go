package mysql

import (
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func TestBinlogLag(t *testing.T) {
	files := []BinlogFile{{"bin.000001", 1000}, {"bin.000002", 500}, {"bin.000003", 300}}
	cases := []struct {
		at   change.Position
		want int64
	}{
		{change.Position{File: "bin.000003", Offset: 300}, 0},
		{change.Position{File: "bin.000003", Offset: 100}, 200},
		{change.Position{File: "bin.000002", Offset: 400}, 100 + 300},
		{change.Position{File: "bin.000001", Offset: 4}, 996 + 500 + 300},
		{change.Position{File: "bin.000000", Offset: 4}, -1}, // purged
		{change.Position{GTIDSet: "0-1-5"}, -1},              // no file
	}
	for _, c := range cases {
		c.at.Flavor = change.FlavorBinlog
		got := binlogLag(files, c.at)
		if got.Bytes != c.want || got.Head.File != "bin.000003" || got.Head.Offset != 300 {
			t.Errorf("binlogLag(%v) = %+v, want Bytes %d at bin.000003:300", c.at, got, c.want)
		}
	}
	if l := binlogLag(nil, change.Position{}); l.Bytes != -1 || !l.Head.IsZero() {
		t.Errorf("no files: %+v", l)
	}
}
