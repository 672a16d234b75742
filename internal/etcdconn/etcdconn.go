// Package etcdconn reads an etcd:// address and talks to etcd through
// its JSON gateway (the gRPC API mapped to HTTP POST /v3/…, which every
// etcd v3.4+ serves on its client port), for the etcd checkpoint store
// and the etcd lease:
//
//	etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/PREFIX[?PARAMETERS]
//
// Parameters: timeout (each request, default 5s), tls=off|on|skip-verify,
// tls-ca, tls-cert, tls-key, tls-server-name; the caller reads its own
// before calling Parse.
//
// Sluice does not link etcd's Go client: it brings gRPC, which costs
// every sluice process about 15 MB of binary and resident memory. The
// gateway carries the same messages (keys and values in base64, 64-bit
// integers as strings); this package implements the calls the store and
// the lease need (range, txn, delete, lease grant, keepalive and revoke,
// watch, authenticate) and nothing else.
package etcdconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// DefaultTimeout bounds each request when the URL sets no timeout.
const DefaultTimeout = 5 * time.Second

// Config is what an etcd:// URL says.
type Config struct {
	Endpoints      []string // host:port
	TLS            *tls.Config
	User, Password string
	Prefix         string        // key prefix: the URL's path, "/sluice" when empty
	Timeout        time.Duration // per request
}

// Parse reads u with p (whose other parameters the caller has read; Parse
// calls Check).
func Parse(u *url.URL, p *address.Params) (Config, error) {
	c := Config{Timeout: DefaultTimeout}
	if u.Host == "" {
		return c, errors.New("no host: want etcd://HOST:PORT[,HOST:PORT…]/PREFIX")
	}
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return c, fmt.Errorf("empty host in %q", u.Host)
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "2379")
		}
		c.Endpoints = append(c.Endpoints, h)
	}
	p.Duration("timeout", &c.Timeout, time.Millisecond)
	host, _, _ := net.SplitHostPort(c.Endpoints[0])
	tc, err := tlsparam.Read(p, "off", host)
	if err != nil {
		return c, err
	}
	if err := p.Check(); err != nil {
		return c, err
	}
	c.TLS = tc
	c.Prefix = strings.TrimRight(u.Path, "/")
	if c.Prefix == "" {
		c.Prefix = "/sluice"
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	return c, nil
}

// Client calls an etcd cluster's JSON gateway. It is safe for concurrent
// use.
type Client struct {
	cfg    Config
	scheme string
	hc     *http.Client // requests
	stream *http.Client // watches: no overall timeout

	mu    sync.Mutex
	next  int    // endpoint to try first
	token string // auth token, when a user is set
}

// Connect makes a client and checks, within the timeout, that the cluster
// answers (and accepts the user, when the URL names one).
func Connect(ctx context.Context, c Config) (*Client, error) {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: c.Timeout, KeepAlive: c.Timeout}).DialContext,
		TLSClientConfig:     c.TLS,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		ForceAttemptHTTP2:   false,
	}
	cl := &Client{cfg: c, scheme: "http", hc: &http.Client{Transport: tr, Timeout: c.Timeout}, stream: &http.Client{Transport: tr}}
	if c.TLS != nil {
		cl.scheme = "https"
	}
	if _, err := cl.Range(ctx, RangeRequest{Key: []byte(c.Prefix), CountOnly: true}); err != nil {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	return cl, nil
}

// Close drops idle connections.
func (c *Client) Close() error {
	c.hc.Transport.(*http.Transport).CloseIdleConnections()
	return nil
}

// Timeout is the per-request timeout.
func (c *Client) Timeout() time.Duration { return c.cfg.Timeout }

// Error is an error etcd answered.
type Error struct {
	Status  int
	Code    int    `json:"code"`
	Message string `json:"message"`
	Text    string `json:"error"` // etcd 3.4's gateway
}

func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Text != "":
		return e.Text
	}
	return fmt.Sprintf("etcd answered HTTP %d", e.Status)
}

// IsLeaseNotFound reports an error saying the lease is gone.
func IsLeaseNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && strings.Contains(e.Error(), "requested lease not found")
}

func isAuthError(err error) bool {
	var e *Error
	return errors.As(err, &e) && (strings.Contains(e.Error(), "invalid auth token") || strings.Contains(e.Error(), "user name is empty"))
}

// call posts req to path and decodes the answer into resp, trying each
// endpoint until one answers, and authenticating again once when the
// token expired.
func (c *Client) call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err = c.post(ctx, path, body, resp)
		if attempt == 0 && c.cfg.User != "" && isAuthError(err) {
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
			continue
		}
		return err
	}
}

