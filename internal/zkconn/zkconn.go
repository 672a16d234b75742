// Package zkconn reads a zk:// address and connects to ZooKeeper, for the
// ZooKeeper checkpoint store and the ZooKeeper lease:
//
//	zk://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PATH[?PARAMETERS]
//
// Parameters: session-timeout (default 10s; the server clamps it to its
// minSessionTimeout..maxSessionTimeout), timeout (each request, default
// 5s). A user and password authenticate with ZooKeeper's digest scheme,
// and the nodes this connection creates are then readable and writable by
// that identity only (ACL auth); without them they are open to all
// (ACL world:anyone). ZooKeeper's Go client has no contexts: Do bounds a
// request by its context and the timeout.
package zkconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/sluice-cdc/sluice/address"
)

// Defaults of the parameters.
const (
	DefaultSessionTimeout = 10 * time.Second
	DefaultTimeout        = 5 * time.Second
)

// Config is what a zk:// URL says.
type Config struct {
	Servers        []string
	Path           string // the URL's path, "/sluice" when empty; no trailing slash
	SessionTimeout time.Duration
	Timeout        time.Duration
	User, Password string // digest authentication, when User is set
}

// Parse reads u with p (whose other parameters the caller has read; Parse
// calls Check).
func Parse(u *url.URL, p *address.Params) (Config, error) {
	c := Config{SessionTimeout: DefaultSessionTimeout, Timeout: DefaultTimeout}
	if u.Host == "" {
		return c, errors.New("no host: want zk://HOST:PORT[,HOST:PORT…]/PATH")
	}
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return c, fmt.Errorf("empty host in %q", u.Host)
		}
		if !strings.Contains(h, ":") {
			h += ":2181"
		}
		c.Servers = append(c.Servers, h)
	}
	p.Duration("session-timeout", &c.SessionTimeout, time.Millisecond)
	p.Duration("timeout", &c.Timeout, time.Millisecond)
	if err := p.Check(); err != nil {
		return c, err
	}
	c.Path = path.Clean("/" + u.Path)
	if c.Path == "/" {
		c.Path = "/sluice"
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// ACL is the ACL of the nodes a connection of c creates.
func (c Config) ACL() []zk.ACL {
	if c.User != "" {
		return zk.AuthACL(zk.PermAll)
	}
	return zk.WorldACL(zk.PermAll)
}

// nopLogger drops the client's notes (connection attempts, retries),
// which the store and lease report as errors when they matter.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// Connect opens a session and waits, within the timeout, until the
// server has granted it. events receives every later state change of the
// connection (it may be nil); it must not block.
func Connect(ctx context.Context, c Config, events func(zk.Event)) (*zk.Conn, error) {
	has := make(chan struct{}, 1)
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
			select {
			case has <- struct{}{}:
			default:
			}
		}
		if events != nil {
			events(ev)
		}
	}
	conn, _, err := zk.Connect(c.Servers, c.SessionTimeout, zk.WithLogger(nopLogger{}), zk.WithEventCallback(cb))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	t := time.NewTimer(c.Timeout)
	defer t.Stop()
	select {
	case <-has:
	case <-t.C:
		conn.Close()
		return nil, fmt.Errorf("connect to %s: no session within %s", strings.Join(c.Servers, ","), c.Timeout)
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(c.Servers, ","), ctx.Err())
	}
	if c.User != "" {
		if err := Do(ctx, c.Timeout, func() error { return conn.AddAuth("digest", []byte(c.User+":"+c.Password)) }); err != nil {
			conn.Close()
			return nil, fmt.Errorf("authenticate as %s: %w", c.User, err)
		}
	}
	return conn, nil
}

// Do runs f, a request of the ZooKeeper client, and returns its error, or
// the context's or a timeout's when they come first (f then finishes in
// the background, its result dropped: the client fails it when the
// session ends or answers it when the connection is back).
func Do(ctx context.Context, timeout time.Duration, f func() error) error {
	_, err := Call(ctx, timeout, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// Call is Do for a request with a result. The result travels back over a
// channel, so f's goroutine, which may finish after Call returned, never
// writes the caller's variables.
func Call[T any](ctx context.Context, timeout time.Duration, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-t.C:
		return zero, fmt.Errorf("no answer within %s: %w", timeout, context.DeadlineExceeded)
	}
}

// EnsurePath creates p and its missing parents as persistent nodes with
// acl.
func EnsurePath(ctx context.Context, conn *zk.Conn, timeout time.Duration, p string, acl []zk.ACL) error {
	if p == "/" || p == "" {
		return nil
	}
	exists, err := Call(ctx, timeout, func() (bool, error) {
		ok, _, err := conn.Exists(p)
		return ok, err
	})
	if err != nil || exists {
		return err
	}
	if err := EnsurePath(ctx, conn, timeout, path.Dir(p), acl); err != nil {
		return err
	}
	err = Do(ctx, timeout, func() error {
		_, err := conn.Create(p, nil, 0, acl)
		return err
	})
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

// EscapeName makes any text a valid node name: '/' and '%' are escaped
// as %XX, and "." and ".." become %2E….
func EscapeName(s string) string {
	e := url.PathEscape(s)
	if e == "" || strings.Trim(e, ".") == "" {
		e = strings.Repeat("%2E", len(s))
	}
	if e == "" {
		e = "%"
	}
	return e
}
