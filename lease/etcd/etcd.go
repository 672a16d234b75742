// Package etcd holds leases in etcd, as concurrency.Election does:
//
//	etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX[?timeout=5s&tls=…]
//
// Each Acquire grants an etcd lease of the TTL (whole seconds; the server
// raises a TTL below its minimum, about 2 s by default), opens a
// concurrency.Session on it and campaigns in the election
// PREFIX/leases/NAME with the owner as its value. The holder is the key
// of that prefix with the smallest create revision; the fencing token is
// that revision, which etcd never hands out twice. The lease is renewed
// every TTL/3 (KeepAliveOnce, whose send time feeds the validity clock;
// the session keeps it alive too), and is lost when a renewal says the
// lease is gone, when the election key is deleted, or when no renewal was
// confirmed for TTL − StopMargin.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/etcdconn"
	"github.com/sluice-cdc/sluice/lease"
)

// Locker acquires leases in etcd.
type Locker struct {
	c    *clientv3.Client
	cfg  etcdconn.Config
	opts lease.Options

	mu     sync.Mutex
	leases map[*Lease]bool
	closed bool
}

// Open connects to the cluster an etcd:// URL names. opts must have its
// defaults (lease.Options.WithDefaults; lease.Open does it).
func Open(ctx context.Context, u *url.URL, opts lease.Options) (*Locker, error) {
	cfg, err := etcdconn.Parse(u, address.NewParams(u))
	if err != nil {
		return nil, err
	}
	c, err := etcdconn.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Locker{c: c, cfg: cfg, opts: opts, leases: map[*Lease]bool{}}, nil
}

func (l *Locker) prefix(name string) string { return l.cfg.Prefix + "/leases/" + name }

// Acquire campaigns for name until it wins or ctx ends.
func (l *Locker) Acquire(ctx context.Context, name string) (lease.Lease, error) {
	return l.acquire(ctx, name, false)
}

// TryAcquire takes name if no one holds it or waits for it.
func (l *Locker) TryAcquire(ctx context.Context, name string) (lease.Lease, error) {
	return l.acquire(ctx, name, true)
}

func (l *Locker) acquire(ctx context.Context, name string, try bool) (lease.Lease, error) {
	ttl := int64(math.Ceil(l.opts.TTL.Seconds()))
	sent := time.Now()
	gctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	grant, err := l.c.Grant(gctx, ttl)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcd: lease %q: grant: %w", name, err)
	}
	lctx, stop := context.WithCancel(context.Background())
	ls := &Lease{
		l: l, name: name, id: grant.ID, stop: stop,
		ttl:      time.Duration(grant.TTL) * time.Second,
		Validity: lease.NewValidity(sent, time.Duration(grant.TTL)*time.Second, l.opts.StopMargin),
	}
	fail := func(err error) (lease.Lease, error) {
		ls.close(context.Background(), lease.ErrReleased)
		return nil, err
	}
	ls.session, err = concurrency.NewSession(l.c, concurrency.WithLease(grant.ID), concurrency.WithContext(lctx))
	if err != nil {
		return fail(fmt.Errorf("etcd: lease %q: session: %w", name, err))
	}
	go ls.renew(lctx)
	pfx := l.prefix(name)
	if try {
		ls.election, err = l.tryCampaign(ctx, ls.session, pfx)
	} else {
		ls.election = concurrency.NewElection(ls.session, pfx)
		err = ls.election.Campaign(ctx, l.opts.Owner)
	}
	if err != nil {
		return fail(fmt.Errorf("etcd: lease %q: %w", name, err))
	}
	// Campaign returns once the keys before ours are gone; ours may have
	// gone with our etcd lease meanwhile.
	gctx, cancel = context.WithTimeout(ctx, l.cfg.Timeout)
	resp, err := l.c.Get(gctx, ls.election.Key())
	cancel()
	if err != nil {
		return fail(fmt.Errorf("etcd: lease %q: %w", name, err))
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != ls.election.Rev() || clientv3.LeaseID(resp.Kvs[0].Lease) != grant.ID {
		return fail(fmt.Errorf("etcd: lease %q: %w: the election key went while waiting", name, lease.ErrRevoked))
	}
	if !ls.Valid() {
		return fail(fmt.Errorf("etcd: lease %q: %w", name, ls.Err()))
	}
	ls.fence = checkpoint.Fence{Token: uint64(ls.election.Rev()), Owner: l.opts.Owner}
	go ls.watch(lctx, resp.Header.Revision)
	go func() {
		select {
		case <-ls.session.Done():
			ls.Lose(fmt.Errorf("%w: the etcd lease's keepalive ended", lease.ErrRevoked))
		case <-ls.Lost():
		case <-lctx.Done():
			return
		}
		// A lease lost on this side must not live on in etcd (the
		// session would keep it alive once the network is back).
		ls.close(context.Background(), nil)
	}()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fail(errors.New("etcd: lease: the locker is closed"))
	}
	l.leases[ls] = true
	l.mu.Unlock()
	return ls, nil
}

