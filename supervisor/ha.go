package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/lease"
	sqllease "github.com/sluice-cdc/sluice/lease/sql"
	"github.com/sluice-cdc/sluice/leases"
	"github.com/sluice-cdc/sluice/metrics"
)

// DefaultMaxInstances is how many instances HA counts as live at most
// (the membership names it tries).
const DefaultMaxInstances = 16

// HA runs the supervisor's pipelines in high availability: several
// processes with the same config each run only the pipelines whose lease
// they hold (package lease), and take over those of a process that dies.
//
// # Ownership
//
// Every pipeline is an election on the coordinator, named after the
// pipeline. A pipeline runs only while this process holds its lease: its
// checkpoint store is bound to the lease (lease.Bind, so a deposed owner's
// late save is refused), and its run is cancelled the moment the lease's
// Lost closes — StopMargin before the lease can have expired on the
// coordinator when renewals fail, at once when the coordinator says it is
// gone. It then stands by and campaigns again.
//
// # Spreading the pipelines
//
// Every instance also holds one membership lease, the first free of the
// names "~member-0" … "~member-(MaxInstances−1)"; the live instances are
// those names' holders. Every Poll, an instance looks at the pipelines it
// does not own and takes (TryAcquire) at most one that nobody holds:
//
//   - at once while it owns fewer than ⌊P/N⌋ (P pipelines not paused, N
//     live instances);
//   - otherwise after the pipeline has had no owner for SpreadDelay/2, so
//     that an instance owning fewer takes it first (an instance never
//     leaves a pipeline without an owner for longer).
//
// It looks at the pipelines starting from one its membership index
// chooses, so that instances started together begin with different ones,
// and takes nothing during its first SpreadDelay, so that the instances
// of a deployment started together all count as live before any takes
// its share. Three instances and four pipelines end up owning 2, 1 and 1.
// When the spread is uneven for SpreadDelay — the instance owning the
// most owns two or more more than another live instance (a restarted
// instance owns none) — that instance hands one pipeline off: it stops
// it cleanly, saving its position, and releases its lease, which the
// instance owning fewer takes. (Not with the MySQL lock, whose holders
// are connections, not instance names: there the pipelines move only
// when their owner dies, stops, pauses them or loses a lease.)
//
// A standby takes over a dead owner's pipeline TTL after the owner's last
// renewal (when the coordinator frees its lease) plus up to one Poll, plus
// SpreadDelay/2 when the survivors already own ⌊P/N⌋ each, plus the
// coordinator's own settling (the SQL locks wait TTL/3 + StopMargin).
type HA struct {
	// Coordinator is the lease URL (etcd://, zk://, or any scheme of
	// Leases), or config.Source: each pipeline's lease is a lock on its
	// own source database (lease/sql.SourceURL), and the membership
	// leases are on the first pipeline's.
	Coordinator string
	// Leases opens Coordinator; nil is leases.Builtin().
	Leases *lease.Registry
	// Lease is the lockers' options: Owner names this instance (empty:
	// HOST:PID), TTL and StopMargin (the lease package's defaults when
	// zero).
	Lease lease.Options
	// SpreadDelay: see Spreading the pipelines. Default TTL/2.
	SpreadDelay time.Duration
	// Poll is how often the instance looks at the pipelines it does not
	// own. Default TTL/4, at most a second.
	Poll time.Duration
	// MaxInstances bounds the instances counted as live (default
	// DefaultMaxInstances); more can run, standing by for the rest.
	MaxInstances int
}

// FromConfig returns the HA options of a config's ha section (nil when it
// has none), with reg opening the coordinator (nil: leases.Builtin()).
func FromConfig(h config.HA, reg *lease.Registry) *HA {
	if h.Coordinator == "" {
		return nil
	}
	return &HA{Coordinator: h.Coordinator, Leases: reg, SpreadDelay: h.SpreadDelay,
		Lease: lease.Options{Owner: h.Instance, TTL: h.TTL, StopMargin: h.StopMargin}}
}

