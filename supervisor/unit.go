package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/lease"
	"github.com/sluice-cdc/sluice/metrics"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
)

type command int

const (
	cmdNone command = iota
	cmdPause
	cmdResume
	cmdRestart
	cmdStop
	cmdHandOff // stop cleanly and release the lease (HA)
)

// unit owns one pipeline: its goroutine, its runs and its state.
type unit struct {
	s   *Supervisor
	cfg config.Pipeline
	m   *metrics.Pipeline
	log *slog.Logger

	mu        sync.Mutex
	state     State
	since     time.Time
	paused    bool    // wanted: stay stopped until resumed
	pending   command // the last command not yet acted on
	cancelRun context.CancelFunc
	wake      chan struct{} // capacity 1
	lastErr   string
	lastErrAt time.Time
	attempt   int
	nextRetry time.Time
	run       *pipeline.Pipeline
	lag       *source.Lag
	started   bool
	done      chan struct{}
	lease     lease.Lease // held in high availability
	owner     string      // the lease's holder as last seen
}

func (s *Supervisor) newUnit(p config.Pipeline) *unit {
	kind, _, _ := strings.Cut(p.Source, "://")
	return &unit{
		s: s, cfg: p, m: s.opts.Metrics.Pipeline(p.Name, kind), log: s.log.With("pipeline", p.Name),
		paused: p.Paused, wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

func (u *unit) start() {
	u.mu.Lock()
	u.started = true
	u.mu.Unlock()
	go u.loop()
}

// stop ends the unit's goroutine, saving the position, and waits for it.
func (u *unit) stop() {
	u.mu.Lock()
	started := u.started
	u.mu.Unlock()
	if !started {
		return
	}
	u.command(cmdStop)
	<-u.done
}

// command hands the goroutine a command, stopping the current run when
// the command needs it.
func (u *unit) command(c command) {
	u.mu.Lock()
	if c == cmdResume && !u.paused && (u.state == Running || u.state == Starting) {
		u.mu.Unlock()
		return // already running
	}
	if u.pending != cmdStop {
		u.pending = c
	}
	switch c {
	case cmdPause:
		u.paused = true
	case cmdResume, cmdRestart:
		u.paused = false
	}
	if c != cmdResume && u.cancelRun != nil {
		u.cancelRun()
	}
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

func (u *unit) take() command {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.pending
	if c != cmdStop {
		u.pending = cmdNone
	}
	return c
}

func (u *unit) setState(s State) {
	u.mu.Lock()
	if u.state != s {
		u.state, u.since = s, time.Now()
	}
	u.mu.Unlock()
	u.m.SetState(string(s))
}

func (u *unit) loop() {
	defer close(u.done)
	failures := 0
	for {
		c := u.take()
		if c == cmdHandOff {
			u.dropLease()
		}
		if c == cmdStop {
			u.dropLease()
			u.setState(Stopped)
			return
		}
		u.mu.Lock()
		paused := u.paused
		u.mu.Unlock()
		if paused {
			u.dropLease()
			u.setState(Paused)
			u.log.Info("pipeline paused")
			<-u.wake
			continue
		}
		var held lease.Lease
		if u.s.ha != nil {
			if held = u.heldLease(); held == nil {
				u.setState(Standby)
				<-u.wake
				continue
			}
		}
		u.setState(Starting)
		ctx, cancel := context.WithCancel(context.Background())
		u.mu.Lock()
		u.cancelRun = cancel
		if u.pending == cmdStop || u.pending == cmdPause || u.pending == cmdRestart || u.pending == cmdHandOff {
			cancel() // a command came in between take and here
		}
		u.mu.Unlock()
		if held != nil {
			// Stop delivering the moment the lease is lost.
			go func() {
				select {
				case <-held.Lost():
					cancel()
				case <-ctx.Done():
				}
			}()
		}
		began := time.Now()
		stage, err := u.runOnce(ctx, held)
		cancel()
		u.mu.Lock()
		u.cancelRun = nil
		u.run = nil
		u.mu.Unlock()
		u.m.SetQueue(nil)

		switch u.peek() {
		case cmdStop, cmdPause:
			continue
		case cmdRestart:
			failures = 0
			u.log.Info("pipeline restarting")
			continue
		case cmdHandOff:
			continue // the top of the loop releases the lease
		}
		if held != nil && (held.Err() != nil || errors.Is(err, checkpoint.ErrFenced)) {
			why := held.Err()
			if why == nil {
				why = err
			}
			u.log.Warn("ha: lease lost, pipeline stopped; standing by", "err", address.RedactError(why, u.cfg.State).Error())
			u.dropLease()
			continue
		}
		if err == nil {
			u.setState(Finished)
			u.log.Info("pipeline finished")
			<-u.wake
			continue
		}
		// A run that went well for a while starts the backoff over.
		if time.Since(began) > u.cfg.RetryMax {
			failures = 0
		}
		failures++
		wait := backoff(u.cfg.RetryMin, u.cfg.RetryMax, failures)
		msg := address.RedactError(err, u.cfg.Source, u.cfg.To).Error()
		u.m.Failed(stage)
		u.mu.Lock()
		u.lastErr, u.lastErrAt, u.attempt, u.nextRetry = msg, time.Now(), failures, time.Now().Add(wait)
		u.mu.Unlock()
		u.setState(Retrying)
		u.log.Error("pipeline failed, retrying", "stage", string(stage), "attempt", failures, "wait", wait.Round(time.Millisecond), "err", msg)
		t := time.NewTimer(wait)
		var lost <-chan struct{}
		if held != nil {
			lost = held.Lost()
		}
		select {
		case <-lost:
			t.Stop()
		case <-t.C:
			u.m.Retried()
		case <-u.wake:
			t.Stop()
			if u.peek() == cmdResume || u.peek() == cmdRestart {
				failures = 0
			}
		}
	}
}

// peek returns the pending command without taking it (stop stays).
func (u *unit) peek() command {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pending
}

// backoff is min·2^(n-1) capped at max, ±20%.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// runOnce opens the pipeline's parts, runs it until ctx ends or it stops,
// and closes them. It returns the run's error and the stage it came from.
func (u *unit) runOnce(ctx context.Context, held lease.Lease) (metrics.Stage, error) {
	c := u.cfg
	if u.s.haErr != nil {
		return metrics.StageStore, u.s.haErr
	}
	filter, err := pipeline.NewFilter(c.Filter)
	if err != nil {
		return metrics.StageSource, err
	}
	snap := c.Snapshot
	// A snapshot reads only the tables the filter keeps.
	snap.Tables = func(ns change.Namespace) bool { return filter.Keep(change.OpRead, ns) }
	snap.Progress = func(p snapshot.Progress) {
		u.m.SetSnapshot(&metrics.SnapshotProgress{TablesDone: p.TablesDone, Tables: p.Tables, Rows: p.Rows + p.Resumed, Estimated: p.Estimated, Done: p.Done})
	}
	src, err := source.Open(ctx, u.s.opts.Sources, c.Source, source.Config{Start: c.Start, Logger: u.log, Snapshot: snap})
	if err != nil {
		return metrics.StageSource, err
	}
	beginCommit := c.BeginCommit
	if spec, err := format.Parse(c.Format); err == nil && spec.NeedsBeginCommit() {
		beginCommit = true
	}
	out, err := sink.Open(ctx, u.s.opts.Sinks, c.To, sink.Config{Logger: u.log, Format: c.Format})
	if err != nil {
		return metrics.StageSink, err
	}
	defer out.Close()
	var store checkpoint.Store
	if sp, ok := out.(sink.StoreProvider); ok && sp.CheckpointStore() != nil {
		store = sp.CheckpointStore()
	} else {
		st, err := u.s.stores.acquire(ctx, c.State, u.log)
		if err != nil {
			return metrics.StageStore, err
		}
		defer u.s.stores.release(c.State)
		store = st
	}
	if held != nil {
		// Fence the checkpoint for this holder before the pipeline loads
		// the position it resumes from.
		f, ok := store.(checkpoint.Fencer)
		if !ok {
			return metrics.StageStore, fmt.Errorf("ha: the checkpoint store %s cannot be fenced: with ha, state must be a shared store (etcd://, zk://, mysql://, postgres://, redis://)", address.Redact(c.State))
		}
		bound, err := lease.Bind(ctx, f, held, c.ID)
		if err != nil {
			return metrics.StageStore, err
		}
		store = bound
	}
	tracked := &trackedSource{Source: src}
	p, err := pipeline.New(tracked, out, store,
		pipeline.WithID(c.ID), pipeline.WithFrom(c.From), pipeline.WithFilter(c.Filter), pipeline.WithTransform(c.Transform),
		pipeline.WithBeginCommit(beginCommit), pipeline.WithQueueBytes(c.QueueBytes),
		pipeline.WithCheckpointInterval(c.CheckpointInterval), pipeline.WithMetrics(u.m),
		pipeline.WithLogger(u.s.log), pipeline.WithStopAt(c.StopAt))
	if err != nil {
		return metrics.StageSink, err
	}
	u.mu.Lock()
	u.run = p
	u.mu.Unlock()
	u.m.SetQueue(p.QueuedBytes)
	u.setState(Running)
	u.log.Info("pipeline running", "source", address.Redact(c.Source), "to", address.Redact(c.To))
	lagDone := make(chan struct{})
	lctx, stopLag := context.WithCancel(ctx)
	go func() {
		defer close(lagDone)
		u.watchSource(lctx, src, p)
	}()
	err = p.Run(ctx)
	stopLag()
	<-lagDone
	if err != nil {
		switch {
		case errors.Is(err, pipeline.ErrCheckpoint):
			return metrics.StageStore, err
		case tracked.failed():
			return metrics.StageSource, err
		}
		return metrics.StageSink, err
	}
	return "", nil
}

// watchSource measures the source's lag and counts its reconnects.
func (u *unit) watchSource(ctx context.Context, src pipeline.Source, p *pipeline.Pipeline) {
	if u.s.opts.LagInterval < 0 {
		return
	}
	WatchSource(ctx, src, p, u.m, u.s.opts.LagInterval, u.log, func(l source.Lag) {
		u.mu.Lock()
		u.lag = &l
		u.mu.Unlock()
	})
}

// WatchSource measures the lag of a running pipeline's source (when it is
// a source.Lagger) and counts its reconnects (a source.Reconnecter) into m
// every interval until ctx ends, calling onLag (if set) with each measure.
// A Supervisor does this for its pipelines; `sluice stream --metrics`
// calls it for its one.
func WatchSource(ctx context.Context, src pipeline.Source, p *pipeline.Pipeline, m *metrics.Pipeline, interval time.Duration, log *slog.Logger, onLag func(source.Lag)) {
	lagger, _ := src.(source.Lagger)
	reconnecter, _ := src.(source.Reconnecter)
	var counted int64
	countReconnects := func() {
		if reconnecter == nil {
			return
		}
		n := reconnecter.Reconnects()
		if n > counted {
			m.Reconnected(n - counted)
			counted = n
		}
	}
	defer countReconnects()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		countReconnects()
		if lagger == nil {
			continue
		}
		at := p.Acknowledged()
		if at.IsZero() {
			at = m.Totals().LastSaved
		}
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := lagger.Lag(mctx, at)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("cannot measure source lag", "err", address.Redact(err.Error()))
			}
			continue
		}
		if at.IsZero() {
			l.Bytes, l.Seconds = -1, -1
		}
		if onLag != nil {
			onLag(l)
		}
		m.SetSourceLag(&metrics.SourceLag{Bytes: l.Bytes, Seconds: l.Seconds, Retained: l.Retained})
	}
}

