package supervisor

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/lease"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/source"
	builtinStores "github.com/sluice-cdc/sluice/stores"
)

// memCoord is an in-memory lease coordinator shared by the lockers of
// several supervisors: a lease holds until released or until the test
// kills its owner (which also makes the owner's lockers fail, as a dead
// process's would).
type memCoord struct {
	mu    sync.Mutex
	held  map[string]*memLease
	token uint64
	dead  map[string]bool
}

type memLease struct {
	*lease.Validity
	c     *memCoord
	name  string
	fence checkpoint.Fence
}

func (l *memLease) Name() string            { return l.name }
func (l *memLease) Fence() checkpoint.Fence { return l.fence }
func (l *memLease) Release(context.Context) error {
	l.c.mu.Lock()
	if l.c.held[l.name] == l {
		delete(l.c.held, l.name)
	}
	l.c.mu.Unlock()
	l.Lose(lease.ErrReleased)
	return nil
}

type memLocker struct {
	c     *memCoord
	owner string
	ttl   time.Duration
}

func (m *memLocker) TryAcquire(_ context.Context, name string) (lease.Lease, error) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	if m.c.dead[m.owner] {
		return nil, fmt.Errorf("mem: %s is dead", m.owner)
	}
	if h := m.c.held[name]; h != nil {
		return nil, fmt.Errorf("mem: %q: %w: %s", name, lease.ErrHeld, h.fence.Owner)
	}
	m.c.token++
	l := &memLease{c: m.c, name: name, fence: checkpoint.Fence{Token: m.c.token, Owner: m.owner},
		Validity: lease.NewValidity(time.Now().Add(time.Hour), m.ttl, m.ttl/4)}
	m.c.held[name] = l
	return l, nil
}

func (m *memLocker) Acquire(ctx context.Context, name string) (lease.Lease, error) {
	return nil, fmt.Errorf("mem: Acquire is not used by the supervisor")
}

func (m *memLocker) Holder(_ context.Context, name string) (string, error) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	if m.c.dead[m.owner] {
		return "", fmt.Errorf("mem: %s is dead", m.owner)
	}
	if h := m.c.held[name]; h != nil {
		return h.fence.Owner, nil
	}
	return "", nil
}

func (m *memLocker) Close() error { return nil }

// kill revokes every lease of owner, as the coordinator does once a dead
// process's leases expire, and makes its lockers fail from now on.
func (c *memCoord) kill(owner string) {
	c.mu.Lock()
	c.dead[owner] = true
	var lost []*memLease
	for name, l := range c.held {
		if l.fence.Owner == owner {
			delete(c.held, name)
			lost = append(lost, l)
		}
	}
	c.mu.Unlock()
	for _, l := range lost {
		l.Lose(lease.ErrRevoked)
	}
}

// sharedStore is one checkpoint.Memory that every supervisor opens.
type sharedStore struct{ *checkpoint.Memory }

func (sharedStore) Close() error { return nil }

// fencedMemory is what sharedStore's Fence returns: Memory's fenced store.
func (s sharedStore) Fence(ctx context.Context, id string, f checkpoint.Fence) (checkpoint.Store, error) {
	return s.Memory.Fence(ctx, id, f)
}

// haEnv starts n supervisors (instances i0, i1, …) on one memCoord, one
// shared checkpoint store and one set of mem sinks, each delivery tagged
// with the instance that made it.
type haEnv struct {
	coord *memCoord
	mem   *memSinks
	store sharedStore
	sups  []*Supervisor
	// by records, per pipeline, the instance of each delivered change.
	mu sync.Mutex
	by map[string][]string
}

func newHAEnv(t *testing.T, n int) *haEnv {
	e := &haEnv{coord: &memCoord{held: map[string]*memLease{}, dead: map[string]bool{}},
		mem: &memSinks{got: map[string][]change.Position{}, opens: map[string]int{}, fail: map[string]bool{}},
		by:  map[string][]string{}}
	e.store = sharedStore{&checkpoint.Memory{}}
	for range n {
		e.add(t)
	}
	return e
}

