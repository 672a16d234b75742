package pipeline

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// benchSource emits n row changes outside transactions in batches of 256
// that it builds once and re-emits with new positions (1 in 4 of table
// shop.audit, 5 columns with a 70-byte payload): what is measured is the
// pipeline, not a decoder or the fixture.
func benchSource(b *testing.B, n int) *fixture.Source {
	s, err := fixture.New(fixture.Options{Txs: []int{n}, NoTx: true, Batch: 256, Repeat: 256, NoScribble: true,
		Tables: []string{"orders", "orders", "orders", "audit"}, Columns: 5, Payload: 70})
	if err != nil {
		b.Fatal(err)
	}
	return s
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
		{"columnfilter", FilterSpec{ExcludeColumns: `shop\.orders:email/payload`}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			src := benchSource(b, b.N)
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
