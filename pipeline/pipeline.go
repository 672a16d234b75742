package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// Source reads changes from a database log. Stream emits batches of
// changes in commit order, starting strictly after from (see the package
// documentation for the exact resume contract), until ctx ends, emit
// returns an error, or the source fails. It returns what emit returned, or
// its own error. The batch slice and the memory its values point to may be
// reused by the source once emit returns.
type Source interface {
	Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error
}

// Acker is implemented by sources that must learn which positions are
// durably checkpointed, such as a PostgreSQL source whose replication slot
// may release WAL only up to what was delivered. The pipeline calls Ack
// with every position it has saved (and, at start, with the saved position
// it resumes from), in increasing order, from one goroutine at a time (the
// checkpoint goroutine, not the one that calls Stream's emit).
type Acker interface {
	Ack(p change.Position)
}

// Sink delivers changes to a destination. Write returns nil only when the
// whole batch is durable there: that return is the acknowledgement the
// checkpoint relies on. Write must not keep batch or its values after it
// returns. Write and Close are called from one goroutine.
type Sink interface {
	Write(ctx context.Context, batch []change.Change) error
	Close() error
}

// PositionWriter is implemented by sinks that record the position with the
// changes in one atomic step at the destination — a Kafka transaction that
// also writes an offsets record, an SQL transaction that also updates a
// position row, a Redis MULTI — and so can be their own checkpoint store
// and deliver exactly once. The pipeline calls WriteAt instead of Write:
// through is the position the pipeline saves once WriteAt returns nil (the
// last change the batch covers, shown or not), or the zero Position when
// the batch carries no position of its own. WriteAt is also called with an
// empty batch when only the position moves (changes the filter dropped,
// hidden begin/commit/heartbeat events), so that the stored position keeps
// up with the source; a sink may coalesce those. Its other rules are
// Write's.
type PositionWriter interface {
	Sink
	WriteAt(ctx context.Context, batch []change.Change, through change.Position) error
}

// Pipeline moves changes from a Source through a Filter to a Sink (or an
// AsyncSink) and saves the position of what the sink acknowledged in a
// checkpoint Store.
type Pipeline struct {
	src   Source
	sink  Sink
	async AsyncSink
	store checkpoint.Store
	cfg   config
	sv    atomic.Pointer[saver]  // the current or last Run's
	r     atomic.Pointer[Reader] // the current or last Run's
}

// Defaults of the options.
const (
	// DefaultQueueBytes bounds the estimated bytes of changes read from
	// the source and not yet acknowledged: with it (and PostgreSQL's
	// default memory-bytes) a transaction of any size streams through in
	// under 64 MB of memory.
	DefaultQueueBytes = 4 << 20
	// DefaultBatchBytes and DefaultBatchChanges bound one sink Write.
	DefaultBatchBytes   = 1 << 20
	DefaultBatchChanges = 4096
	// DefaultCheckpointInterval is how often, at most, a position is saved.
	DefaultCheckpointInterval = time.Second
	// DefaultID names a pipeline in its checkpoint store.
	DefaultID = "default"
)

type config struct {
	id            string
	from          change.Position
	filterSpec    FilterSpec
	filter        *Filter
	transformSpec TransformSpec
	transform     *Transform
	beginCommit   bool
	queueBytes    int64
	batchBytes    int64
	batchChanges  int
	interval      time.Duration
	metrics       Metrics
	changes       ChangeMetrics // metrics, when it is one
	log           *slog.Logger
	stopAt        change.Position
}

// Option configures a Pipeline.
type Option func(*config)

// WithID names the pipeline in the checkpoint store. Default DefaultID.
func WithID(id string) Option { return func(c *config) { c.id = id } }

// WithFrom is where the source starts when the store holds no position for
// the pipeline. Default: the zero Position, the source's own default start.
func WithFrom(p change.Position) Option { return func(c *config) { c.from = p } }

