package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
)

// ErrPositionLost is returned (wrapped) by Err when the source no longer
// holds the position the stream should resume from (see
// source.ErrPositionLost): every source wraps this one error.
var ErrPositionLost = source.ErrPositionLost

// ErrNotOutstanding is returned by Ack for a change that Next did not
// return or that was already acknowledged.
var ErrNotOutstanding = errors.New("ack of a change that is not outstanding")

// config collects what the Options set. The options shared with package
// pipeline are collected as pipeline options, so that the same name means
// the same thing in both places.
type config struct {
	pipe       []pipeline.Option
	registry   *source.Registry
	store      checkpoint.Store
	stateFile  string
	start      source.Start
	log        *slog.Logger
	maxUnacked int
	autoAck    bool
	filter     pipeline.FilterSpec
	snapshot   snapshot.Options
}

// Option configures Open.
type Option func(*config)

func pipe(o pipeline.Option) Option {
	return func(c *config) { c.pipe = append(c.pipe, o) }
}

// WithRegistry looks sources up in r instead of source.Default().
func WithRegistry(r *source.Registry) Option { return func(c *config) { c.registry = r } }

// WithStore checkpoints to store (under WithID's name). Default: an
// in-memory store, so nothing survives the process.
func WithStore(store checkpoint.Store) Option { return func(c *config) { c.store = store } }

// WithStateFile checkpoints to a bbolt file at path (created if needed),
// which Close closes.
func WithStateFile(path string) Option { return func(c *config) { c.stateFile = path } }

// WithStart is where the source begins when the store holds no position
// and WithFrom gives none. Default source.StartDefault: the source's own.
func WithStart(s source.Start) Option { return func(c *config) { c.start = s } }

// WithID names the stream in its checkpoint store (pipeline.WithID).
// Default pipeline.DefaultID.
func WithID(id string) Option { return pipe(pipeline.WithID(id)) }

// WithFrom begins after p when the store holds no position (pipeline.WithFrom).
func WithFrom(p change.Position) Option { return pipe(pipeline.WithFrom(p)) }

// WithFilter keeps only the tables and columns spec selects
// (pipeline.WithFilter). Open fails on a malformed spec.
func WithFilter(spec pipeline.FilterSpec) Option {
	return func(c *config) {
		c.filter = spec
		c.pipe = append(c.pipe, pipeline.WithFilter(spec))
	}
}

// WithSnapshot makes the stream begin with the rows the tables already
// hold, as o says (see package snapshot): with snapshot.ModeInitial a
// stream without a saved position first returns every row of the tables
// WithFilter keeps as a change.OpRead change, then the changes after the
// snapshot's consistent point; a restart in the middle of it resumes
// after the last acknowledged row. Default: the source URL's snapshot
// parameter, else no snapshot. o.Tables, when nil, is WithFilter's table
// filter.
func WithSnapshot(o snapshot.Options) Option { return func(c *config) { c.snapshot = o } }

// WithTransform masks, hashes and renames what WithFilter kept
// (pipeline.WithTransform). Open fails on a malformed spec.
func WithTransform(spec pipeline.TransformSpec) Option { return pipe(pipeline.WithTransform(spec)) }

// WithBeginCommit makes Next return begin and commit events too
// (pipeline.WithBeginCommit). Default off.
func WithBeginCommit(on bool) Option { return pipe(pipeline.WithBeginCommit(on)) }

// WithQueueBytes bounds the estimated bytes of changes read ahead of Next
// and not yet passed (pipeline.WithQueueBytes). Default
// pipeline.DefaultQueueBytes.
func WithQueueBytes(n int64) Option { return pipe(pipeline.WithQueueBytes(n)) }

// WithCheckpointInterval saves the acknowledged position at most this
// often, and always on Close (pipeline.WithCheckpointInterval). 0 saves on
// every acknowledgement that moves it. Default
// pipeline.DefaultCheckpointInterval.
func WithCheckpointInterval(d time.Duration) Option { return pipe(pipeline.WithCheckpointInterval(d)) }

// WithStopAt ends the stream where the source reaches p: Next returns the
// changes at or before p, then false with a nil Err (pipeline.WithStopAt).
// Default: the stream follows the source until closed.
func WithStopAt(p change.Position) Option { return pipe(pipeline.WithStopAt(p)) }

// WithMetrics reports the stream's counters to m (pipeline.WithMetrics):
// a change counts as delivered once acknowledged.
func WithMetrics(m pipeline.Metrics) Option { return pipe(pipeline.WithMetrics(m)) }

