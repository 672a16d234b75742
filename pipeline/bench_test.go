package pipeline

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// benchSource emits n row changes in batches of 256 that it builds once and
// re-emits with new positions: what is measured is the pipeline, not a decoder.
type benchSource struct {
	n     int
	batch []change.Change
}

func newBenchSource(n int) *benchSource {
	cols := []change.Column{{Name: "id", Type: "bigint", Key: true}, {Name: "name", Type: "varchar(64)"},
		{Name: "email", Type: "varchar(128)"}, {Name: "total", Type: "decimal(12,2)"}, {Name: "note", Type: "text"}}
	payload := []byte("0123456789012345678901234567890123456789012345678901234567890123456789")
	s := &benchSource{n: n, batch: make([]change.Change, 256)}
	for i := range s.batch {
		tbl := "orders"
		if i%4 == 3 {
			tbl = "audit"
		}
		s.batch[i] = change.Change{Op: change.OpInsert, Source: "bench", Namespace: change.Namespace{Database: "shop", Table: tbl},
			Columns: cols, After: []change.Value{change.Int(int64(i), 64), change.String([]byte("Ada Lovelace")),
				change.String([]byte("ada@example.com")), change.Decimal([]byte("1234.50")), change.String(payload)},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001"}}
	}
	return s
}

func (s *benchSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	off := uint64(0)
	for left := s.n; left > 0; {
		k := min(left, len(s.batch))
		for i := range s.batch[:k] {
			off++
			s.batch[i].Pos.Offset = off
		}
		if err := emit(s.batch[:k]); err != nil {
			return err
		}
		left -= k
	}
	return nil
}

type discardSink struct{ n int }

func (d *discardSink) Write(_ context.Context, batch []change.Change) error {
	d.n += len(batch)
	return nil
}
func (d *discardSink) Close() error { return nil }

// BenchmarkPipeline measures the pipeline's own cost per change (filter,
// copy into batch memory, queue, hand-off to the sink, checkpointing), with a
// source that does not decode and a sink that does not encode. One op is one change.
func BenchmarkPipeline(b *testing.B) {
	cases := []struct {
		name string
		spec FilterSpec
	}{
		{"nofilter", FilterSpec{}},
		{"tablefilter", FilterSpec{Include: `shop\.(orders|users)`, Exclude: `shop\.audit`}},
		{"columnfilter", FilterSpec{ExcludeColumns: `shop\.orders:email/note`}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			src := newBenchSource(b.N)
			sink := &discardSink{}
			p, err := New(src, sink, &checkpoint.Memory{}, WithFilter(bc.spec))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			if err := p.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			// CPU time is what the pipeline costs; wall time also counts
			// waiting for a CPU on a shared machine.
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/change")
			if bc.spec.Include == "" && sink.n != b.N {
				b.Fatalf("sink got %d of %d changes", sink.n, b.N)
			}
		})
	}
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