// WithFilter drops the tables and columns spec selects against (see
// FilterSpec); New fails on a malformed spec. Default: keep everything.
func WithFilter(spec FilterSpec) Option { return func(c *config) { c.filterSpec = spec } }

// WithTransform masks, hashes and renames as spec says (see TransformSpec);
// New fails on a malformed spec. Default: deliver changes as they are.
func WithTransform(spec TransformSpec) Option { return func(c *config) { c.transformSpec = spec } }

// WithBeginCommit delivers begin and commit events to the sink. Default off.
func WithBeginCommit(on bool) Option { return func(c *config) { c.beginCommit = on } }

// WithQueueBytes bounds the estimated bytes of changes read from the source
// and not yet acknowledged by the sink (an AsyncSink: not yet released).
// Default DefaultQueueBytes.
func WithQueueBytes(n int64) Option { return func(c *config) { c.queueBytes = n } }

// WithBatch bounds one sink Write to about bytes estimated bytes or
// changes changes, whichever comes first. Defaults DefaultBatchBytes and
// DefaultBatchChanges.
func WithBatch(bytes int64, changes int) Option {
	return func(c *config) { c.batchBytes, c.batchChanges = bytes, changes }
}

// WithCheckpointInterval saves the acknowledged position at most this
// often while running (always at the end). 0 saves as soon as a batch is
// acknowledged (several batches acknowledged during one save are covered
// by the next). Saving runs beside delivery and never delays it. Default
// DefaultCheckpointInterval.
func WithCheckpointInterval(d time.Duration) Option { return func(c *config) { c.interval = d } }

// WithStopAt makes Run return nil, after saving, once the source reaches p:
// changes at or before p are delivered, the first one after it is not (see
// ReaderConfig.StopAt). Default: run until canceled.
func WithStopAt(p change.Position) Option { return func(c *config) { c.stopAt = p } }

// WithMetrics reports counters to m. Default none.
func WithMetrics(m Metrics) Option { return func(c *config) { c.metrics = m } }

// WithLogger logs checkpoints and shutdown to l. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// ErrCheckpoint matches (errors.Is) the errors of the checkpoint store: a
// position that could not be loaded or saved.
var ErrCheckpoint = errors.New("checkpoint store failed")

// checkpointError marks a store's error as ErrCheckpoint without adding to
// its text (the store's own error says "checkpoint: …").
type checkpointError struct{ err error }

func (e checkpointError) Error() string        { return e.err.Error() }
func (e checkpointError) Unwrap() error        { return e.err }
func (e checkpointError) Is(target error) bool { return target == ErrCheckpoint }

// New builds a Pipeline that writes to sink. It does not start anything.
func New(src Source, sink Sink, store checkpoint.Store, opts ...Option) (*Pipeline, error) {
	if sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	return build(&Pipeline{src: src, sink: sink, store: store}, opts)
}

// NewAsync builds a Pipeline that sends to an AsyncSink. It does not start
// anything.
func NewAsync(src Source, sink AsyncSink, store checkpoint.Store, opts ...Option) (*Pipeline, error) {
	if sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	return build(&Pipeline{src: src, async: sink, store: store}, opts)
}

func build(p *Pipeline, opts []Option) (*Pipeline, error) {
	cfg := config{id: DefaultID, interval: DefaultCheckpointInterval}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case p.src == nil:
		return nil, errors.New("pipeline: no source")
	case p.store == nil:
		return nil, errors.New("pipeline: no checkpoint store")
	case cfg.id == "":
		return nil, errors.New("pipeline: empty id")
	case cfg.queueBytes < 0 || cfg.batchBytes < 0 || cfg.batchChanges < 0 || cfg.interval < 0:
		return nil, errors.New("pipeline: negative queue, batch or checkpoint interval setting")
	}
	// Zero bounds take their defaults.
	cfg.queueBytes = cmp.Or(cfg.queueBytes, DefaultQueueBytes)
	cfg.batchBytes = cmp.Or(cfg.batchBytes, DefaultBatchBytes)
	cfg.batchChanges = cmp.Or(cfg.batchChanges, DefaultBatchChanges)
	f, err := NewFilter(cfg.filterSpec)
	if err != nil {
		return nil, err
	}
	cfg.filter = f
	if cfg.transform, err = NewTransform(cfg.transformSpec); err != nil {
		return nil, fmt.Errorf("pipeline: transform: %w", err)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	cfg.changes, _ = cfg.metrics.(ChangeMetrics)
	p.cfg = cfg
	return p, nil
}

