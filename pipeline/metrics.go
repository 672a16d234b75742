package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// Metrics receives a pipeline's counters. Delivered is called from the
// pipeline's delivery goroutine and Checkpointed from its checkpoint
// goroutine, so the two may run at the same time; neither may block.
type Metrics interface {
	// Delivered reports a batch the sink acknowledged: changes read from
	// the source (shown or not), changes written, their estimated bytes,
	// and the lag of the last written change (now minus its CommitTime; 0
	// when the source gave none).
	Delivered(read, written int, bytes int64, lag time.Duration)
	// Checkpointed reports a position saved to the store.
	Checkpointed(p change.Position)
}

// ChangeMetrics is a Metrics that also sees the changes of every batch the
// sink acknowledged, to count them by operation and table or to show them
// to a watcher. The pipeline calls DeliveredChanges just before Delivered,
// from the same goroutine; batch and the memory its values point into are
// valid only during the call (a synchronous sink's batches are reused), so
// it must copy what it keeps, and it must not block.
type ChangeMetrics interface {
	Metrics
	DeliveredChanges(batch []change.Change)
}

// Counters is a Metrics that keeps running totals, readable at any time
// from any goroutine (for a status page or a Prometheus collector).
type Counters struct {
	read, written, bytes, checkpoints atomic.Int64
	lag                               atomic.Int64
	lastSaved                         atomic.Pointer[change.Position]
}

// Delivered adds a delivered batch to the totals.
func (c *Counters) Delivered(read, written int, bytes int64, lag time.Duration) {
	c.read.Add(int64(read))
	c.written.Add(int64(written))
	c.bytes.Add(bytes)
	if lag > 0 || written > 0 {
		c.lag.Store(int64(lag))
	}
}

// Checkpointed records a saved position.
func (c *Counters) Checkpointed(p change.Position) {
	c.checkpoints.Add(1)
	c.lastSaved.Store(&p)
}

// CountersSnapshot is a copy of Counters at one moment.
type CountersSnapshot struct {
	Read, Written, Bytes, Checkpoints int64
	Lag                               time.Duration
	LastSaved                         change.Position
}

// Snapshot returns the current totals.
func (c *Counters) Snapshot() CountersSnapshot {
	s := CountersSnapshot{
		Read: c.read.Load(), Written: c.written.Load(), Bytes: c.bytes.Load(),
		Checkpoints: c.checkpoints.Load(), Lag: time.Duration(c.lag.Load()),
	}
	if p := c.lastSaved.Load(); p != nil {
		s.LastSaved = *p
	}
	return s
}
