// Package zookeeper holds leases in ZooKeeper with the lock recipe of
// ephemeral sequential nodes:
//
//	zk://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PATH[?timeout=5s]
//
// A Locker opens one ZooKeeper session whose timeout is the TTL (the
// server clamps it to its minSessionTimeout..maxSessionTimeout; the URL's
// session-timeout is ignored). Acquire creates an ephemeral sequential
// node PATH/leases/NAME/…lock-N holding the owner's name (with the
// client's protected prefix, so a create retried after a lost answer is
// found again) and holds the lease while its node has the smallest
// sequence number, waiting on a watch of the node before its own
// otherwise. The fencing token is the node's creation zxid, which grows
// with every write to the ensemble.
//
// The session is the lease: ZooKeeper deletes the node when the session
// expires, TTL after the last message from the client. The Locker proves
// the session alive every TTL/3 (an exists request, whose send time feeds
// every lease's validity clock); a lease is lost when its node is
// deleted, when the session expires, or when no proof came back for
// TTL − StopMargin.
package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/zkconn"
	"github.com/sluice-cdc/sluice/lease"
)

// Locker acquires leases in ZooKeeper on one session.
type Locker struct {
	conn *zk.Conn
	cfg  zkconn.Config
	opts lease.Options
	stop context.CancelFunc
	done chan struct{}

	mu     sync.Mutex
	leases map[*Lease]bool
	closed bool
}

// Open connects to the ensemble a zk:// URL names. opts must have its
// defaults (lease.Options.WithDefaults; lease.Open does it).
func Open(ctx context.Context, u *url.URL, opts lease.Options) (*Locker, error) {
	cfg, err := zkconn.Parse(u, address.NewParams(u))
	if err != nil {
		return nil, err
	}
	cfg.SessionTimeout = opts.TTL
	l := &Locker{cfg: cfg, opts: opts, leases: map[*Lease]bool{}, done: make(chan struct{})}
	l.conn, err = zkconn.Connect(ctx, cfg, l.event)
	if err != nil {
		return nil, err
	}
	if err := zkconn.EnsurePath(ctx, l.conn, cfg.Timeout, cfg.Path+"/leases", cfg.ACL()); err != nil {
		l.conn.Close()
		return nil, fmt.Errorf("create %s/leases: %w", cfg.Path, err)
	}
	pctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	go l.prove(pctx)
	return l, nil
}

// event loses every lease of a session that expired.
func (l *Locker) event(ev zk.Event) {
	if ev.Type == zk.EventSession && ev.State == zk.StateExpired {
		l.each(func(ls *Lease) {
			ls.Lose(fmt.Errorf("%w: ZooKeeper session expired", lease.ErrRevoked))
		})
	}
}

func (l *Locker) each(f func(*Lease)) {
	l.mu.Lock()
	held := make([]*Lease, 0, len(l.leases))
	for ls := range l.leases {
		held = append(held, ls)
	}
	l.mu.Unlock()
	for _, ls := range held {
		f(ls)
	}
}

// prove sends an exists request every TTL/3; an answer proves the session
// alive as of the request's send time, for the leases of that session.
func (l *Locker) prove(ctx context.Context) {
	defer close(l.done)
	every := l.opts.RenewEvery()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		session := l.conn.SessionID()
		sent := time.Now()
		// A late answer still proves the session alive as of the send
		// time: wait for it up to the TTL.
		err := zkconn.Do(ctx, l.opts.TTL, func() error {
			_, _, err := l.conn.Exists(l.cfg.Path)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				l.opts.Logger.Warn("ZooKeeper session proof failed", "error", err)
			}
			continue
		}
		l.each(func(ls *Lease) {
			if ls.session == session && l.conn.SessionID() == session {
				ls.Renewed(sent, 0)
			} else {
				ls.Lose(fmt.Errorf("%w: ZooKeeper session %x ended", lease.ErrRevoked, ls.session))
			}
		})
	}
}

func (l *Locker) dir(name string) string { return l.cfg.Path + "/leases/" + zkconn.EscapeName(name) }

// Acquire waits until this owner's node is the first of name's.
func (l *Locker) Acquire(ctx context.Context, name string) (lease.Lease, error) {
	return l.acquire(ctx, name, false)
}

