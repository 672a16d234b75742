// Package leasetest checks that a lease.Locker keeps the promises of
// package lease against a real coordinator: one holder at a time, tokens
// that grow with every new holder, waiting and trying, Release, and — over
// a TCP proxy that partitions or cuts the holder's connections — that the
// holder's Lost closes before any other owner can acquire the name, by at
// least the stop margin when the network goes silent.
package leasetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/lease"
)

// Harness opens lockers on one coordinator.
type Harness struct {
	// Open opens a locker for opts.Owner, connecting to addr (host:port:
	// the coordinator's own address, or a proxy's in front of it).
	Open func(t *testing.T, addr string, opts lease.Options) lease.Locker
	// Addr is the coordinator's address.
	Addr string
	// TTL is the TTL the tests use: short, but at least the coordinator's
	// minimum (etcd: 2 s).
	TTL time.Duration
	// Server, when set, is the coordinator's process, private to the
	// test: CoordinatorDown kills it and starts it again.
	Server interface {
		Kill()
		Start(ctx context.Context) error
	}
}

var names atomic.Int64

func (h Harness) open(t *testing.T, addr, owner string) lease.Locker {
	opts, err := lease.Options{Owner: owner, TTL: h.TTL, StopMargin: h.TTL / 4}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := h.Open(t, addr, opts)
	t.Cleanup(func() { l.Close() })
	return l
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func name(t *testing.T) string {
	return "n" + time.Now().Format("150405") + "-" + string(rune('a'+names.Add(1)%26)) + "-" + t.Name()[len(t.Name())-3:]
}

// Run runs every check.
func Run(t *testing.T, h Harness) {
	t.Run("TryAndRelease", func(t *testing.T) { testTryAndRelease(t, h) })
	t.Run("Waiting", func(t *testing.T) { testWaiting(t, h) })
	t.Run("Partition", func(t *testing.T) { testPartition(t, h) })
	t.Run("Cut", func(t *testing.T) { testCut(t, h) })
	t.Run("FencedTakeover", func(t *testing.T) { testFencedTakeover(t, h) })
	t.Run("CoordinatorDown", func(t *testing.T) {
		if h.Server == nil {
			t.Skip("the coordinator is shared with other tests")
		}
		testCoordinatorDown(t, h)
	})
}

// testCoordinatorDown: the coordinator dies. The holder's Lost closes by
// Expires − StopMargin; once the coordinator is back, the name can be
// acquired again (the dead holder's lease, lost on its side, does not
// live on) with a greater token.
func testCoordinatorDown(t *testing.T, h Harness) {
	ctx := ctxFor(t, 3*time.Minute)
	a := h.open(t, h.Addr, "owner-a")
	n := name(t)
	la, err := a.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	h.Server.Kill()
	down := time.Now()
	select {
	case <-la.Lost():
	case <-time.After(2 * h.TTL):
		t.Fatalf("Lost still open %s after the coordinator died", 2*h.TTL)
	}
	lost := time.Now()
	if late := lost.Sub(la.Expires().Add(-h.TTL / 4)); late > 250*time.Millisecond {
		t.Fatalf("Lost closed %s after Expires − StopMargin", late)
	}
	time.Sleep(h.TTL / 2)
	if err := h.Server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	b := h.open(t, h.Addr, "owner-b")
	actx, cancel := context.WithTimeout(ctx, 4*h.TTL)
	defer cancel()
	lb, err := b.Acquire(actx, n)
	if err != nil {
		t.Fatalf("acquire after the coordinator came back: %v", err)
	}
	defer lb.Release(ctx)
	t.Logf("coordinator down at 0: holder lost its lease at %s (%v); back at %s; a new holder acquired at %s",
		lost.Sub(down).Round(time.Millisecond), la.Err(), up.Sub(down).Round(time.Millisecond), time.Since(down).Round(time.Millisecond))
	if lb.Fence().Token <= la.Fence().Token {
		t.Fatalf("token %d after %d", lb.Fence().Token, la.Fence().Token)
	}
}

func testTryAndRelease(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	a, b := h.open(t, h.Addr, "owner-a"), h.open(t, h.Addr, "owner-b")
	n := name(t)
	la, err := a.TryAcquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if f := la.Fence(); f.Token == 0 || f.Owner != "owner-a" || la.Name() != n {
		t.Fatalf("lease %q fence %+v", la.Name(), f)
	}
	if until := time.Until(la.Expires()); until <= 0 || until > 2*h.TTL {
		t.Fatalf("Expires in %s, want within the TTL %s", until, h.TTL)
	}
	if who, err := b.Holder(ctx, n); err != nil || who == "" {
		t.Fatalf("Holder = %q, %v; want owner-a", who, err)
	} else if who != "owner-a" {
		t.Logf("Holder = %q", who) // MySQL names the connection
	}
	if _, err := b.TryAcquire(ctx, n); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("TryAcquire of a held name: err = %v, want ErrHeld", err)
	}
	// Another name is independent.
	if lq, err := b.TryAcquire(ctx, n+"-other"); err != nil {
		t.Fatalf("TryAcquire of another name: %v", err)
	} else {
		lq.Release(ctx)
	}
	if err := la.Err(); err != nil {
		t.Fatalf("Err of a held lease = %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Lost():
	default:
		t.Fatal("Lost still open after Release")
	}
	if !errors.Is(la.Err(), lease.ErrReleased) {
		t.Fatalf("Err after Release = %v, want ErrReleased", la.Err())
	}
	// Released at once: the other owner takes it without waiting a TTL.
	var lb lease.Lease
	deadline := time.Now().Add(h.TTL / 2)
	for {
		lb, err = b.TryAcquire(ctx, n)
		if err == nil || !errors.Is(err, lease.ErrHeld) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("TryAcquire after the holder released: %v", err)
	}
	defer lb.Release(ctx)
	if lb.Fence().Token <= la.Fence().Token {
		t.Fatalf("token %d after %d: tokens must grow", lb.Fence().Token, la.Fence().Token)
	}
	if who, _ := a.Holder(ctx, n); who == "owner-a" {
		t.Fatalf("Holder still owner-a after the release")
	}
}

func testWaiting(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	a, b := h.open(t, h.Addr, "owner-a"), h.open(t, h.Addr, "owner-b")
	n := name(t)
	la, err := a.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan lease.Lease, 1)
	errc := make(chan error, 1)
	go func() {
		lb, err := b.Acquire(ctx, n)
		if err != nil {
			errc <- err
			return
		}
		got <- lb
	}()
	select {
	case <-got:
		t.Fatal("Acquire returned while another owner holds the name")
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(h.TTL / 2):
	}
	released := time.Now()
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case lb := <-got:
		defer lb.Release(ctx)
		t.Logf("the waiter acquired %s after the release", time.Since(released).Round(time.Millisecond))
		if lb.Fence().Token <= la.Fence().Token {
			t.Fatalf("token %d after %d", lb.Fence().Token, la.Fence().Token)
		}
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(2 * h.TTL):
		t.Fatal("the waiter did not acquire the released name")
	}
	// Acquire gives up when its context ends.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := a.Acquire(cctx, n); err == nil {
		t.Fatal("Acquire of a held name returned a lease")
	}
}

