package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// saver saves acknowledged positions to the checkpoint store from its own
// goroutine, so that a slow Save (bbolt syncs the file twice per save; a
// busy disk can take hundreds of milliseconds) never holds up delivery:
// the delivery goroutine only hands over the latest acknowledged position.
// It saves at most once per interval, and always the latest position it
// was given, so saves coalesce when the store is slower than the sink.
type saver struct {
	p        *Pipeline
	interval time.Duration
	fail     context.CancelFunc // stops delivery when the store fails

	saving sync.Mutex // held through a save: saves happen one at a time, in order

	mu      sync.Mutex
	latest  change.Position // last position offered
	pending bool            // latest is newer than what was saved
	saved   change.Position // last position saved
	err     error           // the store's error; the saver has stopped

	kick chan struct{} // capacity 1: an offer is waiting
	quit chan struct{} // closed by stop
	done chan struct{} // closed when the goroutine has ended
}

// newSaver starts the save goroutine. from is the position already saved
// (or the configured start); fail is called once if the store fails.
func newSaver(p *Pipeline, from change.Position, fail context.CancelFunc) *saver {
	s := &saver{p: p, interval: p.cfg.interval, fail: fail, latest: from, saved: from,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// offer hands over the latest acknowledged position. It never blocks.
func (s *saver) offer(p change.Position) {
	s.mu.Lock()
	s.latest, s.pending = p, true
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *saver) run() {
	defer close(s.done)
	// Saves are not canceled with the pipeline's context: a save in
	// progress when Run is canceled completes, and Run saves the rest.
	ctx := context.Background()
	var last time.Time
	for {
		select {
		case <-s.quit:
			return
		case <-s.kick:
		}
		if wait := s.interval - time.Since(last); wait > 0 && !last.IsZero() {
			t := time.NewTimer(wait)
			select {
			case <-s.quit:
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		if err := s.saveLatest(ctx); err != nil {
			s.fail()
			return
		}
	}
}

// saveLatest saves the latest offered position if it is newer than the
// saved one, tells an Acker source and the metrics, and records a failure.
func (s *saver) saveLatest(ctx context.Context) error {
	s.saving.Lock()
	defer s.saving.Unlock()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	p, pending := s.latest, s.pending
	s.pending = false
	s.mu.Unlock()
	if !pending {
		return nil
	}
	if err := s.p.store.Save(ctx, s.p.cfg.id, p); err != nil {
		err = fmt.Errorf("save position %s: %w", p, checkpointError{err})
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	s.saved = p
	s.mu.Unlock()
	if a, ok := s.p.src.(Acker); ok {
		a.Ack(p)
	}
	if s.p.cfg.metrics != nil {
		s.p.cfg.metrics.Checkpointed(p)
	}
	return nil
}

// sync saves the latest offered position now, without waiting for the
// interval, and returns once it is saved (or the store failed). A save the
// goroutine has in progress finishes first. The delivery loops call it at
// the end of a snapshot (see snapshotEnds).
func (s *saver) sync(ctx context.Context) error {
	if err := s.saveLatest(context.WithoutCancel(ctx)); err != nil {
		s.fail()
		return err
	}
	return nil
}

// snapshotEnds reports whether b is the first batch of the stream that
// follows a snapshot whose rows were delivered up to a position at prev: a
// position with snapshot progress (Position.Snapshot) followed by one
// without. Before such a batch is delivered, the delivery loops wait until
// every row of the snapshot is acknowledged and its last position saved.
// Without that wait, a crash after the first stream changes were delivered
// but before a checkpoint passed the snapshot's end would resume the
// snapshot: the next run reads the rest of the table again, in a later
// consistent view, at positions before those stream changes (the resume
// reads at its own point but numbers its rows in the first run's), so a
// consumer that drops what it has seen by position would skip rows it
// never had. Sources emit a snapshot's rows and the stream's changes in
// separate calls of emit, so no batch holds both.
func snapshotEnds(prev change.Position, b *Batch) bool {
	return prev.Snapshot != "" && b.HasLast && b.Last.Snapshot == ""
}

// stop ends the goroutine (after the save in progress, if any) and then
// saves the latest offered position with ctx. It returns the store's error,
// if it failed at any time.
func (s *saver) stop(ctx context.Context) error {
	close(s.quit)
	<-s.done
	return s.saveLatest(ctx)
}

// latestPosition is the last position offered.
func (s *saver) latestPosition() change.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

// savedPosition is the last position saved.
func (s *saver) savedPosition() change.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saved
}

// failed returns the store's error once a save has failed.
func (s *saver) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