// add starts one more supervisor, instance i<N>.
func (e *haEnv) add(t *testing.T) *Supervisor {
	inst := fmt.Sprintf("i%d", len(e.sups))
	sources := source.NewRegistry()
	sources.Register("fixture", func(_ context.Context, u *url.URL, _ source.Config) (pipeline.Source, error) {
		return fixture.Open(u)
	})
	sinks := sink.NewRegistry()
	sinks.Register("mem", func(_ context.Context, u *url.URL, _ sink.Config) (pipeline.Sink, error) {
		return &taggedSink{memSink: memSink{m: e.mem, name: u.Host}, e: e, inst: inst}, nil
	})
	stores := builtinStores.Builtin()
	stores.Register("shared", func(context.Context, *url.URL, checkpoint.Config) (checkpoint.StoreCloser, error) {
		return e.store, nil
	})
	leases := lease.NewRegistry()
	leases.Register("mem", func(_ context.Context, _ *url.URL, o lease.Options) (lease.Locker, error) {
		return &memLocker{c: e.coord, owner: o.Owner, ttl: o.TTL}, nil
	})
	s := New(Options{Sources: sources, Sinks: sinks, Stores: stores, LagInterval: -1,
		HA: &HA{Coordinator: "mem://", Leases: leases, Lease: lease.Options{Owner: inst, TTL: 2 * time.Second},
			SpreadDelay: 300 * time.Millisecond, Poll: 20 * time.Millisecond}})
	t.Cleanup(s.Close)
	e.sups = append(e.sups, s)
	return s
}

type taggedSink struct {
	memSink
	e    *haEnv
	inst string
}

func (s *taggedSink) Write(ctx context.Context, batch []change.Change) error {
	if err := s.memSink.Write(ctx, batch); err != nil {
		return err
	}
	s.e.mu.Lock()
	for range batch {
		s.e.by[s.name] = append(s.e.by[s.name], s.inst)
	}
	s.e.mu.Unlock()
	return nil
}

// owners returns, per pipeline, the instances whose supervisor runs it.
func (e *haEnv) owners(names []string) map[string][]string {
	out := map[string][]string{}
	for i, s := range e.sups {
		for _, n := range names {
			st, err := s.Status(n)
			if err == nil && st.HA != nil && st.HA.Owned {
				out[n] = append(out[n], fmt.Sprintf("i%d", i))
			}
		}
	}
	return out
}

func haPipe(name, src string) config.Pipeline {
	p := pipe("", name, src)
	p.State = "shared://"
	return p
}

