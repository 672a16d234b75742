package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-cdc/sluice/change"
)

// ErrFenced is returned (wrapped) by Fence and by Save when a newer owner
// has claimed the pipeline: the caller is no longer its owner and must
// stop delivering. It is never retried.
var ErrFenced = errors.New("fenced by a newer owner")

// Fence is an owner's claim on a pipeline's checkpoint. Token orders the
// owners: a coordinator hands every new holder of a pipeline's lease a
// token greater than every earlier holder's (package lease: Lease.Token —
// the etcd revision of the election key, the ZooKeeper zxid of the lock
// node, PostgreSQL's transaction id, MySQL's clock). Owner names the
// holder (an instance) in errors and status; it is not compared except
// between equal tokens.
type Fence struct {
	Token uint64
	Owner string
}

// Fencer is a Store shared by several processes that can bind a pipeline's
// checkpoint to one owner, so that a deposed owner — one that lost its
// lease but has not noticed yet, or noticed too late — can never
// overwrite a newer checkpoint.
//
// Fence records f as the owner of id, atomically, unless id holds a
// greater token (or the same token for another owner): then it returns an
// error wrapping ErrFenced and records nothing. On success it returns the
// Store the owner must use for id: its Save succeeds only while f is still
// the newest fence of id, checked in the same atomic step as the write
// (a compare on the coordinator, an UPDATE … WHERE on the epoch column, a
// script), and fails with ErrFenced once a newer owner has claimed id.
// Its Load reads the position as any Load does. Claiming the same fence
// again succeeds (a retry after a lost answer).
//
// The new owner must call Fence before it loads the position it resumes
// from: every Save of the old owner then either landed before the claim
// (and Load sees it) or is refused, so no checkpoint regresses.
//
// Once id has been fenced, the plain Save of the store (which carries no
// token) is refused with ErrFenced too: an unfenced writer in a fenced
// deployment would be exactly the deposed owner fencing guards against.
// Fencing a pipeline that was saved without one takes it over.
type Fencer interface {
	Store
	Fence(ctx context.Context, id string, f Fence) (Store, error)
}

// FencedError is the error of a refused Fence or Save: Held is the fence
// id holds, Want the one the caller had or asked for. It matches ErrFenced.
type FencedError struct {
	ID   string
	Held Fence
	Want Fence
}

func (e *FencedError) Error() string {
	if e.Want.Token == 0 && e.Want.Owner == "" {
		return fmt.Sprintf("pipeline %q: %v: owner %q holds token %d (this writer has no fence)", e.ID, ErrFenced, e.Held.Owner, e.Held.Token)
	}
	return fmt.Sprintf("pipeline %q: %v: owner %q holds token %d, not %q with token %d", e.ID, ErrFenced, e.Held.Owner, e.Held.Token, e.Want.Owner, e.Want.Token)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// CanClaim reports whether a store whose id holds held may record want
// as its owner: a greater token, or the same token for the same owner.
// Stores that decide in Go (not in a statement) use it.
func CanClaim(held, want Fence) bool {
	return want.Token > held.Token || (want.Token == held.Token && want.Owner == held.Owner)
}

// Check reports a fence no coordinator hands out: token 0 is the token of
// a pipeline nobody has fenced.
func (f Fence) Check() error {
	if f.Token == 0 {
		return errors.New("fence token 0: tokens start at 1")
	}
	return nil
}

// Fence records f as the owner of id (see Fencer).
func (m *Memory) Fence(ctx context.Context, id string, f Fence) (Store, error) {
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("checkpoint: fence %q: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checkpoint: fence %q: %w", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	held := m.fences[id]
	if !CanClaim(held, f) {
		return nil, fmt.Errorf("checkpoint: fence: %w", &FencedError{ID: id, Held: held, Want: f})
	}
	if m.fences == nil {
		m.fences = make(map[string]Fence)
	}
	m.fences[id] = f
	return &memoryFenced{m: m, id: id, f: f}, nil
}

// memoryFenced is the Store of one owner of one id of a Memory.
type memoryFenced struct {
	m  *Memory
	id string
	f  Fence
}

func (s *memoryFenced) Load(ctx context.Context, id string) (change.Position, error) {
	return s.m.Load(ctx, id)
}

func (s *memoryFenced) Save(ctx context.Context, id string, p change.Position) error {
	if id != s.id {
		return fmt.Errorf("checkpoint: save %q: the store is fenced for pipeline %q", id, s.id)
	}
	return s.m.save(ctx, id, p, s.f)
}