// testPartition: the holder's connections go silent. Its Lost must close
// by Expires − StopMargin, and a standby must not acquire before that.
func testPartition(t *testing.T, h Harness) {
	ctx := ctxFor(t, 2*time.Minute)
	p := testenv.NewProxy(t, h.Addr, 0)
	a, b := h.open(t, p.Addr(), "owner-a"), h.open(t, h.Addr, "owner-b")
	n := name(t)
	la, err := a.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(h.TTL / 2) // a renewal or two through the proxy
	p.Partition()
	cut := time.Now()
	type acquired struct {
		at          time.Time
		holderValid bool // the partitioned holder's lease still open then
	}
	standby := make(chan acquired, 1)
	go func() {
		lb, err := b.Acquire(ctx, n)
		if err != nil {
			t.Error(err)
			close(standby)
			return
		}
		standby <- acquired{time.Now(), isOpen(la.Lost())}
		lb.Release(context.Background())
	}()
	margin := h.TTL / 4
	var lost time.Time
	select {
	case <-la.Lost():
		lost = time.Now()
	case <-time.After(2 * h.TTL):
		t.Fatalf("Lost still open %s after the partition", 2*h.TTL)
	}
	if !errors.Is(la.Err(), lease.ErrExpired) && !errors.Is(la.Err(), lease.ErrRevoked) {
		t.Fatalf("Err = %v, want ErrExpired or ErrRevoked", la.Err())
	}
	// Seen by this goroutine, which a loaded machine may run late.
	if late := lost.Sub(la.Expires().Add(-margin)); late > time.Second {
		t.Fatalf("Lost seen %s after Expires − StopMargin", late)
	}
	got, ok := <-standby
	if !ok {
		return
	}
	t.Logf("partition at 0: holder lost its lease at %s (%v), standby acquired at %s; TTL %s, stop margin %s",
		lost.Sub(cut).Round(time.Millisecond), la.Err(), got.at.Sub(cut).Round(time.Millisecond), h.TTL, margin)
	if got.holderValid {
		t.Fatalf("a standby acquired %s after the partition while the holder's lease was still open", got.at.Sub(cut))
	}
	// The coordinator frees the name no earlier than Expires; the holder
	// stopped at Expires − StopMargin.
	if early := la.Expires().Sub(got.at); early > margin/2 {
		t.Fatalf("the standby acquired %s before the holder's lease could expire", early)
	}
	if got.at.Sub(cut) > 3*h.TTL {
		t.Fatalf("takeover took %s, want about the TTL %s", got.at.Sub(cut), h.TTL)
	}
}