func (u *unit) status() Status {
	u.mu.Lock()
	st := Status{
		Name: u.cfg.Name, State: u.state, Since: u.since, Config: u.cfg, LastError: u.lastErr, LastErrorAt: u.lastErrAt,
		Attempt: u.attempt, NextRetry: u.nextRetry, Lag: u.lag,
	}
	run := u.run
	u.mu.Unlock()
	if st.State == "" {
		st.State = Starting
	}
	if st.State != Retrying {
		st.NextRetry = time.Time{}
	}
	if u.s.ha != nil {
		u.mu.Lock()
		o := &Ownership{Instance: u.s.ha.instance(), Owner: u.owner, Owned: u.lease != nil}
		if u.lease != nil {
			o.Expires, o.Token = u.lease.Expires(), u.lease.Fence().Token
		}
		u.mu.Unlock()
		o.Standbys = u.s.ha.standbys(o.Owner)
		o.Takeovers = u.m.Totals().Takeovers
		st.HA = o
	}
	st.Totals = u.m.Totals()
	st.Checkpointed = st.Totals.LastSaved
	if run != nil {
		st.Delivered = run.Acknowledged()
	}
	if st.Delivered.IsZero() {
		st.Delivered = st.Checkpointed
	}
	return st
}

// trackedSource remembers whether the source's Stream failed on its own
// (not because the pipeline stopped it), to tell source errors from sink
// errors. It forwards Ack to sources that are Ackers.
type trackedSource struct {
	pipeline.Source
	err atomic.Bool
}

