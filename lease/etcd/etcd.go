// Package etcd holds leases in etcd with the election recipe of etcd's
// concurrency package (concurrency.Election), on the same keys, so that
// etcd's own tools (etcdctl elect --listen) see the holders:
//
//	etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX[?timeout=5s&tls=…]
//
// Each Acquire grants an etcd lease of the TTL (whole seconds; the server
// raises a TTL below its minimum, about 2 s by default) and puts the key
// PREFIX/leases/NAME/LEASE-ID (hex) on it with the owner as its value. The
// holder is the key of that prefix with the smallest create revision; a
// waiter watches the key created just before its own until it is deleted.
// The fencing token is the holder's create revision, which etcd never
// hands out twice. The lease is renewed every TTL/3 (a keepalive whose
// send time feeds the validity clock), and is lost when a renewal says the
// lease is gone, when the key is deleted, or when no renewal was
// confirmed for TTL − StopMargin. The package speaks etcd's JSON gateway
// (internal/etcdconn), so sluice links no gRPC.
package etcd

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/etcdconn"
	"github.com/sluice-cdc/sluice/lease"
)

// Locker acquires leases in etcd.
type Locker struct {
	c    *etcdconn.Client
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

func (l *Locker) prefix(name string) string { return l.cfg.Prefix + "/leases/" + name + "/" }

func (l *Locker) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.cfg.Timeout)
}

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
	gctx, cancel := l.rctx(ctx)
	id, granted, err := l.c.Grant(gctx, ttl)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcd: lease %q: grant: %w", name, err)
	}
	pfx := l.prefix(name)
	lctx, stop := context.WithCancel(context.Background())
	ls := &Lease{
		l: l, name: name, id: id, key: fmt.Sprintf("%s%x", pfx, id), stop: stop,
		ttl:      time.Duration(granted) * time.Second,
		Validity: lease.NewValidity(sent, time.Duration(granted)*time.Second, l.opts.StopMargin),
	}
	fail := func(err error) (lease.Lease, error) {
		ls.close(context.Background(), lease.ErrReleased)
		return nil, fmt.Errorf("etcd: lease %q: %w", name, err)
	}
	go ls.renew(lctx)
	// Put our key, as Campaign does.
	pctx, cancel := l.rctx(ctx)
	put, err := l.c.Txn(pctx, []etcdconn.Compare{etcdconn.CreateRevisionIs(ls.key, 0)},
		[]etcdconn.Op{{Put: &etcdconn.PutRequest{Key: []byte(ls.key), Value: []byte(l.opts.Owner), Lease: etcdconn.I64(id)}}}, nil)
	cancel()
	if err != nil {
		return fail(err)
	}
	if !put.Succeeded {
		return fail(fmt.Errorf("key %s exists already", ls.key))
	}
	ls.rev = int64(put.Header.Revision)
	// Wait until no key older than ours is left, as Campaign does.
	for {
		rctx, cancel := l.rctx(ctx)
		older, err := l.c.Range(rctx, etcdconn.RangeRequest{
			Key: []byte(pfx), RangeEnd: etcdconn.PrefixEnd(pfx),
			SortTarget: "CREATE", SortOrder: "DESCEND", Limit: 1, MaxCreateRevision: etcdconn.I64(ls.rev - 1),
		})
		cancel()
		if err != nil {
			return fail(err)
		}
		if len(older.KVs) == 0 {
			break
		}
		if try {
			holder, _ := l.Holder(ctx, name)
			ls.close(ctx, lease.ErrReleased)
			return nil, fmt.Errorf("etcd: lease %q: %w: %s", name, lease.ErrHeld, holder)
		}
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-ls.Lost():
			case <-wctx.Done():
			}
			cancel()
		}()
		err = l.c.WatchDelete(wctx, string(older.KVs[0].Key), int64(older.Header.Revision)+1)
		cancel()
		if err != nil && ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if !ls.Valid() {
			return fail(ls.Err())
		}
		// The watch ended (the key went, or the stream broke): look again.
	}
	// Our key may have gone with our etcd lease while we waited.
	rctx, cancel := l.rctx(ctx)
	mine, err := l.c.Range(rctx, etcdconn.RangeRequest{Key: []byte(ls.key)})
	cancel()
	if err != nil {
		return fail(err)
	}
	if len(mine.KVs) == 0 || int64(mine.KVs[0].CreateRevision) != ls.rev {
		return fail(fmt.Errorf("%w: the election key went while waiting", lease.ErrRevoked))
	}
	if !ls.Valid() {
		return fail(ls.Err())
	}
	ls.fence = checkpoint.Fence{Token: uint64(ls.rev), Owner: l.opts.Owner}
	go ls.watch(lctx, int64(mine.Header.Revision)+1)
	go func() {
		select {
		case <-ls.Lost():
			// A lease lost on this side must not live on in etcd.
			ls.close(context.Background(), nil)
		case <-lctx.Done():
		}
	}()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fail(fmt.Errorf("the locker is closed"))
	}
	l.leases[ls] = true
	l.mu.Unlock()
	return ls, nil
}