func (h HA) withDefaults() (HA, error) {
	if h.Leases == nil {
		h.Leases = leases.Builtin()
	}
	o, err := h.Lease.WithDefaults()
	if err != nil {
		return h, err
	}
	h.Lease = o
	if h.SpreadDelay <= 0 {
		h.SpreadDelay = h.Lease.TTL / 2
	}
	if h.Poll <= 0 {
		h.Poll = min(h.Lease.TTL/4, time.Second)
	}
	if h.MaxInstances <= 0 {
		h.MaxInstances = DefaultMaxInstances
	}
	return h, nil
}

// memberName is the membership lease of slot i; '~' keeps it apart from
// pipeline names.
func memberName(i int) string { return "~member-" + strconv.Itoa(i) }

// owner is the supervisor's side of HA: the lockers, the membership and
// the loop that hands leases to the units.
type owner struct {
	s    *Supervisor
	opts HA

	mu      sync.Mutex
	lockers map[string]lease.Locker // by lease URL
	member  lease.Lease
	slot    int
	joined  time.Time
	live    []string             // instances holding a membership lease
	free    map[string]time.Time // pipeline → first seen without an owner
	uneven  time.Time            // since when the spread has been uneven
	// handedOff: pipeline → when this instance handed it off.
	handedOff map[string]time.Time
	closed    bool

	stop context.CancelFunc
	done chan struct{}
}

func newOwner(s *Supervisor, opts HA) *owner {
	ctx, cancel := context.WithCancel(context.Background())
	o := &owner{s: s, opts: opts, lockers: map[string]lease.Locker{}, free: map[string]time.Time{},
		handedOff: map[string]time.Time{}, stop: cancel, done: make(chan struct{})}
	go o.loop(ctx)
	return o
}

// Instance is the name this instance holds leases under.
func (o *owner) instance() string { return o.opts.Lease.Owner }

// lockURL is the lease URL of a pipeline.
func (o *owner) lockURL(source string) (string, error) {
	if o.opts.Coordinator != config.Source {
		return o.opts.Coordinator, nil
	}
	return sqllease.SourceURL(source)
}

// locker returns the (shared) locker of a lease URL.
func (o *owner) locker(ctx context.Context, raw string) (lease.Locker, error) {
	o.mu.Lock()
	if l, ok := o.lockers[raw]; ok {
		o.mu.Unlock()
		return l, nil
	}
	o.mu.Unlock()
	opts := o.opts.Lease
	opts.Logger = o.s.log
	l, err := lease.Open(ctx, o.opts.Leases, raw, opts)
	if err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if prev, ok := o.lockers[raw]; ok || o.closed {
		l.Close()
		if o.closed {
			return nil, errors.New("ha: closed")
		}
		return prev, nil
	}
	o.lockers[raw] = l
	return l, nil
}