// WithLogger gives l to the source and the pipeline (pipeline.WithLogger).
// Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		c.log = l
		c.pipe = append(c.pipe, pipeline.WithLogger(l))
	}
}

// WithMaxUnacked makes Next fail once n returned changes wait for Ack,
// instead of growing without bound. Default 1<<20.
func WithMaxUnacked(n int) Option { return func(c *config) { c.maxUnacked = n } }

// WithAutoAck, when on, acknowledges each change when Next is called
// again, for programs that finish a change before asking for the next
// one. Default off.
func WithAutoAck(on bool) Option { return func(c *config) { c.autoAck = on } }

// Stream iterates over the changes of one source. Next, Change, Ack, Err
// and Close are meant for one goroutine; Ack may also be called from
// others.
//
// A Stream is a pipeline (package pipeline) whose sink is the iterator:
// the pipeline reads ahead into a bounded queue, and saves a position once
// every change up to it is acknowledged.
//
// After an initial snapshot (WithSnapshot), the stream's first change
// comes only once every snapshot row is acknowledged and the snapshot's
// end is saved, so that a crash never resumes a snapshot whose stream was
// already seen: a program that acknowledges by hand must Ack the row
// marked change.SnapshotLast before it waits on Next for more (WithAutoAck
// does so). Next logs a warning when it waits for that longer than 10 s.
type Stream struct {
	cfg    config
	p      *pipeline.Pipeline
	closer io.Closer // the state file, when Open opened it
	cancel context.CancelFunc
	runErr chan error // Run's result

	in    chan *pipeline.Delivery // from the pipeline
	ended chan struct{}           // closed by End
	end   error                   // End's error; read after ended is closed

	cur  change.Change
	d    *pipeline.Delivery // the delivery cur comes from
	i    int                // index in d of the next change
	err  error
	done bool

	mu          sync.Mutex
	outstanding []*pipeline.Delivery // deliveries not fully acknowledged, in order
	unacked     int
	autoP       *change.Position // the change WithAutoAck acknowledges at the next Next

	closeOnce sync.Once
	closeErr  error
}

// Open starts streaming from the source rawURL names, looked up in the
// registry (source.Default() unless WithRegistry says otherwise; package
// sources registers every source Sluice ships). When the checkpoint store
// holds a position for the stream's id, the stream resumes after it;
// otherwise it begins at WithFrom's position or WithStart's point. The
// source runs until ctx ends or Close is called.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Stream, error) {
	c := config{registry: source.Default(), maxUnacked: 1 << 20}
	for _, opt := range opts {
		opt(&c)
	}
	if c.maxUnacked <= 0 {
		return nil, fmt.Errorf("open: max-unacked %d: want a positive count", c.maxUnacked)
	}
	if c.snapshot.Tables == nil && c.snapshot.Mode.Snapshots() {
		f, err := pipeline.NewFilter(c.filter)
		if err != nil {
			return nil, err
		}
		c.snapshot.Tables = func(ns change.Namespace) bool { return f.Keep(change.OpRead, ns) }
	}
	src, err := source.Open(ctx, c.registry, rawURL, source.Config{Start: c.start, Logger: c.log, Snapshot: c.snapshot})
	if err != nil {
		return nil, err
	}
	s := &Stream{cfg: c, in: make(chan *pipeline.Delivery), ended: make(chan struct{}), runErr: make(chan error, 1)}
	store := c.store
	if c.stateFile != "" {
		b, err := checkpoint.OpenBolt(c.stateFile, 0)
		if err != nil {
			return nil, err
		}
		store, s.closer = b, b
	}
	if store == nil {
		store = &checkpoint.Memory{}
	}
	s.p, err = pipeline.NewAsync(src, (*iterSink)(s), store, c.pipe...)
	if err != nil {
		s.closeStore()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go func() { s.runErr <- s.p.Run(rctx) }()
	return s, nil
}

// iterSink is the AsyncSink side of a Stream: the pipeline sends to it,
// Next takes from it.
type iterSink Stream

func (k *iterSink) Send(ctx context.Context, d *pipeline.Delivery) error {
	select {
	case k.in <- d:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k *iterSink) End(err error) {
	k.end = err
	close(k.ended)
}

func (k *iterSink) Close() error { return nil }

// snapshotAckWarning is how long Next waits after a snapshot's last row,
// with changes unacknowledged, before it warns.
var snapshotAckWarning = 10 * time.Second

func (c *config) logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	return slog.Default()
}