// TestHASpreadAndTakeover: three supervisors on one coordinator spread
// four pipelines 2-1-1 without overlap, each pipeline runs on its owner
// only, and when an owner dies its pipelines move to the others, resuming
// from the shared checkpoint.
func TestHASpreadAndTakeover(t *testing.T) {
	e := newHAEnv(t, 3)
	names := []string{"p0", "p1", "p2", "p3"}
	var ps []config.Pipeline
	for _, n := range names {
		ps = append(ps, haPipe(n, "fixture://?txs=100000&rows=1&follow=on&interval=2ms"))
	}
	for _, s := range e.sups {
		s.Apply(ps)
	}
	owned := func() map[string][]string {
		var o map[string][]string
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			o = e.owners(names)
			all := len(o) == len(names)
			for _, n := range names {
				if len(o[n]) > 1 {
					t.Fatalf("pipeline %s run by %v at once", n, o[n])
				}
			}
			if all {
				return o
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("not every pipeline owned after 10s: %v", o)
		return nil
	}
	o := owned()
	per := map[string]int{}
	for _, n := range names {
		per[o[n][0]]++
	}
	if len(per) != 3 {
		t.Errorf("pipelines not spread over the three instances: %v", o)
	}
	for inst, k := range per {
		if k > 2 {
			t.Errorf("instance %s owns %d of 4 pipelines (at most 2): %v", inst, k, o)
		}
	}
	// Status: the owner, standbys and the lease's expiry, as each instance sees them.
	for _, s := range e.sups {
		st, _ := s.Status("p0")
		if st.HA == nil || st.HA.Owner != o["p0"][0] {
			t.Errorf("%s sees owner %+v of p0, want %s", s.Instance(), st.HA, o["p0"][0])
		} else if len(st.HA.Standbys) != 2 || (st.HA.Owned && st.HA.Expires.IsZero()) {
			t.Errorf("%s: p0 ownership %+v", s.Instance(), st.HA)
		}
		if st.HA.Owned && st.State != Running && st.State != Starting || !st.HA.Owned && st.State != Standby {
			t.Errorf("%s: p0 %s, owned %v", s.Instance(), st.State, st.HA.Owned)
		}
	}
	time.Sleep(300 * time.Millisecond)
	// Kill the owner of p0: its pipelines go to the other two.
	victim := o["p0"][0]
	var vs *Supervisor
	for _, s := range e.sups {
		if s.Instance() == victim {
			vs = s
		}
	}
	e.coord.kill(victim)
	killed := time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o = e.owners(names)
		moved := len(o) == len(names)
		for _, n := range names {
			if len(o[n]) > 0 && o[n][0] == victim {
				moved = false
			}
		}
		if moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no takeover 10s after killing %s: %v", victim, o)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("owners after killing %s: %v (in %v)", victim, o, time.Since(killed).Round(time.Millisecond))
	st, _ := vs.Status("p0")
	if st.State != Standby || st.HA.Owned {
		t.Errorf("the dead instance's p0: %s %+v", st.State, st.HA)
	}
	time.Sleep(200 * time.Millisecond)
	for _, s := range e.sups {
		s.Close()
	}
	e.checkNoGap(t, names)
}

// checkNoGap: every pipeline delivered its log in order from the start,
// with repeats only of what a takeover or hand-off re-delivers.
func (e *haEnv) checkNoGap(t *testing.T, names []string) {
	t.Helper()
	for _, n := range names {
		got := e.mem.positions(n)
		if len(got) == 0 {
			t.Fatalf("%s delivered nothing", n)
		}
		var seen uint64
		for _, p := range got {
			if p.Offset <= seen {
				continue // a repeat after a takeover
			}
			if want := seen + 100; seen != 0 && p.Offset != want || seen == 0 && p.Offset != fixture.Offset(0) {
				t.Fatalf("%s: gap: after offset %d came %v", n, seen, p)
			}
			seen = p.Offset
		}
	}
}

func TestHAStoreMustFence(t *testing.T) {
	dir := t.TempDir() // removed after the supervisor closed the file
	e := newHAEnv(t, 1)
	p := haPipe("p", "fixture://?txs=10&rows=1")
	p.State = dir + "/state.db"
	s := e.sups[0]
	s.Apply([]config.Pipeline{p})
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := s.Status("p")
		if strings.Contains(st.LastError, "cannot be fenced") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a bbolt state under ha: %s %q", st.State, st.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHARebalance: two instances own two pipelines each; a third that
// joins gets one handed off (stopped cleanly, position saved), and no
// pipeline ever runs on two instances.
func TestHARebalance(t *testing.T) {
	e := newHAEnv(t, 2)
	names := []string{"p0", "p1", "p2", "p3"}
	var ps []config.Pipeline
	for _, n := range names {
		ps = append(ps, haPipe(n, "fixture://?txs=100000&rows=1&follow=on&interval=2ms"))
	}
	for _, s := range e.sups {
		s.Apply(ps)
	}
	count := func() map[string]int {
		o := e.owners(names)
		per := map[string]int{}
		for _, n := range names {
			if len(o[n]) > 1 {
				t.Fatalf("pipeline %s run by %v at once", n, o[n])
			}
			if len(o[n]) == 1 {
				per[o[n][0]]++
			}
		}
		return per
	}
	wait := func(what string, ok func(map[string]int) bool) map[string]int {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			per := count()
			if ok(per) {
				return per
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: owners %v", what, per)
			}
		}
	}
	wait("two instances", func(per map[string]int) bool { return per["i0"] == 2 && per["i1"] == 2 })
	e.add(t).Apply(ps)
	per := wait("a third joined", func(per map[string]int) bool {
		return per["i2"] >= 1 && per["i0"]+per["i1"]+per["i2"] == 4
	})
	t.Logf("after the third joined: %v", per)
	time.Sleep(time.Second) // stable: no more moves, still no overlap
	if per := count(); per["i0"] > 2 || per["i1"] > 2 || per["i2"] > 2 || per["i0"]+per["i1"]+per["i2"] != 4 {
		t.Errorf("spread after a second: %v", per)
	}
	for _, s := range e.sups {
		s.Close()
	}
	e.checkNoGap(t, names)
}