// close stops the loop and releases every lease (the units have stopped).
func (o *owner) close() {
	o.stop()
	<-o.done
	o.mu.Lock()
	o.closed = true
	ls := o.lockers
	o.lockers = map[string]lease.Locker{}
	o.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

func (o *owner) loop(ctx context.Context) {
	defer close(o.done)
	t := time.NewTicker(o.opts.Poll)
	defer t.Stop()
	for {
		o.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// membershipURL is where the membership leases live: the coordinator, or
// the first pipeline's source.
func (o *owner) membershipURL(units []*unit) (string, bool) {
	if o.opts.Coordinator != config.Source {
		return o.opts.Coordinator, true
	}
	for _, u := range units {
		if raw, err := o.lockURL(u.cfg.Source); err == nil {
			return raw, true
		}
	}
	return "", false
}

// join holds a membership lease, taking the first free slot.
func (o *owner) join(ctx context.Context, l lease.Locker) {
	o.mu.Lock()
	m := o.member
	o.mu.Unlock()
	if m != nil {
		select {
		case <-m.Lost():
			o.s.log.Warn("ha: membership lease lost", "instance", o.instance(), "err", m.Err())
		default:
			return
		}
	}
	for i := 0; i < o.opts.MaxInstances && ctx.Err() == nil; i++ {
		got, err := l.TryAcquire(ctx, memberName(i))
		if err != nil {
			if !errors.Is(err, lease.ErrHeld) {
				o.s.log.Warn("ha: cannot join", "instance", o.instance(), "err", address.RedactError(err, o.opts.Coordinator).Error())
				return
			}
			continue
		}
		o.mu.Lock()
		o.member, o.slot = got, i
		if o.joined.IsZero() {
			o.joined = time.Now()
		}
		o.mu.Unlock()
		o.s.log.Info("ha: joined", "instance", o.instance(), "slot", i)
		return
	}
}

// members returns the live instances: the holders of the membership
// leases.
func (o *owner) members(ctx context.Context, l lease.Locker) []string {
	var live []string
	for i := 0; i < o.opts.MaxInstances; i++ {
		who, err := l.Holder(ctx, memberName(i))
		if err == nil && who != "" {
			live = append(live, who)
		}
	}
	sort.Strings(live)
	return live
}

// round is one look at the pipelines: membership, owners, at most one
// lease taken, and at most one pipeline handed off to even the spread.
func (o *owner) round(ctx context.Context) {
	units := o.s.ordered()
	rctx, cancel := context.WithTimeout(ctx, max(o.opts.Lease.TTL, 5*time.Second))
	defer cancel()
	if raw, ok := o.membershipURL(units); ok {
		if ml, err := o.locker(rctx, raw); err != nil {
			o.s.log.Warn("ha: coordinator", "err", address.RedactError(err, raw).Error())
		} else {
			o.join(rctx, ml)
			live := o.members(rctx, ml)
			o.mu.Lock()
			o.live = live
			o.mu.Unlock()
			o.s.opts.Metrics.SetInstances(len(live))
		}
	}
	o.mu.Lock()
	liveNames := slices.Clone(o.live)
	slot, joined := o.slot, o.joined
	o.mu.Unlock()
	live := max(len(liveNames), 1)
	self := o.instance()

	// Who holds each pipeline, by the coordinator (this instance's own
	// from its units).
	type look struct {
		u      *unit
		locker lease.Locker
		raw    string
		who    string
		known  bool
	}
	looks := make([]look, len(units))
	wanting, held := 0, 0
	count := map[string]int{}
	for _, n := range liveNames {
		count[n] = 0
	}
	namesKnown := true // every holder is a live instance's name
	for i, u := range units {
		looks[i].u = u
		if !u.isPaused() {
			wanting++
		}
		raw, err := o.lockURL(u.cfg.Source)
		if err != nil {
			u.setOwner("")
			continue
		}
		l, err := o.locker(rctx, raw)
		if err != nil {
			continue
		}
		looks[i].locker, looks[i].raw = l, raw
		if u.holds() {
			held++
			count[self]++
			continue
		}
		who, err := l.Holder(rctx, u.cfg.Name)
		if err != nil {
			continue
		}
		looks[i].who, looks[i].known = who, true
		u.setOwner(who)
		if who != "" {
			if _, ok := count[who]; !ok {
				namesKnown = false
			}
			count[who]++
		}
	}
	floor := wanting / live
	now := time.Now()
	eligible := !joined.IsZero() && now.Sub(joined) >= o.opts.SpreadDelay

	took := false
	n := len(units)
	start := 0
	if n > 0 {
		start = slot % n
	}
	for k := range n {
		lk := looks[(start+k)%n]
		u := lk.u
		if !lk.known {
			continue
		}
		o.mu.Lock()
		if lk.who != "" {
			delete(o.free, u.cfg.Name)
		} else if _, ok := o.free[u.cfg.Name]; !ok {
			o.free[u.cfg.Name] = now
		}
		// The clock of a free pipeline starts when it was first seen
		// free, and no earlier than when this instance may take any
		// (else every pipeline would count as long free at startup).
		freeFor := now.Sub(o.free[u.cfg.Name])
		if !joined.IsZero() {
			freeFor = min(freeFor, now.Sub(joined.Add(o.opts.SpreadDelay)))
		}
		handedOff := now.Sub(o.handedOff[u.cfg.Name]) < o.opts.SpreadDelay
		o.mu.Unlock()
		if lk.who != "" || took || !u.standingBy() || !eligible {
			continue
		}
		switch {
		case handedOff && freeFor < o.opts.SpreadDelay:
			continue // let the instance it was handed off to take it
		case held < floor:
		case freeFor >= o.opts.SpreadDelay/2:
		default:
			continue
		}
		got, err := lk.locker.TryAcquire(rctx, u.cfg.Name)
		if err != nil {
			if !errors.Is(err, lease.ErrHeld) {
				u.log.Warn("ha: cannot take the lease", "err", address.RedactError(err, lk.raw).Error())
			}
			continue
		}
		took = true
		// Logged before the pipeline can start: a test orders the
		// deliveries of each holder by this line.
		u.log.Info("ha: lease acquired", "instance", self, "token", got.Fence().Token, "free_for", freeFor.Round(time.Millisecond).String(),
			"held", held+1, "live", live)
		if !u.offer(got) {
			u.log.Info("ha: lease released at once: the pipeline no longer waits for it", "instance", self)
			got.Release(rctx)
			continue
		}
		held++
		count[self]++
		o.mu.Lock()
		delete(o.free, u.cfg.Name)
		o.mu.Unlock()
	}
	o.rebalance(units, count, namesKnown && eligible && !took, now)
}

// rebalance hands one pipeline off when the spread is uneven — some live
// instance owns two or more pipelines fewer than this one, which owns
// the most (the greatest name among those that do, so that one instance
// acts) — for SpreadDelay in a row. The pipeline stops cleanly (its
// position saved), its lease is released, and this instance does not
// take it back for SpreadDelay. Holders' names must be the instances'
// (not MySQL's connection names) for the counts to mean anything.
func (o *owner) rebalance(units []*unit, count map[string]int, ok bool, now time.Time) {
	self := o.instance()
	most, fewest := self, self
	for name, c := range count {
		if c > count[most] || c == count[most] && name > most {
			most = name
		}
		if c < count[fewest] {
			fewest = name
		}
	}
	uneven := ok && most == self && count[self]-count[fewest] >= 2
	o.mu.Lock()
	defer o.mu.Unlock()
	if !uneven {
		o.uneven = time.Time{}
		return
	}
	if o.uneven.IsZero() {
		o.uneven = now
	}
	if now.Sub(o.uneven) < o.opts.SpreadDelay {
		return
	}
	for i := len(units) - 1; i >= 0; i-- {
		u := units[i]
		if u.holds() && u.handOff() {
			o.uneven = time.Time{}
			o.handedOff[u.cfg.Name] = now
			u.log.Info("ha: handing the pipeline off to even the spread", "instance", self, "owned", count[self], "fewest", fewest, "its", count[fewest])
			return
		}
	}
}

// standbys are the live instances other than who.
func (o *owner) standbys(who string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := []string{}
	for _, n := range o.live {
		if n != who {
			out = append(out, n)
		}
	}
	return out
}

// ownership is a unit's ownership for its metrics.
func ownership(who string, l lease.Lease, self string) *metrics.Ownership {
	m := &metrics.Ownership{Owner: who}
	if l != nil {
		m.Owned, m.Owner, m.Expires = true, self, l.Expires()
	}
	return m
}
