// Package etcdconn reads an etcd:// address and connects to it, for the
// etcd checkpoint store and the etcd lease:
//
//	etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX[?PARAMETERS]
//
// Parameters: timeout (each request, default 5s), tls=off|on|skip-verify,
// tls-ca, tls-cert, tls-key, tls-server-name; the caller reads its own
// before calling Config.
package etcdconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// DefaultTimeout bounds each request when the URL sets no timeout.
const DefaultTimeout = 5 * time.Second

// Config is what an etcd:// URL says.
type Config struct {
	Client  clientv3.Config
	Prefix  string        // key prefix: the URL's path, "/sluice" when empty
	Timeout time.Duration // per request
}

// Parse reads u with p (whose other parameters the caller has read; Parse
// calls Check).
func Parse(u *url.URL, p *address.Params) (Config, error) {
	c := Config{Timeout: DefaultTimeout}
	if u.Host == "" {
		return c, errors.New("no host: want etcd://HOST:PORT[,HOST:PORT…]/PREFIX")
	}
	var endpoints []string
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return c, fmt.Errorf("empty host in %q", u.Host)
		}
		if !strings.Contains(h, ":") {
			h += ":2379"
		}
		endpoints = append(endpoints, h)
	}
	p.Duration("timeout", &c.Timeout, time.Millisecond)
	tc, err := tlsparam.Read(p, "off", strings.Split(endpoints[0], ":")[0])
	if err != nil {
		return c, err
	}
	if err := p.Check(); err != nil {
		return c, err
	}
	c.Prefix = strings.TrimRight(u.Path, "/")
	if c.Prefix == "" {
		c.Prefix = "/sluice"
	}
	c.Client = clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: c.Timeout,
		TLS:         tc,
		Logger:      zap.NewNop(),
		// Keep the connection probed so a dead path is noticed between
		// requests too.
		DialKeepAliveTime:    c.Timeout,
		DialKeepAliveTimeout: c.Timeout,
	}
	if u.User != nil {
		c.Client.Username = u.User.Username()
		c.Client.Password, _ = u.User.Password()
	}
	return c, nil
}

// Connect opens a client and checks, within the timeout, that the cluster
// answers (a client of package clientv3 connects lazily: an unreachable
// address would otherwise only fail the first request).
func Connect(ctx context.Context, c Config) (*clientv3.Client, error) {
	cli, err := clientv3.New(c.Client)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if _, err := cli.Get(ctx, c.Prefix, clientv3.WithCountOnly()); err != nil {
		cli.Close()
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(c.Client.Endpoints, ","), err)
	}
	return cli, nil
}
