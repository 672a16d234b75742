// Package lease is the primitive of Sluice's high availability: an
// exclusive, time-bounded hold on a name (a pipeline), taken through a
// coordinator that already exists — etcd, ZooKeeper, or the source
// database's own lock — never a consensus protocol of Sluice's own.
//
// A Locker acquires Leases for one owner (an instance). A Lease carries a
// fencing token, greater than every earlier holder's token for the same
// name, which binds the owner's checkpoint saves (checkpoint.Fencer) so
// that a deposed owner can never overwrite a newer checkpoint, and a Lost
// channel that closes when the owner must stop.
//
// # TTL and stop margin
//
// Every lease lives on the coordinator for TTL after its holder's last
// renewal reached it; the holder renews it every TTL/3. The coordinator
// frees the name TTL after the holder falls silent (a crash, a partition,
// a stopped process) and only then can another instance acquire it, so a
// standby takes over within about TTL plus its own acquisition.
//
// The holder cannot see the coordinator's clock, so it counts from its own
// side: a renewal the coordinator confirmed proves the lease valid until
// the moment the renewal was sent plus TTL (the coordinator restarted its
// countdown after that moment). Lost closes StopMargin before that point
// when no later renewal has been confirmed — or at once when the
// coordinator reports the lease gone. A holder that stops delivering when
// Lost closes has therefore stopped at least StopMargin before any other
// instance can hold the lease, whatever the network does; StopMargin is
// the time it has to stop (cancel a write in flight, let a last save
// fail) and the allowance for the two clocks' drift during one TTL. What
// still slips through — a save issued just before Lost and delayed in the
// network — is refused by the fence.
//
// Defaults: TTL 10 s, StopMargin 2 s, renewals every TTL/3. So a holder
// that loses its coordinator stops 8 s after its last confirmed renewal
// at the latest (and two renewals in a row must fail first), and a
// standby takes over 10 s after the holder's last renewal plus the time
// to notice (etcd: a watch, at once; ZooKeeper: a watch, at once; the SQL
// locks: a poll every TTL/4, then TTL/3 + StopMargin of settling, see
// lease/sql).
//
// What frees the name per coordinator:
//   - etcd: the etcd lease expires (TTL, whole seconds, at least the
//     server's minimum, about 2 s by default) and deletes the election
//     key (the keys and algorithm of etcd's concurrency.Election).
//   - ZooKeeper: the session expires (session timeout = TTL, within the
//     server's minSessionTimeout..maxSessionTimeout) and deletes the
//     ephemeral sequential node.
//   - PostgreSQL: pg_try_advisory_lock on a connection of its own whose
//     idle_session_timeout is TTL (PostgreSQL 14 or later): a holder that
//     stops renewing (a SELECT every TTL/3) is disconnected by the server,
//     which releases the lock.
//   - MySQL and MariaDB: GET_LOCK on a connection of its own whose
//     wait_timeout is TTL (whole seconds): the same.
//
// A process that is paused (SIGSTOP, a long GC pause, a frozen VM) does
// not renew; its Lost closes when it runs again, too late to stop what it
// was doing before the pause — that is what the fence is for.
package lease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
)

// Defaults of Options.
const (
	DefaultTTL        = 10 * time.Second
	DefaultStopMargin = 2 * time.Second
)

// Errors a lease reports (wrapped).
var (
	// ErrHeld: TryAcquire found the name held by another owner.
	ErrHeld = errors.New("held by another owner")
	// ErrReleased: Lost closed because Release was called.
	ErrReleased = errors.New("lease released")
	// ErrExpired: Lost closed because no renewal was confirmed in time.
	ErrExpired = errors.New("lease not renewed in time")
	// ErrRevoked: Lost closed because the coordinator said the lease is
	// gone (expired session, deleted key or node, closed connection).
	ErrRevoked = errors.New("lease revoked by the coordinator")
)

// Lease is one holder's exclusive hold on a name. Its methods are safe for
// concurrent use.
type Lease interface {
	// Name is the name held.
	Name() string
	// Fence is the owner and fencing token of this hold: Token is greater
	// than the token of every earlier holder of Name, and binds the
	// owner's checkpoint (checkpoint.Fencer.Fence).
	Fence() checkpoint.Fence
	// Lost is closed when the holder must stop acting as the owner: at
	// Expires − StopMargin when no renewal was confirmed meanwhile, at
	// once when the coordinator reports the lease gone, or on Release.
	Lost() <-chan struct{}
	// Err says why Lost closed (ErrExpired, ErrRevoked, ErrReleased,
	// wrapped); nil while the lease holds.
	Err() error
	// Expires is when the lease ends on the coordinator at the earliest,
	// by the local clock: the send time of the last confirmed renewal
	// plus TTL.
	Expires() time.Time
	// Release gives the name up at once, so that a standby need not wait
	// for the TTL, and closes Lost.
	Release(ctx context.Context) error
}