// TryAcquire takes name if no node comes before this owner's.
func (l *Locker) TryAcquire(ctx context.Context, name string) (lease.Lease, error) {
	return l.acquire(ctx, name, true)
}

func (l *Locker) do(ctx context.Context, f func() error) error {
	return zkconn.Do(ctx, l.cfg.Timeout, f)
}

func (l *Locker) acquire(ctx context.Context, name string, try bool) (lease.Lease, error) {
	dir := l.dir(name)
	if err := zkconn.EnsurePath(ctx, l.conn, l.cfg.Timeout, dir, l.cfg.ACL()); err != nil {
		return nil, fmt.Errorf("zookeeper: lease %q: %w", name, err)
	}
	session := l.conn.SessionID()
	sent := time.Now()
	node, err := zkconn.Call(ctx, l.cfg.Timeout, func() (string, error) {
		return l.conn.CreateProtectedEphemeralSequential(dir+"/lock-", []byte(l.opts.Owner), l.cfg.ACL())
	})
	if err != nil {
		return nil, fmt.Errorf("zookeeper: lease %q: create node: %w", name, err)
	}
	ls := &Lease{
		l: l, name: name, node: node, session: session,
		Validity: lease.NewValidity(sent, l.opts.TTL, l.opts.StopMargin),
	}
	fail := func(err error) (lease.Lease, error) {
		ls.close(context.Background(), lease.ErrReleased)
		return nil, fmt.Errorf("zookeeper: lease %q: %w", name, err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fail(errors.New("the locker is closed"))
	}
	l.leases[ls] = true
	l.mu.Unlock()
	stat, err := zkconn.Call(ctx, l.cfg.Timeout, func() (*zk.Stat, error) {
		_, st, err := l.conn.Get(node)
		return st, err
	})
	if err != nil {
		return fail(err)
	}
	ls.fence = checkpoint.Fence{Token: uint64(stat.Czxid), Owner: l.opts.Owner}
	mine := node[strings.LastIndex(node, "/")+1:]
	for {
		children, err := l.children(ctx, dir)
		if err != nil {
			return fail(err)
		}
		sortBySequence(children)
		i := indexOf(children, mine)
		if i < 0 {
			return fail(fmt.Errorf("%w: node %s is gone", lease.ErrRevoked, node))
		}
		if i == 0 {
			break
		}
		if try {
			holder, _ := l.data(ctx, dir+"/"+children[0])
			ls.close(ctx, lease.ErrReleased)
			return nil, fmt.Errorf("zookeeper: lease %q: %w: %s", name, lease.ErrHeld, holder)
		}
		exists, ch, err := l.existsW(ctx, dir+"/"+children[i-1])
		if err != nil {
			return fail(err)
		}
		if !exists {
			continue
		}
		select {
		case <-ch:
		case <-ls.Lost():
			return fail(ls.Err())
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
	if !ls.Valid() {
		return fail(ls.Err())
	}
	go ls.watch()
	go func() {
		<-ls.Lost()
		// A lease lost on this side (no proof in time) must not live on
		// in ZooKeeper when the session survives (a server that comes
		// back keeps it): delete the node, retrying until the server
		// answers, the session ends or the Locker closes.
		ls.close(context.Background(), nil)
	}()
	return ls, nil
}

// data returns a node's data as text.
func (l *Locker) data(ctx context.Context, node string) (string, error) {
	return zkconn.Call(ctx, l.cfg.Timeout, func() (string, error) {
		b, _, err := l.conn.Get(node)
		return string(b), err
	})
}

// children lists a node's children.
func (l *Locker) children(ctx context.Context, dir string) ([]string, error) {
	return zkconn.Call(ctx, l.cfg.Timeout, func() ([]string, error) {
		c, _, err := l.conn.Children(dir)
		return c, err
	})
}

// existsW reports whether node exists and sets a watch on it.
func (l *Locker) existsW(ctx context.Context, node string) (bool, <-chan zk.Event, error) {
	type got struct {
		ok bool
		ch <-chan zk.Event
	}
	g, err := zkconn.Call(ctx, l.cfg.Timeout, func() (got, error) {
		ok, _, ch, err := l.conn.ExistsW(node)
		return got{ok, ch}, err
	})
	return g.ok, g.ch, err
}

// sequence is the sequence number ZooKeeper appended to a node name.
func sequence(node string) string {
	if len(node) < 10 {
		return node
	}
	return node[len(node)-10:]
}

func sortBySequence(nodes []string) {
	sort.Slice(nodes, func(i, j int) bool { return sequence(nodes[i]) < sequence(nodes[j]) })
}

func indexOf(nodes []string, n string) int {
	for i, c := range nodes {
		if c == n {
			return i
		}
	}
	return -1
}

// Holder returns the data (owner) of name's first node.
func (l *Locker) Holder(ctx context.Context, name string) (string, error) {
	dir := l.dir(name)
	children, err := l.children(ctx, dir)
	if errors.Is(err, zk.ErrNoNode) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("zookeeper: holder of %q: %w", name, err)
	}
	if len(children) == 0 {
		return "", nil
	}
	sortBySequence(children)
	who, err := l.data(ctx, dir+"/"+children[0])
	if errors.Is(err, zk.ErrNoNode) {
		return l.Holder(ctx, name) // released meanwhile
	}
	if err != nil {
		return "", fmt.Errorf("zookeeper: holder of %q: %w", name, err)
	}
	return who, nil
}

// Close releases every lease still held and ends the session.
func (l *Locker) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.each(func(ls *Lease) {
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
		ls.Release(ctx)
		cancel()
	})
	l.stop()
	<-l.done
	l.conn.Close()
	return nil
}

// Lease is a held ZooKeeper lock node.
type Lease struct {
	*lease.Validity
	l       *Locker
	name    string
	node    string
	session int64
	fence   checkpoint.Fence
	once    sync.Once
}

// Name is the name held.
func (ls *Lease) Name() string { return ls.name }

// Fence is the owner and the lock node's creation zxid.
func (ls *Lease) Fence() checkpoint.Fence { return ls.fence }

// Node is the lock node's path.
func (ls *Lease) Node() string { return ls.node }

// watch loses the lease when its node is deleted or the watch ends with
// the session.
func (ls *Lease) watch() {
	for ls.Valid() {
		exists, ch, err := ls.l.existsW(context.Background(), ls.node)
		if err != nil {
			// No answer: the validity clock decides.
			select {
			case <-ls.Lost():
				return
			case <-time.After(ls.l.opts.RenewEvery()):
				continue
			}
		}
		if !exists {
			ls.Lose(fmt.Errorf("%w: lock node %s deleted", lease.ErrRevoked, ls.node))
			return
		}
		select {
		case ev := <-ch:
			if ev.Type == zk.EventNodeDeleted {
				ls.Lose(fmt.Errorf("%w: lock node %s deleted", lease.ErrRevoked, ls.node))
				return
			}
		case <-ls.Lost():
			return
		}
	}
}

// Release deletes the lock node, which frees the name at once.
func (ls *Lease) Release(ctx context.Context) error {
	return ls.close(ctx, lease.ErrReleased)
}

// close loses the lease with why (nil: already lost) and deletes its
// node, retrying while the session lives and the network does not answer
// (the session's end deletes the node anyway).
// Only the first call deletes; a later one (Release while the lost
// lease's own close is deleting, with ZooKeeper down) returns at once
// rather than wait for it.
func (ls *Lease) close(ctx context.Context, why error) error {
	first := false
	ls.once.Do(func() {
		first = true
		if why != nil {
			ls.Lose(why)
		}
		ls.l.mu.Lock()
		delete(ls.l.leases, ls)
		ls.l.mu.Unlock()
	})
	if !first {
		return nil
	}
	for {
		derr := ls.l.do(ctx, func() error { return ls.l.conn.Delete(ls.node, -1) })
		if derr == nil || errors.Is(derr, zk.ErrNoNode) || errors.Is(derr, zk.ErrConnectionClosed) ||
			errors.Is(derr, zk.ErrSessionExpired) || ls.l.conn.SessionID() != ls.session {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("zookeeper: release %q: %w", ls.name, derr)
		}
		select {
		case <-ctx.Done():
		case <-ls.l.done:
			return nil
		case <-time.After(ls.l.opts.RenewEvery()):
		}
	}
}
