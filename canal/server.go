package canal

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
)

// Defaults of Config.
const (
	DefaultListen        = ":11111"
	DefaultMaxBatchBytes = 512 << 10
	DefaultMaxBatches    = 256
	DefaultIdleStop      = time.Minute
	DefaultSaveTimeout   = 30 * time.Second
	DefaultRetryAfter    = 2 * time.Second
	DefaultAuthTimeout   = 10 * time.Second
	// DefaultClientTimeout is how long a connection may stay silent when
	// the client named no net_read_timeout (Canal's default, one hour).
	DefaultClientTimeout = time.Hour
	// DefaultMySQLServerID is the server-id of a MySQL destination URL
	// without one (the MySQL source's default).
	DefaultMySQLServerID = 1001
	// DefaultPostgresSlot is the slot name of a PostgreSQL destination URL
	// without one (the PostgreSQL source's default).
	DefaultPostgresSlot = "sluice"
)

// Destination is one Canal destination (a Canal "instance"): a source URL
// that clients subscribe to by name.
type Destination struct {
	// Name is what clients pass as destination ("example").
	Name string
	// URL is the source: mysql://…, postgres://…, mongodb://… (see
	// docs/canal.md for how each client id gets a reader of its own).
	URL string
	// Include is the destination's own table filter, in Canal's syntax
	// (comma-separated regular expressions on "db.table", without regard
	// to case), used when a client subscribes with an empty filter; a
	// client's filter replaces it. "" keeps every table.
	Include string
	// Exclude drops tables whatever the client subscribes to (Canal's
	// canal.instance.filter.black.regex). Same syntax.
	Exclude string
}

// Config configures a Server.
type Config struct {
	// Listen is the TCP address to listen on. Default DefaultListen.
	Listen string
	// Destinations are the destinations clients may subscribe to.
	Destinations []Destination
	// Users are the accounts clients authenticate as. With none, only an
	// empty user name is accepted, and only from a loopback address.
	Users []User
	// TLS, when set, serves TLS instead of plain TCP.
	TLS *tls.Config
	// Store keeps every (destination, client id)'s acknowledged position,
	// under the id "canal/DESTINATION/CLIENTID". Required.
	Store checkpoint.Store
	// Sources opens destination URLs. Default source.Default() (import
	// package sources to fill it).
	Sources *source.Registry
	// Open, when set, opens a destination's source instead of Sources
	// (for tests and embedding).
	Open func(ctx context.Context, rawURL string) (pipeline.Source, error)
	// Logger receives the server's log. Default: discard.
	Logger *slog.Logger
	// TimeZone shows MySQL TIMESTAMP values, as Canal's JVM time zone
	// does. Default time.Local.
	TimeZone *time.Location
	// QueueBytes bounds the memory of each (destination, client id): the
	// estimated bytes of changes read and not yet acknowledged by the
	// client. Default pipeline.DefaultQueueBytes.
	QueueBytes int64
	// MaxBatchBytes bounds the entries of one GET answer (a batch holds at
	// least one entry, whatever its size). Default DefaultMaxBatchBytes.
	MaxBatchBytes int
	// MaxBatches bounds the unacknowledged batches of a client id; past
	// it GET answers with no entries. Default DefaultMaxBatches.
	MaxBatches int
	// IdleStop stops a client id's reader this long after its last
	// connection closed (negative: never). Default DefaultIdleStop.
	IdleStop time.Duration
	// SaveTimeout bounds the wait for an acknowledged position to be
	// saved before the next answer. Default DefaultSaveTimeout.
	SaveTimeout time.Duration
	// RetryAfter is how long a failed reader is not restarted (requests
	// get its error meanwhile). Default DefaultRetryAfter.
	RetryAfter time.Duration
	// AuthTimeout bounds the handshake. Default DefaultAuthTimeout.
	AuthTimeout time.Duration
}