func (t *trackedSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	err := t.Source.Stream(ctx, from, emit)
	if err != nil && ctx.Err() == nil && !pipeline.ErrStopped(err) {
		t.err.Store(true)
	}
	return err
}

func (t *trackedSource) Ack(p change.Position) {
	if a, ok := t.Source.(pipeline.Acker); ok {
		a.Ack(p)
	}
}

func (t *trackedSource) failed() bool { return t.err.Load() }

// storeCache shares one open store per state setting among the pipelines
// that use it: a bbolt file is locked per handle, so a second handle in the
// same process would wait for the first; a shared store (etcd, SQL, …)
// keys positions by id and needs one connection only.
type storeCache struct {
	reg   *checkpoint.Registry
	mu    sync.Mutex
	files map[string]*storeRef
}

type storeRef struct {
	s    checkpoint.StoreCloser
	refs int
}

func newStores(reg *checkpoint.Registry) *storeCache {
	return &storeCache{reg: reg, files: map[string]*storeRef{}}
}

func (s *storeCache) acquire(ctx context.Context, raw string, log *slog.Logger) (checkpoint.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.files[raw]; ok {
		r.refs++
		return r.s, nil
	}
	st, err := checkpoint.Open(ctx, s.reg, raw, checkpoint.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	s.files[raw] = &storeRef{s: st, refs: 1}
	return st, nil
}

func (s *storeCache) release(raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.files[raw]
	if !ok {
		return
	}
	if r.refs--; r.refs == 0 {
		r.s.Close()
		delete(s.files, raw)
	}
}

func (s *storeCache) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, r := range s.files {
		r.s.Close()
		delete(s.files, p)
	}
}