// Next advances to the next change, waiting for one. It returns false when
// the source ended, failed, ctx ended, or the stream was closed; Err tells
// which.
func (s *Stream) Next(ctx context.Context) bool {
	if s.done {
		return false
	}
	s.ackAuto()
	var snapEnd <-chan time.Time
	for s.d == nil || s.i >= len(s.d.Changes) {
		if s.d != nil {
			s.d.Release()
			s.d = nil
		}
		if s.cur.Snapshot == change.SnapshotLast && snapEnd == nil {
			// The stream waits for this row's acknowledgement; tell a
			// program that forgot it why Next does not return.
			t := time.NewTimer(snapshotAckWarning)
			defer t.Stop()
			snapEnd = t.C
		}
		select {
		case <-snapEnd:
			s.mu.Lock()
			n := s.unacked
			s.mu.Unlock()
			if n > 0 {
				s.cfg.logger().Warn("Next waits: the stream after the snapshot begins once every snapshot row returned is acknowledged (Ack, or WithAutoAck)",
					"unacked", n)
			}
			continue
		case d := <-s.in:
			s.mu.Lock()
			s.outstanding = append(s.outstanding, d)
			s.mu.Unlock()
			s.d, s.i = d, 0
		case <-s.ended:
			// The pipeline sends nothing after End; what it sent before
			// was taken (Send returns only once Next took it).
			if s.end != nil && !errors.Is(s.end, context.Canceled) {
				s.err = s.end
			}
			s.done = true
			return false
		case <-ctx.Done():
			s.err, s.done = ctx.Err(), true
			return false
		}
	}
	s.mu.Lock()
	if s.unacked >= s.cfg.maxUnacked {
		s.mu.Unlock()
		s.err = fmt.Errorf("%d changes returned by Next wait for Ack (WithMaxUnacked)", s.unacked)
		s.done = true
		return false
	}
	s.unacked++
	s.cur = s.d.Changes[s.i]
	s.i++
	if s.cfg.autoAck {
		p := s.cur.Pos
		s.autoP = &p
	}
	s.mu.Unlock()
	return true
}

// Change returns the change Next advanced to. It stays valid after later
// calls to Next.
func (s *Stream) Change() change.Change { return s.cur }

// Ack records that c, returned by Next, was dealt with. The saved position
// moves once every change before c is acknowledged too.
func (s *Stream) Ack(c change.Change) error {
	if !s.ack(c.Pos) {
		return fmt.Errorf("%w: %s", ErrNotOutstanding, c.Pos)
	}
	return nil
}

// ack acknowledges the outstanding change at p.
func (s *Stream) ack(p change.Position) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackLocked(p)
}

// ackLocked is ack with s.mu held.
func (s *Stream) ackLocked(p change.Position) bool {
	for i, d := range s.outstanding {
		n := len(d.Changes)
		if change.Compare(d.Changes[n-1].Pos, p) < 0 {
			continue
		}
		if !d.AckAt(p) {
			return false
		}
		s.unacked--
		if d.Acked() {
			s.outstanding = append(s.outstanding[:i], s.outstanding[i+1:]...)
		}
		return true
	}
	return false
}

// ackAuto acknowledges the change WithAutoAck left pending.
func (s *Stream) ackAuto() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.autoP; p != nil {
		s.autoP = nil
		s.ackLocked(*p)
	}
}

// Position returns the end of the acknowledged prefix: where a restart
// resumes once it is saved.
func (s *Stream) Position() change.Position { return s.p.Acknowledged() }

// Err returns the error that ended the stream: nil when the source simply
// finished (or reached WithStopAt's position), ctx's error when the
// context given to Next ended it.
func (s *Stream) Err() error { return s.err }

// Close stops the source, saves the acknowledged position and closes the
// state file Open opened. Changes returned but not acknowledged are read
// again after a restart. Close may be called from another goroutine to end
// a Next that is waiting; it is safe to call more than once. It returns an
// error when the last position could not be saved.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		s.ackAuto()
		s.cancel()
		err := <-s.runErr
		if err != nil && !errors.Is(err, pipeline.ErrCheckpoint) {
			err = nil // the source's error, reported by Err
		}
		if cerr := s.closeStore(); err == nil {
			err = cerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Stream) closeStore() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}