// Acknowledged returns the end of the acknowledged prefix of the running
// (or last) Run: the position a restart resumes from once it is saved.
// Before Run it is the zero Position.
func (p *Pipeline) Acknowledged() change.Position {
	if sv := p.sv.Load(); sv != nil {
		return sv.latestPosition()
	}
	return change.Position{}
}

// QueuedBytes returns the estimated bytes of changes the running (or last)
// Run has read from the source and the sink has not yet acknowledged (an
// AsyncSink: not yet released). Before Run it is 0.
func (p *Pipeline) QueuedBytes() int64 {
	if r := p.r.Load(); r != nil {
		return r.QueuedBytes()
	}
	return 0
}

// Run streams until the source finishes (nil), ctx is canceled (nil, after
// saving the last acknowledged position), or the source, the sink or the
// store fails (the error, after saving the last acknowledged position).
// Changes read but not acknowledged when Run returns are read again on the
// next Run. Run does not close the sink or the store.
func (p *Pipeline) Run(ctx context.Context) error {
	from, err := p.store.Load(ctx, p.cfg.id)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		from = p.cfg.from
		p.cfg.log.Info("no saved position, starting from the configured start", "pipeline", p.cfg.id, "from", from.String())
	case err != nil && ctx.Err() != nil:
		return nil // canceled before starting: nothing read, nothing to save
	case err != nil:
		return fmt.Errorf("pipeline %s: load position: %w", p.cfg.id, checkpointError{err})
	default:
		p.cfg.log.Info("resuming", "pipeline", p.cfg.id, "from", from.String())
		if a, ok := p.src.(Acker); ok {
			a.Ack(from)
		}
	}
	// dctx ends delivery when ctx ends or the store fails.
	dctx, stopDelivery := context.WithCancel(ctx)
	defer stopDelivery()
	r := NewReader(dctx, p.src, ReaderConfig{
		From: from, Filter: p.cfg.filter, Transform: p.cfg.transform, BeginCommit: p.cfg.beginCommit, QueueBytes: p.cfg.queueBytes,
		BatchBytes: p.cfg.batchBytes, BatchChanges: p.cfg.batchChanges, StopAt: p.cfg.stopAt,
		// An AsyncSink's changes stay valid after Release, unless it
		// says it does not use them after.
		Reuse: p.async == nil || recycles(p.async),
	})
	p.r.Store(r)
	sv := newSaver(p, from, stopDelivery)
	p.sv.Store(sv)
	var runErr error
	if p.async != nil {
		runErr = p.sendLoop(dctx, r, sv)
	} else {
		d := deliverer{p: p, r: r, saver: sv, prev: from}
		runErr = d.loop(dctx)
	}
	r.Close()
	// Save what was acknowledged, even when ctx is canceled.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	saveErr := sv.stop(sctx)
	if runErr != nil {
		return fmt.Errorf("pipeline %s: %w", p.cfg.id, runErr)
	}
	if saveErr != nil {
		return fmt.Errorf("pipeline %s: %w", p.cfg.id, saveErr)
	}
	p.cfg.log.Info("stopped", "pipeline", p.cfg.id, "position", sv.savedPosition().String())
	return nil
}

// deliverer is the state of Run's delivery loop. It writes every batch as
// soon as the reader has one (taking along whatever else is already
// queued, up to one write's worth) and hands the acknowledged position to
// the saver; it never waits for more input or for the store.
type deliverer struct {
	p        *Pipeline
	r        *Reader
	saver    *saver
	taken    []*Batch
	combined []change.Change
	// prev is the position of the last batch delivered (at first the
	// position the run resumes from), and next a batch taken from the
	// reader but left for the next write because a snapshot ends before it.
	prev change.Position
	next *Batch
}

