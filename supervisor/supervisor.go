// Package supervisor runs the pipelines of a config file side by side in
// one process. It owns each pipeline's goroutine and state: it opens the
// pipeline's source, sink and checkpoint store, runs it, and when it fails
// retries it alone with capped exponential backoff while the others go on.
// Pause, Resume and Restart start and stop one pipeline on demand; Apply
// takes a new config and starts, stops and restarts only the pipelines
// that were added, removed or changed.
//
// A paused pipeline is stopped cleanly (its position saved) and started
// again from that position on Resume: nothing is lost or repeated beyond
// what the resume contract allows (at-least-once). This is also the hook
// for running Sluice in high availability: whatever decides that this
// process owns a pipeline calls Resume, and Pause when it no longer does.
//
// The package knows nothing of HTTP or YAML parsing; package server serves
// its Status and commands, cmd/sluice wires both.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/metrics"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/stores"
)

// State is what a pipeline is doing.
type State string

// States of a pipeline (metrics.States lists the same words).
const (
	// Starting: opening its source, sink and store.
	Starting State = "starting"
	// Standby: in high availability, another instance owns the
	// pipeline (or nobody yet); this one takes it over when it can.
	Standby State = "standby"
	// Running: streaming.
	Running State = "running"
	// Paused: stopped on request (or paused: true in the config), its
	// position saved; Resume starts it again.
	Paused State = "paused"
	// Retrying: the last run failed; the next starts after a backoff.
	Retrying State = "retrying"
	// Finished: the source ended or the pipeline reached stop-at.
	Finished State = "finished"
	// Stopped: removed, or the supervisor is closing.
	Stopped State = "stopped"
)

// ErrNotFound is returned for a pipeline name the supervisor does not run.
var ErrNotFound = errors.New("no such pipeline")

// ErrSnapshotUnsupported is returned by Snapshot when the pipeline's
// source cannot snapshot incrementally (or Options.Snapshot is nil).
var ErrSnapshotUnsupported = errors.New("no incremental snapshot")

// ErrSnapshotTable is returned by Snapshot for a table the pipeline does
// not deliver (its filter drops it).
var ErrSnapshotTable = errors.New("table not in the pipeline")

// DefaultLagInterval is how often a running pipeline's source lag is measured.
const DefaultLagInterval = 5 * time.Second

// Options configure a Supervisor.
type Options struct {
	// Sources, Sinks and Stores open the pipelines' URLs and checkpoint
	// stores (a bare path is a bbolt file; see checkpoint.Open). A nil
	// Stores is stores.Builtin().
	Sources *source.Registry
	Sinks   *sink.Registry
	Stores  *checkpoint.Registry
	// Metrics receives every pipeline's metrics; nil makes a Set of its own.
	Metrics *metrics.Set
	// Logger receives one line per pipeline event, with the pipeline's
	// name; nil discards.
	Logger *slog.Logger
	// LagInterval is how often source lag is measured (default
	// DefaultLagInterval; negative: never).
	LagInterval time.Duration
	// Snapshot asks a pipeline's source for an incremental snapshot of
	// tables and returns the request's id; it wraps
	// ErrSnapshotUnsupported for a source that cannot. Nil: Snapshot
	// returns ErrSnapshotUnsupported.
	Snapshot func(ctx context.Context, p config.Pipeline, tables []change.Namespace) (string, error)
	// HA, when set, runs each pipeline only while this process holds its
	// lease (see HA); nil runs every pipeline.
	HA *HA
}

// Supervisor runs pipelines. Its methods are safe for concurrent use.
type Supervisor struct {
	opts   Options
	log    *slog.Logger
	stores *storeCache
	ha     *owner // nil without HA
	haErr  error  // HA options that cannot work

	mu     sync.Mutex
	units  map[string]*unit
	order  []string
	closed bool
}

// New returns a Supervisor running nothing yet.
func New(opts Options) *Supervisor {
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LagInterval == 0 {
		opts.LagInterval = DefaultLagInterval
	}
	if opts.Stores == nil {
		opts.Stores = stores.Builtin()
	}
	s := &Supervisor{opts: opts, log: opts.Logger, stores: newStores(opts.Stores), units: map[string]*unit{}}
	if opts.HA != nil {
		h, err := opts.HA.withDefaults()
		if err != nil {
			s.haErr = fmt.Errorf("ha: %w", err)
		} else {
			s.ha = newOwner(s, h)
		}
	}
	return s
}

