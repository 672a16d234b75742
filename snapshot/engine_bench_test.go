package snapshot

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// benchReader hands out rows like the bench table of bench/snapshot.sh
// (int key, bigint, decimal, varchar, datetime, 60-byte text) from memory,
// so that BenchmarkDo measures the engine alone: batches, the emitter's
// order and hold-back, the progress text.
type benchReader struct {
	rows int64
	vals []change.Value
}

var benchCols = []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "n", Type: "bigint"}, {Name: "d", Type: "decimal(12,2)"},
	{Name: "s", Type: "varchar(40)"}, {Name: "at", Type: "datetime(6)"}, {Name: "p", Type: "text"}}

func (r *benchReader) Read(ctx context.Context, t *Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	start := int64(0)
	if after != nil {
		start = after[0].I + 1
	}
	if r.vals == nil {
		r.vals = []change.Value{change.Int(0, 32), change.Int(0, 64), change.Decimal([]byte("123.45")), change.String([]byte("name-123456")),
			change.DateTime(2024, 1, 2, 3, 4, 5, 123456000, 6), change.String([]byte("row 123456 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))}
	}
	n := 0
	for k := start; k < r.rows && n < limit; k++ {
		r.vals[0].I, r.vals[1].I = k, 7*k
		if err := row(nil, r.vals); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// BenchmarkDo: one table of b.N rows read by one worker and emitted.
func BenchmarkDo(b *testing.B) {
	r := &benchReader{rows: int64(b.N)}
	t := &Table{Namespace: change.Namespace{Database: "bench", Table: "t"}, Columns: benchCols, Key: []int{0}, Rows: int64(b.N)}
	emitted := 0
	b.ReportAllocs()
	b.ResetTimer()
	_, err := Do(context.Background(), &Run{Options: Options{Workers: 1}, Source: "bench", Point: change.Position{Flavor: change.FlavorLSN, Offset: 1000},
		Tables: []*Table{t}, Readers: []Reader{r}}, func(cs []change.Change) error {
		emitted += len(cs)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if emitted != b.N {
		b.Fatalf("emitted %d rows of %d", emitted, b.N)
	}
}