// Server is a Canal-protocol server: Canal clients (canal-go, the Java
// client, canal-python) connect, authenticate, subscribe to a destination
// and pull batches of entries with get / ack / rollback.
type Server struct {
	cfg   Config
	log   *slog.Logger
	dests map[string]*destination
	creds map[string]credential

	ctx    context.Context // ends with Serve
	cancel context.CancelFunc

	mu      sync.Mutex
	cursors map[string]*cursor
	conns   map[net.Conn]struct{}
	addr    net.Addr
	wg      sync.WaitGroup
}

// destination is a configured Destination and the reader slots its
// cursors hold (a MySQL cursor's server-id offset).
type destination struct {
	name, url        string
	include, exclude string
	mu               sync.Mutex
	slots            []bool
}

func (d *destination) takeSlot() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, used := range d.slots {
		if !used {
			d.slots[i] = true
			return i
		}
	}
	d.slots = append(d.slots, true)
	return len(d.slots) - 1
}

func (d *destination) freeSlot(i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i >= 0 && i < len(d.slots) {
		d.slots[i] = false
	}
}

var destinationName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// NewServer checks cfg and returns a Server; nothing starts before Serve.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("canal: no checkpoint store")
	}
	if len(cfg.Destinations) == 0 {
		return nil, errors.New("canal: no destinations")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Sources == nil {
		cfg.Sources = source.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = time.Local
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.IdleStop, DefaultIdleStop)
	def(&cfg.SaveTimeout, DefaultSaveTimeout)
	def(&cfg.RetryAfter, DefaultRetryAfter)
	def(&cfg.AuthTimeout, DefaultAuthTimeout)
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = pipeline.DefaultQueueBytes
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.MaxBatches <= 0 {
		cfg.MaxBatches = DefaultMaxBatches
	}
	s := &Server{cfg: cfg, log: cfg.Logger, dests: map[string]*destination{}, creds: map[string]credential{},
		cursors: map[string]*cursor{}, conns: map[net.Conn]struct{}{}}
	for _, d := range cfg.Destinations {
		if !destinationName.MatchString(d.Name) {
			return nil, fmt.Errorf("canal: destination name %q: want 1-64 letters, digits, '_', '-' or '.'", d.Name)
		}
		if _, dup := s.dests[d.Name]; dup {
			return nil, fmt.Errorf("canal: destination %s given twice", d.Name)
		}
		for _, f := range []string{d.Include, d.Exclude} {
			if _, err := pipeline.NewFilter(pipeline.FilterSpec{Include: caseInsensitive(f)}); err != nil {
				return nil, fmt.Errorf("canal: destination %s: %w", d.Name, err)
			}
		}
		if _, err := cursorURL(d.URL, "1", 0); err != nil {
			return nil, fmt.Errorf("canal: destination %s: %w", d.Name, err)
		}
		s.dests[d.Name] = &destination{name: d.Name, url: d.URL, include: caseInsensitive(d.Include), exclude: caseInsensitive(d.Exclude)}
	}
	for _, u := range cfg.Users {
		if _, dup := s.creds[u.Name]; dup {
			return nil, fmt.Errorf("canal: user %q given twice", u.Name)
		}
		c, err := newCredential(u)
		if err != nil {
			return nil, fmt.Errorf("canal: %w", err)
		}
		s.creds[u.Name] = c
	}
	return s, nil
}

// ListenAndServe listens on Config.Listen and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("canal: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx ends (it then returns nil,
// after closing every connection and stopping every reader, saving what
// clients acknowledged) or accepting fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.ctx, s.cancel = context.WithCancel(ctx)
	defer s.cancel()
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	if len(s.creds) == 0 {
		s.log.Warn("no users configured: only an empty user name is accepted, and only from loopback addresses")
	}
	names := make([]string, 0, len(s.dests))
	for _, d := range s.cfg.Destinations {
		names = append(names, d.Name+"="+address.Redact(d.URL))
	}
	s.log.Info("canal server listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil, "destinations", strings.Join(names, " "))
	stopped := make(chan struct{})
	go func() {
		select {
		case <-s.ctx.Done():
		case <-stopped:
		}
		ln.Close()
	}()
	var err error
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			if s.ctx.Err() == nil {
				err = fmt.Errorf("canal: accept: %w", aerr)
			}
			break
		}
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
	close(stopped)
	s.cancel()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	cursors := make([]*cursor, 0, len(s.cursors))
	for _, c := range s.cursors {
		cursors = append(cursors, c)
	}
	s.mu.Unlock()
	for _, c := range cursors {
		c.shutdown()
	}
	s.log.Info("canal server stopped")
	return err
}