// Instance is the name this process holds leases under in high
// availability ("" without).
func (s *Supervisor) Instance() string {
	if s.ha == nil {
		return ""
	}
	return s.ha.instance()
}

// Instances are the live instances of a highly available deployment as
// this one last saw them (nil without HA).
func (s *Supervisor) Instances() []string {
	if s.ha == nil {
		return nil
	}
	return s.ha.standbys("")
}

// ordered returns the units in config order.
func (s *Supervisor) ordered() []*unit {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*unit, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.units[n])
	}
	return out
}

// Metrics returns the metrics Set the pipelines report to.
func (s *Supervisor) Metrics() *metrics.Set { return s.opts.Metrics }

// Changes is what Apply did.
type Changes struct {
	Added, Removed, Changed, Unchanged []string
}

// Apply makes the running pipelines those of ps: it starts the new ones,
// stops the removed ones, restarts those whose settings changed and leaves
// the others running (a pipeline paused through the API stays paused).
// Stops and restarts save each pipeline's position first.
func (s *Supervisor) Apply(ps []config.Pipeline) Changes {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Changes{}
	}
	var ch Changes
	var stop []*unit
	var start []*unit
	keep := map[string]bool{}
	for _, p := range ps {
		keep[p.Name] = true
		old, ok := s.units[p.Name]
		switch {
		case ok && old.cfg.Equal(p):
			ch.Unchanged = append(ch.Unchanged, p.Name)
		case ok:
			ch.Changed = append(ch.Changed, p.Name)
			stop = append(stop, old)
			u := s.newUnit(p)
			s.units[p.Name] = u
			start = append(start, u)
		default:
			ch.Added = append(ch.Added, p.Name)
			u := s.newUnit(p)
			s.units[p.Name] = u
			s.order = append(s.order, p.Name)
			start = append(start, u)
		}
	}
	for _, name := range slices.Clone(s.order) {
		if !keep[name] {
			ch.Removed = append(ch.Removed, name)
			stop = append(stop, s.units[name])
			delete(s.units, name)
			s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
		}
	}
	s.mu.Unlock()

	// Stop first: a changed pipeline's new run must not overlap its old
	// one (they share a checkpoint).
	var wg sync.WaitGroup
	for _, u := range stop {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.stop()
		}()
	}
	wg.Wait()
	for _, name := range ch.Removed {
		s.opts.Metrics.Remove(name)
		s.log.Info("pipeline removed", "pipeline", name)
	}
	for _, u := range start {
		u.start()
	}
	return ch
}

// Close stops every pipeline, saving their positions, and waits for them.
func (s *Supervisor) Close() {
	s.mu.Lock()
	s.closed = true
	units := make([]*unit, 0, len(s.units))
	for _, n := range s.order {
		units = append(units, s.units[n])
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.stop()
		}()
	}
	wg.Wait()
	if s.ha != nil {
		s.ha.close()
	}
	s.stores.closeAll()
}

func (s *Supervisor) unit(name string) (*unit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.units[name]
	if !ok {
		return nil, fmt.Errorf("pipeline %q: %w", name, ErrNotFound)
	}
	return u, nil
}

// Pause stops a pipeline cleanly, saving its position, until Resume.
func (s *Supervisor) Pause(name string) error {
	u, err := s.unit(name)
	if err != nil {
		return err
	}
	u.command(cmdPause)
	return nil
}

// Resume starts a paused (or finished, or retrying) pipeline now.
func (s *Supervisor) Resume(name string) error {
	u, err := s.unit(name)
	if err != nil {
		return err
	}
	u.command(cmdResume)
	return nil
}

// Restart stops a pipeline, saving its position, and starts it again at
// once (a paused one too).
func (s *Supervisor) Restart(name string) error {
	u, err := s.unit(name)
	if err != nil {
		return err
	}
	u.command(cmdRestart)
	return nil
}

