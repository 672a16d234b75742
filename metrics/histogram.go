package metrics

import (
	"math"
	"sort"
	"sync/atomic"
)

// histogram is a Prometheus histogram: Observe is a few atomic adds,
// allocation-free, safe for concurrent use.
type histogram struct {
	bounds []float64       // upper bounds, increasing; +Inf implied
	counts []atomic.Uint64 // per bucket (not cumulative), len(bounds)+1
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds v.
func (h *histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	h.count.Add(1)
}

// samples returns the _bucket (cumulative, le last), _sum and _count
// samples with the given labels.
func (h *histogram) samples(labels ...string) []sample {
	out := make([]sample, 0, len(h.bounds)+3)
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.bounds) {
			le = formatFloat(h.bounds[i])
		}
		out = append(out, sample{suffix: "_bucket", labels: append(append([]string(nil), labels...), "le", le), value: float64(cum)})
	}
	out = append(out, sample{suffix: "_sum", labels: labels, value: math.Float64frombits(h.sum.Load())})
	// The count is the buckets' total, so that the scrape is consistent
	// even when an Observe runs while it is read.
	out = append(out, sample{suffix: "_count", labels: labels, value: float64(cum)})
	return out
}