// tryCampaign puts the session's key under pfx as Campaign does and wins
// only if no key has a smaller create revision; otherwise it takes the
// key away and reports the holder.
func (l *Locker) tryCampaign(ctx context.Context, s *concurrency.Session, pfx string) (*concurrency.Election, error) {
	key := fmt.Sprintf("%s/%x", pfx, s.Lease())
	cctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	put, err := l.c.Txn(cctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, l.opts.Owner, clientv3.WithLease(s.Lease()))).Commit()
	if err != nil {
		return nil, err
	}
	rev := put.Header.Revision
	first, err := l.c.Get(cctx, pfx+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return nil, err
	}
	if len(first.Kvs) > 0 && string(first.Kvs[0].Key) != key {
		l.c.Delete(cctx, key)
		return nil, fmt.Errorf("%w: %s", lease.ErrHeld, first.Kvs[0].Value)
	}
	return concurrency.ResumeElection(s, pfx, key, rev), nil
}

// Holder returns the value (owner) of the election's first key.
func (l *Locker) Holder(ctx context.Context, name string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	resp, err := l.c.Get(cctx, l.prefix(name)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return "", fmt.Errorf("etcd: holder of %q: %w", name, err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// Close releases every lease still held and closes the connection.
func (l *Locker) Close() error {
	l.mu.Lock()
	l.closed = true
	held := make([]*Lease, 0, len(l.leases))
	for ls := range l.leases {
		held = append(held, ls)
	}
	l.mu.Unlock()
	for _, ls := range held {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
		ls.Release(ctx)
		cancel()
	}
	return l.c.Close()
}

// Lease is a won etcd election.
type Lease struct {
	*lease.Validity
	l        *Locker
	name     string
	id       clientv3.LeaseID
	ttl      time.Duration
	session  *concurrency.Session
	election *concurrency.Election
	fence    checkpoint.Fence
	stop     context.CancelFunc
	once     sync.Once
}

// Name is the name held.
func (ls *Lease) Name() string { return ls.name }

// Fence is the owner and the election key's create revision.
func (ls *Lease) Fence() checkpoint.Fence { return ls.fence }

// Key is the election key in etcd.
func (ls *Lease) Key() string { return ls.election.Key() }

// renew sends KeepAliveOnce every TTL/3 and feeds confirmed renewals to
// the validity clock.
func (ls *Lease) renew(ctx context.Context) {
	every := ls.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		// A late answer still renews as of the send time: wait for it
		// up to the TTL.
		rctx, cancel := context.WithTimeout(ctx, ls.ttl)
		resp, err := ls.l.c.KeepAliveOnce(rctx, ls.id)
		cancel()
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			ls.Lose(fmt.Errorf("%w: etcd lease %x not found", lease.ErrRevoked, ls.id))
			return
		case err != nil:
			if ctx.Err() == nil {
				ls.l.opts.Logger.Warn("lease renewal failed", "name", ls.name, "error", err)
			}
		case resp.TTL <= 0:
			ls.Lose(fmt.Errorf("%w: etcd lease %x expired", lease.ErrRevoked, ls.id))
			return
		default:
			ls.Renewed(sent, time.Duration(resp.TTL)*time.Second)
		}
	}
}

// watch loses the lease when its election key is deleted.
func (ls *Lease) watch(ctx context.Context, rev int64) {
	for wr := range ls.l.c.Watch(ctx, ls.election.Key(), clientv3.WithRev(rev+1)) {
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				ls.Lose(fmt.Errorf("%w: election key %s deleted", lease.ErrRevoked, ls.election.Key()))
				return
			}
		}
	}
}

// Release revokes the etcd lease, which deletes the election key at once.
func (ls *Lease) Release(ctx context.Context) error {
	return ls.close(ctx, lease.ErrReleased)
}

// close loses the lease with why (nil: already lost), stops renewing and
// revokes the etcd lease.
func (ls *Lease) close(ctx context.Context, why error) error {
	var err error
	ls.once.Do(func() {
		if why != nil {
			ls.Lose(why)
		}
		ls.stop()
		cctx, cancel := context.WithTimeout(ctx, ls.l.cfg.Timeout)
		defer cancel()
		if _, rerr := ls.l.c.Revoke(cctx, ls.id); rerr != nil && !errors.Is(rerr, rpctypes.ErrLeaseNotFound) {
			err = fmt.Errorf("etcd: release %q: %w", ls.name, rerr)
		}
		ls.l.mu.Lock()
		delete(ls.l.leases, ls)
		ls.l.mu.Unlock()
	})
	return err
}