// Snapshot asks a pipeline's source for an incremental snapshot of tables
// (read again while the pipeline streams) and returns the request's id.
// The request is served by the running pipeline, or by a paused or
// failed one when it starts again; on MySQL, MariaDB and PostgreSQL it
// is a row in the database's signalling table, which every pipeline
// following that database serves (for the tables its filter keeps). A
// table the pipeline's filter drops is refused (ErrSnapshotTable).
func (s *Supervisor) Snapshot(ctx context.Context, name string, tables []change.Namespace) (string, error) {
	u, err := s.unit(name)
	if err != nil {
		return "", err
	}
	if len(tables) == 0 {
		return "", fmt.Errorf("pipeline %q: %w: no table named", name, ErrSnapshotTable)
	}
	filter, err := pipeline.NewFilter(u.cfg.Filter)
	if err != nil {
		return "", fmt.Errorf("pipeline %q: %w", name, err)
	}
	for _, t := range tables {
		if !filter.Keep(change.OpRead, t) {
			return "", fmt.Errorf("pipeline %q: %s.%s: %w (its filter drops it)", name, t.Database, t.Table, ErrSnapshotTable)
		}
	}
	if s.opts.Snapshot == nil {
		return "", fmt.Errorf("pipeline %q: %w", name, ErrSnapshotUnsupported)
	}
	id, err := s.opts.Snapshot(ctx, u.cfg, tables)
	if err != nil {
		return "", fmt.Errorf("pipeline %q: %w", name, address.RedactError(err, u.cfg.Source))
	}
	return id, nil
}

// Status is what the supervisor knows of one pipeline.
type Status struct {
	Name  string
	State State
	// Since is when the pipeline entered State.
	Since time.Time
	// Config is the pipeline's settings (its URLs hold secrets: redact
	// before showing them).
	Config config.Pipeline
	// Delivered is the end of what the sink acknowledged (the position a
	// restart resumes from once saved); Checkpointed what was last saved.
	Delivered, Checkpointed change.Position
	// Lag is the source's last measured lag (Head is the log's end),
	// nil before the first measure or when the source cannot measure.
	Lag *source.Lag
	// LastError is the last failure (redacted) and when it happened.
	LastError   string
	LastErrorAt time.Time
	// Attempt counts consecutive failures; NextRetry is when a retrying
	// pipeline starts again.
	Attempt   int
	NextRetry time.Time
	// Totals are the pipeline's counters.
	Totals metrics.Totals
	// HA is the pipeline's ownership in high availability (nil without).
	HA *Ownership
}

// Ownership is who owns a pipeline in high availability.
type Ownership struct {
	// Instance is this process's name.
	Instance string
	// Owner is the instance holding the pipeline's lease, as this one
	// last saw it ("": nobody).
	Owner string
	// Owned is whether this instance holds it; Expires is then when the
	// lease ends at the earliest unless renewed, and Token its fencing
	// token.
	Owned   bool
	Expires time.Time
	Token   uint64
	// Standbys are the other live instances.
	Standbys []string
	// Takeovers counts the leases of the pipeline this instance
	// acquired.
	Takeovers int64
}

// Status returns the status of the pipeline named name.
func (s *Supervisor) Status(name string) (Status, error) {
	u, err := s.unit(name)
	if err != nil {
		return Status{}, err
	}
	return u.status(), nil
}

// List returns the status of every pipeline, in config order.
func (s *Supervisor) List() []Status {
	s.mu.Lock()
	units := make([]*unit, 0, len(s.order))
	for _, n := range s.order {
		units = append(units, s.units[n])
	}
	s.mu.Unlock()
	out := make([]Status, len(units))
	for i, u := range units {
		out[i] = u.status()
	}
	return out
}

// Ready reports whether every pipeline is running, deliberately paused,
// finished or (in high availability) standing by, and lists those that
// are not.
func (s *Supervisor) Ready() (bool, []string) {
	var not []string
	for _, st := range s.List() {
		switch st.State {
		case Running, Paused, Finished, Standby:
		default:
			not = append(not, st.Name)
		}
	}
	return len(not) == 0, not
}

// Tail returns the tail of a pipeline's delivered changes.
func (s *Supervisor) Tail(name string) (*metrics.Tail, error) {
	u, err := s.unit(name)
	if err != nil {
		return nil, err
	}
	return &u.m.Tail, nil
}
