package snapshot

import (
	"bytes"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestBatchReuseAllocatesNothing: a batch filled again with rows like the
// last ones, whose value bytes outgrow its first array, allocates nothing
// once it has been used (reset makes its array as large as the rows
// needed), and its rows keep their values.
func TestBatchReuseAllocatesNothing(t *testing.T) {
	tbl := &Table{Namespace: change.Namespace{Database: "d", Table: "t"}, Columns: benchCols, Key: []int{0}}
	text := bytes.Repeat([]byte("x"), 1000)
	row := []change.Value{change.Int(0, 32), change.Int(0, 64), change.Decimal([]byte("1.5")), change.String([]byte("s")),
		change.DateTime(2024, 1, 2, 3, 4, 5, 0, 6), change.String(text)}
	b := &batch{}
	fill := func() {
		b.reset()
		b.t = tbl
		for i := range 300 { // 300 KB of value bytes: several 64 KiB arrays the first time
			row[0].I = int64(i)
			b.add(nil, row, row[:1], []byte("t=d.t"), nil)
		}
	}
	fill()
	if n := testing.AllocsPerRun(5, fill); n != 0 {
		t.Errorf("a batch filled again allocates %v times", n)
	}
	for i := range b.rows() {
		start := 0
		if i > 0 {
			start = b.valEnd[i-1]
		}
		vals := b.vals[start:b.valEnd[i]]
		if vals[0].I != int64(i) || !bytes.Equal(vals[5].B, text) || string(vals[2].B) != "1.5" {
			t.Fatalf("row %d: %v %q", i, vals[0].I, vals[2].B)
		}
	}
}