// loop delivers batches until the reader ends; nil on a clean end or ctx cancel.
func (d *deliverer) loop(ctx context.Context) error {
	batchBytes, batchChanges := d.p.cfg.batchBytes, d.p.cfg.batchChanges
	for {
		b := d.next
		d.next = nil
		if b == nil {
			var err error
			if b, err = d.r.Next(ctx); err != nil {
				if errors.Is(err, io.EOF) || ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if snapshotEnds(d.prev, b) {
			// Every row of the snapshot is delivered: save its end
			// before the stream's first change goes out.
			if err := d.saver.sync(ctx); err != nil {
				return err
			}
		}
		// Take what else is already queued, up to one write's worth, and
		// not past a snapshot's end.
		d.taken = append(d.taken[:0], b)
		n, bytes := len(b.Changes), b.Bytes
		last := d.prev
		if b.HasLast {
			last = b.Last
		}
		for n < batchChanges && bytes < batchBytes {
			nb := d.r.TryNext()
			if nb == nil {
				break
			}
			if snapshotEnds(last, nb) {
				d.next = nb
				break
			}
			if nb.HasLast {
				last = nb.Last
			}
			d.taken = append(d.taken, nb)
			n, bytes = n+len(nb.Changes), bytes+nb.Bytes
		}
		if err := d.deliver(ctx, n, bytes); err != nil {
			if errors.Is(err, errAbandoned) {
				return nil // shutting down (or the store failed): Run saves what was acknowledged
			}
			return err
		}
	}
}

// errAbandoned is what deliver returns when a Write failed because ctx
// ended. The loop must stop there: a later batch the sink accepted would
// move the acknowledged position past the abandoned one, and the resumed
// run would skip it.
var errAbandoned = errors.New("write abandoned on shutdown")

// deliver writes the taken batches in one sink Write and records the acknowledgement.
func (d *deliverer) deliver(ctx context.Context, n int, bytes int64) error {
	batch := d.taken[0].Changes
	if len(d.taken) > 1 {
		d.combined = d.combined[:0]
		for _, b := range d.taken {
			d.combined = append(d.combined, b.Changes...)
		}
		batch = d.combined
	}
	read := 0
	var acked change.Position
	hasAcked := false
	for _, b := range d.taken {
		read += b.Read
		if b.HasLast {
			acked, hasAcked = b.Last, true
		}
	}
	var err error
	if pw, ok := d.p.sink.(PositionWriter); ok {
		if len(batch) > 0 || hasAcked {
			err = pw.WriteAt(ctx, batch, acked)
		}
	} else if len(batch) > 0 {
		err = d.p.sink.Write(ctx, batch)
	}
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: the batch is not acknowledged and will be
			// read again; nothing after it may be delivered in this run.
			return errAbandoned
		}
		if len(batch) == 0 {
			return fmt.Errorf("sink write of position %s: %w", acked, err)
		}
		last := batch[len(batch)-1]
		return fmt.Errorf("sink write of %d changes ending at %s %s.%s (%s): %w",
			len(batch), last.Op, last.Database, last.Table, last.Pos, err)
	}
	var lag time.Duration
	if len(batch) > 0 {
		if ct := batch[len(batch)-1].CommitTime; !ct.IsZero() {
			lag = time.Since(ct)
		}
	}
	if d.p.cfg.changes != nil {
		// Before Release: the batches' memory is reused after it.
		d.p.cfg.changes.DeliveredChanges(batch)
	}
	for _, b := range d.taken {
		d.r.Release(b)
	}
	if hasAcked {
		d.saver.offer(acked)
		d.prev = acked
	}
	clear(d.combined)
	clear(d.taken)
	if d.p.cfg.metrics != nil {
		d.p.cfg.metrics.Delivered(read, len(batch), bytes, lag)
	}
	return nil
}