// Locker acquires leases on one coordinator for one owner. Its methods
// are safe for concurrent use.
type Locker interface {
	// Acquire waits until it holds name, or ctx ends.
	Acquire(ctx context.Context, name string) (Lease, error)
	// TryAcquire takes name if nobody holds it, and otherwise returns at
	// once an error wrapping ErrHeld.
	TryAcquire(ctx context.Context, name string) (Lease, error)
	// Holder returns the owner holding name, "" when nobody does. (MySQL
	// knows only the holding connection: "connection N from HOST".)
	Holder(ctx context.Context, name string) (string, error)
	// Close releases every lease still held and the connections.
	Close() error
}

// Options configure a Locker.
type Options struct {
	// Owner names this instance in fences and Holder answers; empty means
	// HOSTNAME:PID.
	Owner string
	// TTL is how long the coordinator keeps a lease whose holder fell
	// silent (DefaultTTL when 0). Coordinators with whole seconds round it
	// up.
	TTL time.Duration
	// StopMargin is how long before the earliest possible expiry Lost
	// closes (DefaultStopMargin when 0); at most TTL/2.
	StopMargin time.Duration
	// Logger receives notes (renewals that failed); nil discards them.
	Logger *slog.Logger
}

// WithDefaults returns o with its zero fields set, or an error for a
// StopMargin the TTL cannot hold.
func (o Options) WithDefaults() (Options, error) {
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = host + ":" + strconv.Itoa(os.Getpid())
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.StopMargin == 0 {
		o.StopMargin = min(DefaultStopMargin, o.TTL/4)
	}
	if o.TTL < 0 || o.StopMargin < 0 || o.StopMargin > o.TTL/2 {
		return o, fmt.Errorf("lease TTL %s and stop margin %s: want a positive TTL and a margin of at most TTL/2", o.TTL, o.StopMargin)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o, nil
}

// RenewEvery is how often a holder renews: TTL/3.
func (o Options) RenewEvery() time.Duration { return o.TTL / 3 }

// Opener opens the Locker a URL names. Its errors need not repeat the
// URL: Open adds it, redacted.
type Opener func(ctx context.Context, u *url.URL, opts Options) (Locker, error)

// Registry maps URL schemes to Openers. Package leases registers the
// coordinators Sluice ships.
type Registry = address.Registry[Opener]

// NewRegistry returns an empty lease Registry.
func NewRegistry() *Registry { return address.NewRegistry[Opener]("lease coordinator") }

// Open opens the Locker raw names, looked up in r. Errors name the
// address with its secrets masked.
func Open(ctx context.Context, r *Registry, raw string, opts Options) (Locker, error) {
	u, open, err := r.Lookup(raw)
	if err != nil {
		return nil, err
	}
	opts, err = opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	l, err := open(ctx, u, opts)
	if err != nil {
		return nil, r.Wrap(raw, err)
	}
	return l, nil
}

// Validity is the holder's side of a lease: when it is known valid until,
// and the Lost channel. Lockers embed it in their leases: they call
// Renewed with the send time of every renewal the coordinator confirmed,
// and Lose when the coordinator reports the lease gone.
type Validity struct {
	ttl, margin time.Duration

	mu      sync.Mutex
	expires time.Time
	timer   *time.Timer
	lost    chan struct{}
	err     error
}

// NewValidity starts the clock of a lease acquired by a request sent at
// sent: valid until sent + ttl unless renewed.
func NewValidity(sent time.Time, ttl, margin time.Duration) *Validity {
	v := &Validity{ttl: ttl, margin: margin, lost: make(chan struct{})}
	v.expires = sent.Add(ttl)
	v.timer = time.AfterFunc(time.Until(v.expires.Add(-margin)), v.expire)
	return v
}

func (v *Validity) expire() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return
	}
	if d := time.Until(v.expires.Add(-v.margin)); d > 0 {
		v.timer.Reset(d) // renewed since the timer was set
		return
	}
	v.err = fmt.Errorf("%w: the last confirmed renewal lets it expire at %s (stop margin %s)",
		ErrExpired, v.expires.Format("15:04:05.000"), v.margin)
	close(v.lost)
}

// Renewed records a renewal sent at sent that the coordinator confirmed,
// with the coordinator's TTL (0: the lease's).
func (v *Validity) Renewed(sent time.Time, ttl time.Duration) {
	if ttl <= 0 {
		ttl = v.ttl
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return
	}
	if e := sent.Add(ttl); e.After(v.expires) {
		v.expires = e
	}
}

// Lose closes Lost with err (the first call wins).
func (v *Validity) Lose(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return
	}
	v.err = err
	v.timer.Stop()
	close(v.lost)
}

// Lost is closed when the lease is lost.
func (v *Validity) Lost() <-chan struct{} { return v.lost }

// Err says why Lost closed; nil before.
func (v *Validity) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Expires is the earliest expiry on the coordinator, by the local clock.
func (v *Validity) Expires() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.expires
}

// Valid reports whether Lost is still open.
func (v *Validity) Valid() bool {
	select {
	case <-v.lost:
		return false
	default:
		return true
	}
}
