package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// fakeLease is a Lease over a Validity, for tests without a coordinator.
type fakeLease struct {
	*Validity
	fence checkpoint.Fence
}

func (f *fakeLease) Name() string                      { return "p" }
func (f *fakeLease) Fence() checkpoint.Fence           { return f.fence }
func (f *fakeLease) Release(ctx context.Context) error { f.Lose(ErrReleased); return nil }

func newFake(token uint64, owner string) *fakeLease {
	return &fakeLease{Validity: NewValidity(time.Now(), time.Hour, time.Minute), fence: checkpoint.Fence{Token: token, Owner: owner}}
}

func TestBind(t *testing.T) {
	ctx := context.Background()
	var store checkpoint.Memory
	a := newFake(1, "a")
	sa, err := Bind(ctx, &store, a, "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, "p", change.Position{Offset: 1}); err != nil {
		t.Fatal(err)
	}
	// Lost: the bound store refuses at once, with the lease's reason.
	a.Lose(ErrExpired)
	if err := sa.Save(ctx, "p", change.Position{Offset: 2}); !errors.Is(err, ErrExpired) {
		t.Fatalf("save after the lease was lost: err = %v, want ErrExpired", err)
	}
	if _, err := Bind(ctx, &store, a, "p"); !errors.Is(err, ErrExpired) {
		t.Fatalf("Bind of a lost lease: err = %v", err)
	}
	// A newer holder binds; the older one, even if it thought it still
	// held its lease, is fenced.
	stale := newFake(1, "a")
	sStale, err := Bind(ctx, &store, stale, "p")
	if err != nil {
		t.Fatal(err)
	}
	b := newFake(2, "b")
	sb, err := Bind(ctx, &store, b, "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := sStale.Save(ctx, "p", change.Position{Offset: 3}); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("stale holder's save: err = %v, want ErrFenced", err)
	}
	if got, _ := sb.Load(ctx, "p"); got.Offset != 1 {
		t.Fatalf("the new holder loads %+v", got)
	}
}

// blockingStore is a Fencer whose saves wait for their context.
type blockingStore struct{ checkpoint.Memory }

func (s *blockingStore) Fence(ctx context.Context, id string, f checkpoint.Fence) (checkpoint.Store, error) {
	return s, nil
}

func (s *blockingStore) Save(ctx context.Context, id string, p change.Position) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestBindAbandonsSave: a save in flight when the lease is lost (a store
// on a coordinator that went silent) returns at once with the lease's
// reason, not when the store gives up.
func TestBindAbandonsSave(t *testing.T) {
	a := newFake(1, "a")
	s, err := Bind(context.Background(), &blockingStore{}, a, "p")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Save(context.Background(), "p", change.Position{Offset: 1}) }()
	time.Sleep(20 * time.Millisecond)
	a.Lose(ErrExpired)
	select {
	case err := <-done:
		if !errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v, want ErrExpired", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the save in flight went on after the lease was lost")
	}
}
