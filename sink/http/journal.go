package http

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// inflightSuffix names, after the pipeline's name, the store entry that
// holds the end of the request being sent.
const inflightSuffix = ".http-request"

// journal is the checkpoint store the sink hands the pipeline (WrapStore):
// the pipeline's own, in which the sink also notes, before each request,
// the position of its last change (under the pipeline's name and
// inflightSuffix) and, after it, the position the request brings the
// pipeline to. A restart thus resumes right after the last request that
// was answered, and knows where the interrupted one ended: its first
// request repeats that one, the same changes with the same key. The
// pipeline's own saves are passed on, but never past what was sent.
//
// The methods of a nil *journal do nothing: a sink without one sends
// each batch as it comes.
type journal struct {
	inner checkpoint.Store

	mu     sync.Mutex
	id     string
	saved  change.Position // last position saved under id
	safe   change.Position // everything up to it was sent (or has no message)
	replay change.Position // end of the request to repeat; zero when none
}

// Load loads the pipeline's position and the end of the request it was
// sending, if that one was not answered.
func (j *journal) Load(ctx context.Context, id string) (change.Position, error) {
	p, err := j.inner.Load(ctx, id)
	if err != nil && !errors.Is(err, checkpoint.ErrNotFound) {
		return p, err
	}
	r, rerr := j.inner.Load(ctx, id+inflightSuffix)
	if rerr != nil && !errors.Is(rerr, checkpoint.ErrNotFound) {
		return change.Position{}, rerr
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.id, j.saved, j.safe, j.replay = id, p, p, change.Position{}
	if rerr == nil && change.ComparePlace(r, p) > 0 {
		j.replay = r
	}
	return p, err
}

// Save saves p, or the last position sent when p is past it.
func (j *journal) Save(ctx context.Context, id string, p change.Position) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.id != "" && id != j.id {
		return fmt.Errorf("http: the sink serves pipeline %q, not %q", j.id, id)
	}
	if change.Compare(p, j.safe) > 0 {
		p = j.safe
	}
	if change.Compare(p, j.saved) <= 0 {
		return nil
	}
	if err := j.inner.Save(ctx, id, p); err != nil {
		return err
	}
	j.saved = p
	return nil
}

// pipeline returns the pipeline's name ("" without a journal).
func (j *journal) pipeline() string {
	if j == nil {
		return ""
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.id
}

// replaying returns the end of the request to repeat, zero when none.
func (j *journal) replaying() change.Position {
	if j == nil {
		return change.Position{}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.replay
}

// replayed notes that no request is to be repeated any more.
func (j *journal) replayed() {
	if j == nil {
		return
	}
	j.mu.Lock()
	j.replay = change.Position{}
	j.mu.Unlock()
}

// moved notes that everything up to through was sent (a write that ended
// without holding anything).
func (j *journal) moved(through change.Position) {
	if j == nil {
		return
	}
	j.mu.Lock()
	if change.Compare(through, j.safe) > 0 {
		j.safe = through
	}
	j.mu.Unlock()
}

// sending notes, durably, that a request ending at the change at last is
// about to be sent.
func (j *journal) sending(ctx context.Context, last change.Position) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	id := j.id
	j.mu.Unlock()
	if id == "" {
		return nil // not loaded: a store of the caller's keeps no notes
	}
	if err := j.inner.Save(ctx, id+inflightSuffix, last); err != nil {
		return fmt.Errorf("http: note the request in the checkpoint store: %w", err)
	}
	return nil
}

// sent notes, durably, that the pipeline is at at once the request was
// answered.
func (j *journal) sent(ctx context.Context, at change.Position) error {
	if j == nil || at.IsZero() {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if change.Compare(at, j.safe) > 0 {
		j.safe = at
	}
	if j.id == "" || change.Compare(at, j.saved) <= 0 {
		return nil
	}
	if err := j.inner.Save(ctx, j.id, at); err != nil {
		return fmt.Errorf("http: save the position after the request: %w", err)
	}
	j.saved = at
	return nil
}
