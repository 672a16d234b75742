package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// LagBuckets are the buckets of the commit-to-delivery lag histogram, in
// seconds: from 1 ms (a local stream keeping up) to 10 minutes (a pipeline
// catching up after an outage).
var LagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// maxTableSeries bounds the (op, table) series of one pipeline; changes of
// tables past it are counted under table="(other)".
const maxTableSeries = 5000

// OtherTable is the table label of changes past maxTableSeries tables.
const OtherTable = "(other)"

// Pipeline is the metrics of one pipeline. It is a pipeline.ChangeMetrics;
// its other methods are for the supervisor. All methods are safe for
// concurrent use.
type Pipeline struct {
	name   string
	source atomic.Pointer[string]

	read, written, bytes, batches, checkpoints atomic.Int64
	sinkErrors, sourceErrors, storeErrors      atomic.Int64
	retries, reconnects                        atomic.Int64
	lastCheckpoint                             atomic.Int64 // unix nanoseconds; 0: none yet
	lastDelivery                               atomic.Int64 // unix nanoseconds; 0: none yet
	lastLag                                    atomic.Int64 // nanoseconds, of the last batch
	lastSaved                                  atomic.Pointer[change.Position]
	lag                                        *histogram

	mu     sync.Mutex
	counts map[opTable]*atomic.Int64

	state     atomic.Pointer[string]
	queue     atomic.Pointer[func() int64]
	sourceLag atomic.Pointer[SourceLag]
	snapshot  atomic.Pointer[SnapshotProgress]
	ownership atomic.Pointer[Ownership]
	takeovers atomic.Int64

	// Tail receives every delivered batch while someone watches.
	Tail Tail
}

type opTable struct {
	op change.Op
	ns change.Namespace
}