// testCut: the holder's connections are closed (a reset, a proxy that
// drops them). Clients may reconnect and keep the lease (etcd, ZooKeeper)
// or lose it with the connection (the SQL locks); either way no standby
// may acquire the name before the holder's Lost has closed.
func testCut(t *testing.T, h Harness) {
	ctx := ctxFor(t, 2*time.Minute)
	p := testenv.NewProxy(t, h.Addr, 0)
	a, b := h.open(t, p.Addr(), "owner-a"), h.open(t, h.Addr, "owner-b")
	n := name(t)
	la, err := a.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	p.Cut()
	cut := time.Now()
	deadline := cut.Add(2 * h.TTL)
	for time.Now().Before(deadline) {
		lb, err := b.TryAcquire(ctx, n)
		if errors.Is(err, lease.ErrHeld) {
			if la.Err() != nil {
				// Lost on the holder's side: the name must not stay
				// held by a lease nobody renews any more.
				deadline = maxTime(deadline, time.Now().Add(2*h.TTL))
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The coordinator did not answer the standby in time (a
			// loaded machine): it acquired nothing; ask again.
			t.Logf("standby: %v; asking again", err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		acquired := time.Now()
		select {
		case <-la.Lost():
		default:
			t.Fatalf("a standby acquired %s after the cut while the holder's lease was open", acquired.Sub(cut))
		}
		t.Logf("cut at 0: holder lost its lease (%v), standby acquired at %s", la.Err(), acquired.Sub(cut).Round(time.Millisecond))
		lb.Release(ctx)
		return
	}
	if err := la.Err(); err != nil {
		t.Fatalf("the holder lost its lease (%v) but nobody could acquire the name %s later", err, 2*h.TTL)
	}
	t.Logf("the holder kept its lease across the cut (its client reconnected)")
	la.Release(ctx)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// testFencedTakeover: the tokens of successive holders fence a shared
// checkpoint: the deposed holder's late save is refused.
func testFencedTakeover(t *testing.T, h Harness) {
	ctx := ctxFor(t, time.Minute)
	var store checkpoint.Memory
	a, b := h.open(t, h.Addr, "owner-a"), h.open(t, h.Addr, "owner-b")
	n := name(t)
	la, err := a.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := store.Fence(ctx, n, la.Fence())
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, n, checkpointPos(1)); err != nil {
		t.Fatal(err)
	}
	la.Release(ctx)
	lb, err := b.Acquire(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Release(ctx)
	sb, err := store.Fence(ctx, n, lb.Fence())
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, n, checkpointPos(2)); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("the deposed holder's save: err = %v, want ErrFenced", err)
	}
	if got, err := sb.Load(ctx, n); err != nil || got != checkpointPos(1) {
		t.Fatalf("the new holder loads %+v, %v", got, err)
	}
	// The deposed holder cannot claim again with its old token.
	if _, err := store.Fence(ctx, n, la.Fence()); !errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("re-fence with the old token: err = %v, want ErrFenced", err)
	}
}

// isOpen reports whether ch is still open.
func isOpen(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}