func (c *Client) authToken(ctx context.Context, endpoint string) (string, error) {
	if c.cfg.User == "" {
		return "", nil
	}
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	body, _ := json.Marshal(map[string]string{"name": c.cfg.User, "password": c.cfg.Password})
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, endpoint, "/v3/auth/authenticate", body, "", &out); err != nil {
		return "", fmt.Errorf("authenticate as %s: %w", c.cfg.User, err)
	}
	c.mu.Lock()
	c.token = out.Token
	c.mu.Unlock()
	return out.Token, nil
}

func (c *Client) post(ctx context.Context, path string, body []byte, resp any) error {
	c.mu.Lock()
	first := c.next
	c.mu.Unlock()
	var err error
	for i := range c.cfg.Endpoints {
		n := (first + i) % len(c.cfg.Endpoints)
		ep := c.cfg.Endpoints[n]
		var tok string
		tok, err = c.authToken(ctx, ep)
		if err == nil {
			err = c.do(ctx, ep, path, body, tok, resp)
		}
		var etcdErr *Error
		if err == nil || errors.As(err, &etcdErr) || ctx.Err() != nil {
			if err == nil && n != first {
				c.mu.Lock()
				c.next = n
				c.mu.Unlock()
			}
			return err
		}
	}
	return err
}

func (c *Client) do(ctx context.Context, endpoint, path string, body []byte, token string, resp any) error {
	r, err := c.request(ctx, endpoint, path, body, token)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		e := &Error{Status: res.StatusCode}
		json.Unmarshal(b, e)
		return e
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(b, resp); err != nil {
		return fmt.Errorf("%s answered %q: %w", path, b, err)
	}
	return nil
}

func (c *Client) request(ctx context.Context, endpoint, path string, body []byte, token string) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, c.scheme+"://"+endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", token)
	}
	return r, nil
}

// I64 is an int64 as the gateway writes it: a JSON string (read from a
// number too).
type I64 int64

// MarshalJSON writes the number as a string.
func (n I64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(n), 10) + `"`), nil
}

// UnmarshalJSON reads a string or a number.
func (n *I64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*n = I64(v)
	return nil
}

// Header is a response header.
type Header struct {
	Revision I64 `json:"revision"`
}

// KV is a key and its value with their revisions.
type KV struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision I64    `json:"create_revision"`
	ModRevision    I64    `json:"mod_revision"`
	Version        I64    `json:"version"`
	Lease          I64    `json:"lease"`
}

// RangeRequest reads a key or a range.
type RangeRequest struct {
	Key               []byte `json:"key"`
	RangeEnd          []byte `json:"range_end,omitempty"`
	Limit             I64    `json:"limit,omitempty"`
	SortOrder         string `json:"sort_order,omitempty"`  // ASCEND, DESCEND
	SortTarget        string `json:"sort_target,omitempty"` // KEY, VERSION, CREATE, MOD, VALUE
	CountOnly         bool   `json:"count_only,omitempty"`
	MaxCreateRevision I64    `json:"max_create_revision,omitempty"`
}

// RangeResponse is the answer to a RangeRequest.
type RangeResponse struct {
	Header Header `json:"header"`
	KVs    []KV   `json:"kvs"`
	Count  I64    `json:"count"`
}