// isPaused reports whether the pipeline is paused (or being paused).
func (u *unit) isPaused() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.paused
}

// holds reports whether this instance holds the pipeline's lease.
func (u *unit) holds() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.lease != nil
}

// standingBy reports whether the unit waits for a lease.
func (u *unit) standingBy() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.standby()
}

func (u *unit) standby() bool {
	return u.started && u.state == Standby && u.lease == nil && !u.paused && u.pending == cmdNone
}

// offer hands the unit a lease it may run under; false if it no longer
// waits for one (the caller releases it).
func (u *unit) offer(l lease.Lease) bool {
	u.mu.Lock()
	if !u.standby() {
		u.mu.Unlock()
		return false
	}
	u.lease, u.owner = l, u.s.ha.instance()
	u.mu.Unlock()
	u.m.TookOver()
	u.m.SetOwnership(ownership("", l, u.s.ha.instance()))
	select {
	case u.wake <- struct{}{}:
	default:
	}
	return true
}

// setOwner records the lease's holder as the coordinator says, while this
// instance does not hold it.
func (u *unit) setOwner(who string) {
	u.mu.Lock()
	if u.lease != nil {
		u.mu.Unlock()
		return
	}
	u.owner = who
	u.mu.Unlock()
	u.m.SetOwnership(ownership(who, nil, ""))
}

// heldLease returns the lease the unit holds, nil if none; a lease found
// lost is dropped.
func (u *unit) heldLease() lease.Lease {
	u.mu.Lock()
	l := u.lease
	u.mu.Unlock()
	if l != nil && l.Err() != nil {
		u.log.Warn("ha: lease lost; standing by", "err", l.Err().Error())
		u.dropLease()
		return nil
	}
	return l
}

// dropLease releases the lease the unit holds, if any.
func (u *unit) dropLease() {
	u.mu.Lock()
	l := u.lease
	u.lease = nil
	if l != nil {
		u.owner = ""
	}
	u.mu.Unlock()
	if l == nil {
		return
	}
	if l.Err() == nil {
		// The pipeline has stopped (paused, stopped or handed off).
		u.log.Info("ha: lease released, pipeline stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Release(ctx); err != nil {
		u.log.Warn("ha: releasing the lease failed (it expires by itself)", "err", err.Error())
	}
	u.m.SetOwnership(ownership("", nil, ""))
}

// handOff stops the pipeline cleanly and releases its lease, if the unit
// holds one and has no other command pending.
func (u *unit) handOff() bool {
	u.mu.Lock()
	if u.lease == nil || u.pending != cmdNone {
		u.mu.Unlock()
		return false
	}
	u.mu.Unlock()
	u.command(cmdHandOff)
	return true
}
