package lease

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// Bind fences id in store for the holder of l (store.Fence with
// l.Fence()) and returns the Store the holder's pipeline must use: the
// fenced store, which also refuses every Save once l's Lost has closed,
// with l's Err — an owner that knows it lost its lease does not even try
// (the fence refuses what it tries anyway). Bind must come before the
// holder loads the position it resumes from (see checkpoint.Fencer).
func Bind(ctx context.Context, store checkpoint.Fencer, l Lease, id string) (checkpoint.Store, error) {
	select {
	case <-l.Lost():
		return nil, fmt.Errorf("lease: bind %q: %w", id, l.Err())
	default:
	}
	s, err := store.Fence(ctx, id, l.Fence())
	if err != nil {
		return nil, err
	}
	return &bound{s: s, l: l}, nil
}

// bound is a fenced store that refuses saves after its lease is lost.
type bound struct {
	s checkpoint.Store
	l Lease
}

func (b *bound) Load(ctx context.Context, id string) (change.Position, error) {
	return b.s.Load(ctx, id)
}

// Save saves p unless the lease is lost; a save in flight when it is
// lost is abandoned (its context canceled), so that an owner cut off from
// a coordinator that also keeps its checkpoints stops at once rather than
// when the store's timeout ends — if the save still lands, it landed
// before a new owner's Fence, or the fence refuses it.
func (b *bound) Save(ctx context.Context, id string, p change.Position) error {
	select {
	case <-b.l.Lost():
		return fmt.Errorf("lease: save %q: %w", id, b.l.Err())
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-b.l.Lost():
			cancel()
		case <-stop:
		}
	}()
	err := b.s.Save(ctx, id, p)
	if err != nil && b.l.Err() != nil {
		return fmt.Errorf("lease: save %q: %w (%w)", id, b.l.Err(), err)
	}
	return err
}