// Range reads keys.
func (c *Client) Range(ctx context.Context, r RangeRequest) (*RangeResponse, error) {
	var out RangeResponse
	if err := c.call(ctx, "/v3/kv/range", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PrefixEnd is the range end that covers every key starting with prefix.
func PrefixEnd(prefix string) []byte {
	end := []byte(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0}
}

// Compare is one condition of a transaction. Target is VERSION, CREATE,
// MOD, VALUE or LEASE, with the matching field set; Result EQUAL,
// GREATER, LESS or NOT_EQUAL.
type Compare struct {
	Result         string `json:"result"`
	Target         string `json:"target"`
	Key            []byte `json:"key"`
	Version        *I64   `json:"version,omitempty"`
	CreateRevision *I64   `json:"create_revision,omitempty"`
	ModRevision    *I64   `json:"mod_revision,omitempty"`
	Value          []byte `json:"value,omitempty"`
}

// CreateRevisionIs compares a key's create revision (0: absent).
func CreateRevisionIs(key string, rev int64) Compare {
	v := I64(rev)
	return Compare{Result: "EQUAL", Target: "CREATE", Key: []byte(key), CreateRevision: &v}
}

// ModRevisionIs compares a key's last modification revision (0: absent).
func ModRevisionIs(key string, rev int64) Compare {
	v := I64(rev)
	return Compare{Result: "EQUAL", Target: "MOD", Key: []byte(key), ModRevision: &v}
}

// ValueIs compares a key's value (false when the key is absent).
func ValueIs(key, value string) Compare {
	return Compare{Result: "EQUAL", Target: "VALUE", Key: []byte(key), Value: []byte(value)}
}

// PutRequest writes a key.
type PutRequest struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
	Lease I64    `json:"lease,omitempty"`
}

// DeleteRequest deletes a key.
type DeleteRequest struct {
	Key []byte `json:"key"`
}

// Op is one operation of a transaction: exactly one field set.
type Op struct {
	Range  *RangeRequest  `json:"request_range,omitempty"`
	Put    *PutRequest    `json:"request_put,omitempty"`
	Delete *DeleteRequest `json:"request_delete_range,omitempty"`
}

// OpResponse is the answer to one Op.
type OpResponse struct {
	Range *RangeResponse `json:"response_range,omitempty"`
}

// TxnResponse is the answer to a transaction.
type TxnResponse struct {
	Header    Header       `json:"header"`
	Succeeded bool         `json:"succeeded"`
	Responses []OpResponse `json:"responses"`
}

// Txn runs then if every compare holds, otherwise els, atomically.
func (c *Client) Txn(ctx context.Context, compare []Compare, then, els []Op) (*TxnResponse, error) {
	req := struct {
		Compare []Compare `json:"compare"`
		Success []Op      `json:"success,omitempty"`
		Failure []Op      `json:"failure,omitempty"`
	}{compare, then, els}
	var out TxnResponse
	if err := c.call(ctx, "/v3/kv/txn", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete deletes a key.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.call(ctx, "/v3/kv/deleterange", DeleteRequest{Key: []byte(key)}, nil)
}

// Grant creates a lease of ttl seconds and returns its id and the TTL the
// server granted (it raises a TTL below its minimum).
func (c *Client) Grant(ctx context.Context, ttl int64) (id, granted int64, err error) {
	var out struct {
		ID  I64    `json:"ID"`
		TTL I64    `json:"TTL"`
		Err string `json:"error"`
	}
	if err := c.call(ctx, "/v3/lease/grant", map[string]I64{"TTL": I64(ttl)}, &out); err != nil {
		return 0, 0, err
	}
	if out.Err != "" {
		return 0, 0, errors.New(out.Err)
	}
	return int64(out.ID), int64(out.TTL), nil
}

// KeepAliveOnce renews lease id and returns its TTL, 0 when the lease is
// gone.
func (c *Client) KeepAliveOnce(ctx context.Context, id int64) (int64, error) {
	var out struct {
		Result struct {
			TTL I64 `json:"TTL"`
		} `json:"result"`
		Error *Error `json:"error"`
	}
	if err := c.call(ctx, "/v3/lease/keepalive", map[string]I64{"ID": I64(id)}, &out); err != nil {
		return 0, err
	}
	if out.Error != nil {
		return 0, out.Error
	}
	return int64(out.Result.TTL), nil
}

// Revoke ends lease id, deleting its keys.
func (c *Client) Revoke(ctx context.Context, id int64) error {
	return c.call(ctx, "/v3/lease/revoke", map[string]I64{"ID": I64(id)}, nil)
}

// WatchDelete waits until key is deleted at or after revision rev (nil),
// or the watch ends (an error: ctx, a closed stream, a compacted
// revision).
func (c *Client) WatchDelete(ctx context.Context, key string, rev int64) error {
	body, _ := json.Marshal(map[string]any{"create_request": map[string]any{"key": []byte(key), "start_revision": I64(rev)}})
	c.mu.Lock()
	ep := c.cfg.Endpoints[c.next]
	c.mu.Unlock()
	tok, err := c.authToken(ctx, ep)
	if err != nil {
		return err
	}
	r, err := c.request(ctx, ep, "/v3/watch", body, tok)
	if err != nil {
		return err
	}
	res, err := c.stream.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return &Error{Status: res.StatusCode}
	}
	dec := json.NewDecoder(bufio.NewReader(res.Body))
	for {
		var msg struct {
			Result struct {
				Canceled        bool   `json:"canceled"`
				CancelReason    string `json:"cancel_reason"`
				CompactRevision I64    `json:"compact_revision"`
				Events          []struct {
					Type string `json:"type"` // absent: PUT
					KV   KV     `json:"kv"`
				} `json:"events"`
			} `json:"result"`
			Error *Error `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watch %s: %w", key, err)
		}
		if msg.Error != nil {
			return msg.Error
		}
		if msg.Result.Canceled {
			return fmt.Errorf("watch %s canceled: %s (compacted at %d)", key, msg.Result.CancelReason, msg.Result.CompactRevision)
		}
		for _, ev := range msg.Result.Events {
			if ev.Type == "DELETE" && string(ev.KV.Key) == key {
				return nil
			}
		}
	}
}