// Holder returns the value (owner) of the election's first key.
func (l *Locker) Holder(ctx context.Context, name string) (string, error) {
	pfx := l.prefix(name)
	rctx, cancel := l.rctx(ctx)
	defer cancel()
	resp, err := l.c.Range(rctx, etcdconn.RangeRequest{
		Key: []byte(pfx), RangeEnd: etcdconn.PrefixEnd(pfx), SortTarget: "CREATE", SortOrder: "ASCEND", Limit: 1,
	})
	if err != nil {
		return "", fmt.Errorf("etcd: holder of %q: %w", name, err)
	}
	if len(resp.KVs) == 0 {
		return "", nil
	}
	return string(resp.KVs[0].Value), nil
}

// Close releases every lease still held.
func (l *Locker) Close() error {
	l.mu.Lock()
	l.closed = true
	held := make([]*Lease, 0, len(l.leases))
	for ls := range l.leases {
		held = append(held, ls)
	}
	l.mu.Unlock()
	for _, ls := range held {
		ctx, cancel := l.rctx(context.Background())
		ls.Release(ctx)
		cancel()
	}
	return l.c.Close()
}

// Lease is a won etcd election.
type Lease struct {
	*lease.Validity
	l     *Locker
	name  string
	id    int64  // the etcd lease
	key   string // the election key
	rev   int64  // its create revision
	ttl   time.Duration
	fence checkpoint.Fence
	stop  context.CancelFunc
	once  sync.Once
}

// Name is the name held.
func (ls *Lease) Name() string { return ls.name }

// Fence is the owner and the election key's create revision.
func (ls *Lease) Fence() checkpoint.Fence { return ls.fence }

// Key is the election key in etcd.
func (ls *Lease) Key() string { return ls.key }

// renew sends a keepalive every TTL/3 and feeds confirmed renewals to the
// validity clock.
func (ls *Lease) renew(ctx context.Context) {
	t := time.NewTicker(ls.ttl / 3)
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
		ttl, err := ls.l.c.KeepAliveOnce(rctx, ls.id)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case etcdconn.IsLeaseNotFound(err) || (err == nil && ttl <= 0):
			ls.Lose(fmt.Errorf("%w: etcd lease %x expired", lease.ErrRevoked, ls.id))
			return
		case err != nil:
			ls.l.opts.Logger.Warn("lease renewal failed", "name", ls.name, "error", err)
		default:
			ls.Renewed(sent, time.Duration(ttl)*time.Second)
		}
	}
}

// watch loses the lease when its election key is deleted.
func (ls *Lease) watch(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		err := ls.l.c.WatchDelete(ctx, ls.key, rev)
		if err == nil {
			ls.Lose(fmt.Errorf("%w: election key %s deleted", lease.ErrRevoked, ls.key))
			return
		}
		// The stream broke: look at the key, then watch again.
		select {
		case <-ctx.Done():
			return
		case <-time.After(ls.ttl / 3):
		}
		rctx, cancel := context.WithTimeout(ctx, ls.ttl)
		resp, err := ls.l.c.Range(rctx, etcdconn.RangeRequest{Key: []byte(ls.key)})
		cancel()
		if err != nil {
			continue
		}
		if len(resp.KVs) == 0 || int64(resp.KVs[0].CreateRevision) != ls.rev {
			ls.Lose(fmt.Errorf("%w: election key %s deleted", lease.ErrRevoked, ls.key))
			return
		}
		rev = int64(resp.Header.Revision) + 1
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
		cctx, cancel := ls.l.rctx(ctx)
		defer cancel()
		if rerr := ls.l.c.Revoke(cctx, ls.id); rerr != nil && !etcdconn.IsLeaseNotFound(rerr) {
			err = fmt.Errorf("etcd: release %q: %w", ls.name, rerr)
		}
		ls.l.mu.Lock()
		delete(ls.l.leases, ls)
		ls.l.mu.Unlock()
	})
	return err
}