func newPipeline(name, source string) *Pipeline {
	p := &Pipeline{name: name, counts: map[opTable]*atomic.Int64{}, lag: newHistogram(LagBuckets)}
	p.source.Store(&source)
	st := "starting"
	p.state.Store(&st)
	return p
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// DeliveredChanges counts the changes of an acknowledged batch by
// operation and table, observes their commit-to-delivery lag (once per
// transaction: per distinct commit time) and hands them to the Tail's
// watchers.
func (p *Pipeline) DeliveredChanges(batch []change.Change) {
	if len(batch) == 0 {
		return
	}
	now := time.Now()
	var lastCommit time.Time
	run := opTable{op: batch[0].Op, ns: batch[0].Namespace}
	n := int64(0)
	for i := range batch {
		c := &batch[i]
		if c.Op != run.op || c.Namespace != run.ns {
			p.count(run, n)
			run, n = opTable{op: c.Op, ns: c.Namespace}, 0
		}
		n++
		if !c.CommitTime.IsZero() && !c.CommitTime.Equal(lastCommit) {
			lastCommit = c.CommitTime
			p.lag.Observe(max(now.Sub(c.CommitTime), 0).Seconds())
		}
	}
	p.count(run, n)
	p.Tail.publish(batch)
}

func (p *Pipeline) count(k opTable, n int64) {
	p.mu.Lock()
	c, ok := p.counts[k]
	if !ok {
		if len(p.counts) >= maxTableSeries {
			k.ns = change.Namespace{Table: OtherTable}
			c, ok = p.counts[k]
		}
		if !ok {
			c = new(atomic.Int64)
			p.counts[k] = c
		}
	}
	p.mu.Unlock()
	c.Add(n)
}

// Delivered adds an acknowledged batch to the totals.
func (p *Pipeline) Delivered(read, written int, bytes int64, lag time.Duration) {
	p.read.Add(int64(read))
	p.written.Add(int64(written))
	p.bytes.Add(bytes)
	if written > 0 {
		p.batches.Add(1)
		p.lastLag.Store(int64(lag))
	}
	p.lastDelivery.Store(time.Now().UnixNano())
}

// Checkpointed records a saved position.
func (p *Pipeline) Checkpointed(pos change.Position) {
	p.lastSaved.Store(&pos)
	p.checkpoints.Add(1)
	p.lastCheckpoint.Store(time.Now().UnixNano())
}

// SetState records the supervisor's state of the pipeline (running,
// paused, retrying, …).
func (p *Pipeline) SetState(s string) { p.state.Store(&s) }

// Stage names the part of a pipeline an error came from.
type Stage string

// Stages of a pipeline.
const (
	StageSource Stage = "source"
	StageSink   Stage = "sink"
	StageStore  Stage = "checkpoint"
)

// Failed counts a run of the pipeline that ended in an error of stage.
func (p *Pipeline) Failed(stage Stage) {
	switch stage {
	case StageSink:
		p.sinkErrors.Add(1)
	case StageStore:
		p.storeErrors.Add(1)
	default:
		p.sourceErrors.Add(1)
	}
}

// Retried counts a restart of the pipeline after a failure.
func (p *Pipeline) Retried() { p.retries.Add(1) }

// Reconnected counts n reconnections of the source to its database.
func (p *Pipeline) Reconnected(n int64) { p.reconnects.Add(n) }

// SetQueue sets the function that reads the pipeline's queued bytes (nil
// while it is not running).
func (p *Pipeline) SetQueue(f func() int64) {
	if f == nil {
		p.queue.Store(nil)
		return
	}
	p.queue.Store(&f)
}

// SourceLag is how far a pipeline's source is behind its database, as the
// source measured it; a negative field is unknown.
type SourceLag struct {
	// Bytes of log between the pipeline's position and the database's
	// current one (MySQL binlog bytes, PostgreSQL LSN distance).
	Bytes int64
	// Seconds behind the log's head (MongoDB).
	Seconds float64
	// Retained is the log the database keeps for the pipeline
	// (PostgreSQL: WAL retained by the slot).
	Retained int64
}

// SetSourceLag records the latest source lag (nil: unknown).
func (p *Pipeline) SetSourceLag(l *SourceLag) { p.sourceLag.Store(l) }

// SnapshotProgress is where a pipeline's snapshot stands.
type SnapshotProgress struct {
	// TablesDone of Tables are delivered.
	TablesDone, Tables int
	// Rows delivered so far (runs before a restart included); Estimated is
	// the database's estimate of all the tables' rows (-1: none).
	Rows, Estimated int64
	// Done is set once the snapshot is complete.
	Done bool
}

// SetSnapshot records the latest snapshot progress.
func (p *Pipeline) SetSnapshot(s *SnapshotProgress) { p.snapshot.Store(s) }

// Ownership is who owns a pipeline run in high availability (sluice run
// with ha:), as this instance knows it.
type Ownership struct {
	// Owner is the instance holding the pipeline's lease ("": none).
	Owner string
	// Owned is whether this instance holds it.
	Owned bool
	// Expires is when this instance's lease ends at the earliest unless
	// renewed (zero unless Owned).
	Expires time.Time
}

// SetOwnership records the pipeline's ownership (nil: no high
// availability).
func (p *Pipeline) SetOwnership(o *Ownership) { p.ownership.Store(o) }

// TookOver counts a lease of the pipeline this instance acquired.
func (p *Pipeline) TookOver() { p.takeovers.Add(1) }

// Totals is a copy of a pipeline's counters at one moment, for the API.
type Totals struct {
	Read, Written, Bytes, Batches, Checkpoints int64
	SinkErrors, SourceErrors, StoreErrors      int64
	Retries, Reconnects                        int64
	QueueBytes                                 int64
	LastLag                                    time.Duration
	LastCheckpoint, LastDelivery               time.Time
	LastSaved                                  change.Position
	SourceLag                                  *SourceLag
	Snapshot                                   *SnapshotProgress
	Ownership                                  *Ownership
	Takeovers                                  int64
}

// Totals returns the pipeline's counters now.
func (p *Pipeline) Totals() Totals {
	t := Totals{
		Read: p.read.Load(), Written: p.written.Load(), Bytes: p.bytes.Load(), Batches: p.batches.Load(),
		Checkpoints: p.checkpoints.Load(), SinkErrors: p.sinkErrors.Load(), SourceErrors: p.sourceErrors.Load(),
		StoreErrors: p.storeErrors.Load(), Retries: p.retries.Load(), Reconnects: p.reconnects.Load(),
		LastLag: time.Duration(p.lastLag.Load()), SourceLag: p.sourceLag.Load(), Snapshot: p.snapshot.Load(),
		Ownership: p.ownership.Load(), Takeovers: p.takeovers.Load(),
	}
	if f := p.queue.Load(); f != nil {
		t.QueueBytes = (*f)()
	}
	if pos := p.lastSaved.Load(); pos != nil {
		t.LastSaved = *pos
	}
	if n := p.lastCheckpoint.Load(); n != 0 {
		t.LastCheckpoint = time.Unix(0, n)
	}
	if n := p.lastDelivery.Load(); n != 0 {
		t.LastDelivery = time.Unix(0, n)
	}
	return t
}
