package stdout

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// BenchmarkWrite: batches of 512 snapshot rows like the bench table's,
// written to io.Discard (encoding, buffering and the writes).
func BenchmarkWrite(b *testing.B) {
	cols := []change.Column{{Name: "id", Type: "integer", Key: true}, {Name: "n", Type: "bigint"}, {Name: "d", Type: "numeric(12,2)"},
		{Name: "s", Type: "character varying(40)"}, {Name: "at", Type: "timestamp(6) without time zone"}, {Name: "p", Type: "text"}}
	read := time.Now()
	batch := make([]change.Change, 512)
	for i := range batch {
		batch[i] = change.Change{Op: change.OpRead, Source: "postgres", Namespace: change.Namespace{Database: "public", Table: "t"}, Columns: cols,
			ReadTime: read, Snapshot: change.SnapshotOn,
			After: []change.Value{change.Int(int64(i), 32), change.Int(int64(7*i), 64), change.Decimal([]byte("12.34")), change.String([]byte("name-12345")),
				change.DateTime(2024, 1, 2, 3, 4, 5, 123456000, 6), change.String([]byte("row 12345 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))},
			Pos: change.Position{Flavor: change.FlavorLSN, Offset: 0x1F36E850, Row: uint64(i + 1), Snapshot: "t=public.t,k=int.s32.i12345"}}
	}
	s := New(io.Discard)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(batch)))
}