// Addr returns the address Serve listens on (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// cursor returns the cursor of (dest, clientID), creating it.
func (s *Server) cursor(d *destination, clientID string) *cursor {
	key := d.name + "\x00" + clientID
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cursors[key]
	if c == nil {
		c = newCursor(s, d, clientID)
		s.cursors[key] = c
	}
	return c
}

// open opens a destination's source.
func (s *Server) open(ctx context.Context, raw string) (pipeline.Source, error) {
	if s.cfg.Open != nil {
		return s.cfg.Open(ctx, raw)
	}
	return source.Open(ctx, s.cfg.Sources, raw, source.Config{Logger: s.log})
}

// redactErr masks the passwords of every destination URL in err.
func (s *Server) redactErr(err error) error {
	urls := make([]string, 0, len(s.dests))
	for _, d := range s.dests {
		urls = append(urls, d.url)
	}
	return address.RedactError(err, urls...)
}

func redacted(raw string) string { return address.Redact(raw) }

// caseInsensitive makes every pattern of a Canal filter ignore case, as
// Canal matches the lower-cased "db.table" name.
func caseInsensitive(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return ""
	}
	items := splitFilter(filter)
	for i, it := range items {
		items[i] = "(?i:" + it + ")"
	}
	return strings.Join(items, ",")
}

// splitFilter splits a Canal filter at commas outside (), [] and {}.
func splitFilter(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '(' || c == '[' || c == '{':
			depth++
		case (c == ')' || c == ']' || c == '}') && depth > 0:
			depth--
		case c == ',' && depth == 0:
			if it := strings.TrimSpace(s[start:i]); it != "" {
				out = append(out, it)
			}
			start = i + 1
		}
	}
	if it := strings.TrimSpace(s[start:]); it != "" {
		out = append(out, it)
	}
	return out
}

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// cursorURL is the source URL of one client id's reader of a destination:
// a MySQL/MariaDB reader is a replica of its own, with server-id = the
// URL's (default DefaultMySQLServerID) + slot, slot being its index among
// the destination's running readers; a PostgreSQL reader has a
// replication slot of its own, the URL's slot (default DefaultPostgresSlot)
// + "_" + the client id in lower case. Other sources read as the URL says.
func cursorURL(raw, clientID string, slot int) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL %s: %w", address.Redact(raw), address.ErrMalformed)
	}
	q := u.Query()
	switch strings.ToLower(u.Scheme) {
	case "mysql", "mariadb":
		base := uint64(DefaultMySQLServerID)
		if v := q.Get("server-id"); v != "" {
			if base, err = strconv.ParseUint(v, 10, 32); err != nil || base == 0 {
				return "", fmt.Errorf("URL %s: server-id %q: want 1-4294967295", address.Redact(raw), v)
			}
		}
		id := base + uint64(slot)
		if id > 1<<32-1 {
			return "", fmt.Errorf("URL %s: server-id %d + reader %d is over 4294967295", address.Redact(raw), base, slot)
		}
		q.Set("server-id", strconv.FormatUint(id, 10))
	case "postgres", "postgresql":
		base := q.Get("slot")
		if base == "" {
			base = DefaultPostgresSlot
		}
		q.Set("slot", base+"_"+strings.ToLower(strings.ReplaceAll(clientID, "-", "_")))
	default:
		return raw, nil
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
