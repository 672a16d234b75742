package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Start names a place a source can begin at when there is no position to
// resume from.
type Start string

// Start points. The zero Start leaves the choice to the source (its URL
// may say; otherwise the current end of the log).
const (
	StartDefault  Start = ""
	StartLatest   Start = "latest"
	StartEarliest Start = "earliest"
)

// SourceConfig is what a SourceFactory receives besides the URL.
type SourceConfig struct {
	// Start is where to begin when Stream is given a zero Position.
	Start Start
	// Logger receives the source's notes (reconnects, schema changes).
	Logger *slog.Logger
}

// SourceFactory builds the Source a URL names. It should validate the URL
// and return; connecting happens in Stream.
type SourceFactory func(ctx context.Context, u *url.URL, cfg SourceConfig) (pipeline.Source, error)

// ErrUnknownScheme is returned (wrapped) for a URL whose scheme has no SourceFactory.
var ErrUnknownScheme = errors.New("sluice: no source registered for URL scheme")

// SourceRegistry maps URL schemes (mysql, mariadb, postgres, mongodb …) to
// SourceFactories. It is safe for concurrent use.
type SourceRegistry struct {
	mu sync.RWMutex
	m  map[string]SourceFactory
}

// NewSourceRegistry returns an empty registry.
func NewSourceRegistry() *SourceRegistry {
	return &SourceRegistry{m: make(map[string]SourceFactory)}
}

// Register adds f for scheme (case-insensitive). Registering a scheme twice is an error.
func (r *SourceRegistry) Register(scheme string, f SourceFactory) error {
	scheme = strings.ToLower(scheme)
	if scheme == "" || f == nil {
		return errors.New("sluice: register source: empty scheme or nil factory")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[scheme]; dup {
		return fmt.Errorf("sluice: register source %q: already registered", scheme)
	}
	r.m[scheme] = f
	return nil
}

// Schemes lists the registered schemes, sorted.
func (r *SourceRegistry) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for s := range r.m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Source parses rawURL and builds its Source. Errors never show the URL's password.
func (r *SourceRegistry) Source(ctx context.Context, rawURL string, cfg SourceConfig) (pipeline.Source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text quotes the URL, password and all
		}
		return nil, fmt.Errorf("sluice: source URL %s: %w", RedactURL(rawURL), err)
	}
	r.mu.RLock()
	f := r.m[strings.ToLower(u.Scheme)]
	r.mu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("sluice: source %s: %w %q (registered: %s)", redacted(u, rawURL), ErrUnknownScheme, u.Scheme, strings.Join(r.Schemes(), ", "))
	}
	src, err := f(ctx, u, cfg)
	if err != nil {
		return nil, &redactedError{msg: "sluice: source " + redacted(u, rawURL) + ": " + redactText(err.Error(), u), err: err}
	}
	return src, nil
}

// defaultSources is the registry RegisterSource fills and Open uses when no
// WithRegistry option is given. It is the package's one piece of global
// state, kept for the database/sql-style "import a source, then Open" use;
// programs that want none pass their own registry with WithRegistry.
var defaultSources = NewSourceRegistry()

// Sources returns the default registry, the one RegisterSource fills and
// Open uses without WithRegistry.
func Sources() *SourceRegistry { return defaultSources }

// RegisterSource registers f for scheme in the default registry, typically
// from a source package's init or from main.
func RegisterSource(scheme string, f SourceFactory) error {
	return defaultSources.Register(scheme, f)
}

// RedactURL returns rawURL with its password replaced by "***"
// (user:***@host). Text that does not parse as a URL is masked between the
// first ':' after "://" and the last '@' before the host.
func RedactURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return redacted(u, rawURL)
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return rawURL
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return rawURL
	}
	return scheme + "://" + user + ":***" + rest[at:]
}

// redactedError shows a message with the password removed and still
// unwraps to the original error, so errors.Is keeps working.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redacted returns u as text with "***" for its password, or raw when it has none.
func redacted(u *url.URL, raw string) string {
	if u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		return raw
	}
	v := *u
	v.User = url.User(u.User.Username())
	s := v.String()
	prefix := v.Scheme + "://" + v.User.String()
	if !strings.HasPrefix(s, prefix) {
		return u.Redacted()
	}
	return prefix + ":***" + s[len(prefix):]
}

// redactText removes u's password from a message (a factory's error may quote it).
func redactText(s string, u *url.URL) string {
	if u.User == nil {
		return s
	}
	if p, ok := u.User.Password(); ok && p != "" {
		s = strings.ReplaceAll(s, p, "***")
		if esc := url.QueryEscape(p); esc != p {
			s = strings.ReplaceAll(s, esc, "***")
		}
	}
	return s
}

var (
	binlogFilePos = regexp.MustCompile(`^([^:\s]+):([0-9]+)$`)
	pgLSN         = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$`)
	mysqlGTIDSet  = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(:[^,]+)?(,\s*[0-9A-Fa-f-]{36}(:[^,]+)?)*$`)
	mariaGTIDSet  = regexp.MustCompile(`^[0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*$`)
)

// ParseFrom reads a starting point as users write it:
//
//	latest | earliest                       a Start
//	mysql-bin.000003:1234                   binlog file and offset
//	3e11fa47-…-c80aa9429562:1-77            MySQL GTID set (several joined by ',')
//	0-1-100,1-2-5                           MariaDB GTID list
//	0/16B3748                               PostgreSQL LSN
//	binlog:… | lsn:… | mongo:…              a Position as Position.String writes it
//
// It returns either a Start or a non-zero Position.
func ParseFrom(s string) (Start, change.Position, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "default":
		return StartDefault, change.Position{}, nil
	case "latest":
		return StartLatest, change.Position{}, nil
	case "earliest":
		return StartEarliest, change.Position{}, nil
	}
	for _, prefix := range []string{"binlog:", "lsn:", "mongo:", "none:"} {
		if strings.HasPrefix(s, prefix) {
			p, err := change.ParsePosition(s)
			if err != nil {
				return "", change.Position{}, fmt.Errorf("sluice: from %q: %w", s, err)
			}
			return "", p, nil
		}
	}
	switch {
	case mysqlGTIDSet.MatchString(s), mariaGTIDSet.MatchString(s):
		return "", change.Position{Flavor: change.FlavorBinlog, GTIDSet: s}, nil
	case pgLSN.MatchString(s):
		hi, _ := strconv.ParseUint(s[:strings.IndexByte(s, '/')], 16, 32)
		lo, _ := strconv.ParseUint(s[strings.IndexByte(s, '/')+1:], 16, 32)
		return "", change.Position{Flavor: change.FlavorLSN, Offset: hi<<32 | lo}, nil
	}
	if m := binlogFilePos.FindStringSubmatch(s); m != nil {
		off, err := strconv.ParseUint(m[2], 10, 64)
		if err != nil {
			return "", change.Position{}, fmt.Errorf("sluice: from %q: offset: %w", s, err)
		}
		return "", change.Position{Flavor: change.FlavorBinlog, File: m[1], Offset: off}, nil
	}
	return "", change.Position{}, fmt.Errorf("sluice: from %q: want latest, earliest, FILE:POS, a GTID set, an LSN or a position", s)
}

// options collects what the Options set.
type options struct {
	registry    *SourceRegistry
	store       checkpoint.Store
	stateFile   string
	id          string
	start       Start
	from        change.Position
	filter      pipeline.FilterSpec
	beginCommit bool
	queueBytes  int64
	interval    time.Duration
	maxUnacked  int
	autoAck     bool
	stopAt      change.Position
	log         *slog.Logger
}

// Option configures Open.
type Option func(*options)

// WithRegistry looks sources up in r instead of the default registry.
func WithRegistry(r *SourceRegistry) Option { return func(o *options) { o.registry = r } }

// WithStore checkpoints to store under id. Default: an in-memory store, so
// nothing survives the process.
func WithStore(store checkpoint.Store, id string) Option {
	return func(o *options) { o.store, o.id = store, id }
}

// WithStateFile checkpoints to a bbolt file at path (created if needed),
// which Close closes.
func WithStateFile(path string) Option { return func(o *options) { o.stateFile = path } }

// WithID names the stream in its checkpoint store. Default "default".
func WithID(id string) Option { return func(o *options) { o.id = id } }

// WithStart is where to begin when the store holds no position.
func WithStart(s Start) Option { return func(o *options) { o.start = s } }

// WithFrom begins after p when the store holds no position.
func WithFrom(p change.Position) Option { return func(o *options) { o.from = p } }

// WithFilter keeps only the tables and columns spec selects.
func WithFilter(spec pipeline.FilterSpec) Option { return func(o *options) { o.filter = spec } }

// WithBeginCommit makes Next return begin and commit events too.
func WithBeginCommit(on bool) Option { return func(o *options) { o.beginCommit = on } }

// WithQueueBytes bounds the bytes of changes read ahead of Next. Default 16 MiB.
func WithQueueBytes(n int64) Option { return func(o *options) { o.queueBytes = n } }

// WithCheckpointInterval saves the acknowledged position at most this
// often (always on Close). 0 saves on every acknowledgement that moves it.
// Default one second.
func WithCheckpointInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithMaxUnacked makes Next fail once n returned changes wait for Ack,
// instead of growing without bound. Default 1<<20.
func WithMaxUnacked(n int) Option { return func(o *options) { o.maxUnacked = n } }

// WithAutoAck acknowledges each change when Next is called again, for
// programs that finish a change before asking for the next one.
func WithAutoAck() Option { return func(o *options) { o.autoAck = true } }

// WithStopAt ends the stream where the source reaches p: Next returns the
// changes at or before p, then false with a nil Err (see
// pipeline.ReaderConfig.StopAt). Default: the stream follows the source
// until closed.
func WithStopAt(p change.Position) Option { return func(o *options) { o.stopAt = p } }

// WithLogger passes l to the source and logs checkpoints. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// ErrNotOutstanding is returned by Ack for a change that Next did not
// return or that was already acknowledged.
var ErrNotOutstanding = errors.New("sluice: ack of a change that is not outstanding")

// Stream iterates over the changes of one source. Next, Change, Ack, Err
// and Close are meant for one goroutine; Ack may also be called from
// others (it locks).
type Stream struct {
	o      options
	src    pipeline.Source
	r      *pipeline.Reader
	store  checkpoint.Store
	closer io.Closer // the state file, when Open opened it

	batch *pipeline.Batch
	i     int
	cur   change.Change
	err   error
	done  bool

	mu        sync.Mutex
	pending   []entry // returned or hidden positions not yet saved, in order
	head      int     // pending[:head] are acknowledged and popped
	unacked   int
	acked     change.Position // end of the fully acknowledged prefix
	dirty     bool
	lastSave  time.Time
	autoAckOf *change.Position // the change to ack at the next Next (WithAutoAck)

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// entry is one position in delivery order and whether it is acknowledged.
type entry struct {
	pos   change.Position
	acked bool
}

// Open starts streaming from the source rawURL names. The source runs until
// ctx ends or Close is called. When the checkpoint store holds a position
// for the stream's id, the stream resumes after it; otherwise it begins at
// WithFrom's position or WithStart's point.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Stream, error) {
	o := options{registry: defaultSources, id: "default", interval: time.Second, maxUnacked: 1 << 20}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.id == "" || o.maxUnacked <= 0 || o.interval < 0 || o.queueBytes < 0 {
		return nil, errors.New("sluice: open: empty id, or non-positive max-unacked, or negative interval or queue size")
	}
	filter, err := pipeline.NewFilter(o.filter)
	if err != nil {
		return nil, fmt.Errorf("sluice: open: %w", err)
	}
	src, err := o.registry.Source(ctx, rawURL, SourceConfig{Start: o.start, Logger: o.log})
	if err != nil {
		return nil, err
	}
	s := &Stream{o: o, store: o.store, src: src}
	if o.stateFile != "" {
		b, err := checkpoint.OpenBolt(o.stateFile, 0)
		if err != nil {
			return nil, fmt.Errorf("sluice: open: %w", err)
		}
		s.store, s.closer = b, b
	}
	if s.store == nil {
		s.store = &checkpoint.Memory{}
	}
	from, err := s.store.Load(ctx, o.id)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		from = o.from
	case err != nil:
		s.closeStore()
		return nil, fmt.Errorf("sluice: open: %w", err)
	default:
		o.log.Info("resuming", "id", o.id, "position", from.String())
		if a, ok := src.(pipeline.Acker); ok {
			a.Ack(from)
		}
	}
	s.acked = from
	s.r = pipeline.NewReader(ctx, src, pipeline.ReaderConfig{
		From: from, Filter: filter, BeginCommit: o.beginCommit, QueueBytes: o.queueBytes, StopAt: o.stopAt,
	})
	return s, nil
}

// Next advances to the next change, waiting for one. It returns false when
// the source ended, failed, ctx ended, or the stream was closed; Err tells
// which.
func (s *Stream) Next(ctx context.Context) bool {
	if s.done {
		return false
	}
	s.ackAuto()
	for s.batch == nil || s.i >= len(s.batch.Changes) {
		if s.batch != nil {
			s.finishBatch()
		}
		b, err := s.r.Next(ctx)
		if err != nil {
			if !errors.Is(err, io.EOF) && !s.closed.Load() {
				s.err = err
			}
			s.done = true
			return false
		}
		s.batch, s.i = b, 0
	}
	s.mu.Lock()
	if s.unacked >= s.o.maxUnacked {
		s.mu.Unlock()
		s.err = fmt.Errorf("sluice: %d changes returned by Next wait for Ack (WithMaxUnacked)", s.unacked)
		s.done = true
		return false
	}
	s.cur = s.batch.Changes[s.i]
	s.i++
	s.pending = append(s.pending, entry{pos: s.cur.Pos})
	s.unacked++
	s.mu.Unlock()
	if s.o.autoAck {
		p := s.cur.Pos
		s.mu.Lock()
		s.autoAckOf = &p
		s.mu.Unlock()
	}
	s.maybeSave(ctx)
	return true
}

// finishBatch records the hidden positions a batch covers after its last
// shown change and gives its bytes back to the queue bound.
func (s *Stream) finishBatch() {
	b := s.batch
	s.batch = nil
	s.r.Release(b)
	if !b.HasLast || (len(b.Changes) > 0 && b.Changes[len(b.Changes)-1].Pos == b.Last) {
		return
	}
	s.mu.Lock()
	s.pending = append(s.pending, entry{pos: b.Last, acked: true})
	s.advance()
	s.mu.Unlock()
}

// Change returns the change Next advanced to. It stays valid after the
// next call to Next.
func (s *Stream) Change() change.Change { return s.cur }

// Ack records that c, returned by Next, was dealt with. The saved position
// moves once every change before c is acknowledged too.
func (s *Stream) Ack(c change.Change) error {
	if !s.ackPos(c.Pos) {
		return fmt.Errorf("%w: %s", ErrNotOutstanding, c.Pos)
	}
	return nil
}

func (s *Stream) ackPos(p change.Position) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := s.head; i < len(s.pending); i++ {
		if e := &s.pending[i]; !e.acked && e.pos == p {
			e.acked = true
			s.unacked--
			s.advance()
			return true
		}
	}
	return false
}

// advance pops the acknowledged prefix; the caller holds mu.
func (s *Stream) advance() {
	for s.head < len(s.pending) && s.pending[s.head].acked {
		s.acked, s.dirty = s.pending[s.head].pos, true
		s.pending[s.head] = entry{}
		s.head++
	}
	if s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
	} else if s.head > 1024 && s.head > len(s.pending)/2 {
		s.pending = append(s.pending[:0], s.pending[s.head:]...)
		s.head = 0
	}
}

// Position returns the end of the acknowledged prefix: where a restart resumes.
func (s *Stream) Position() change.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// maybeSave saves the acknowledged position when the interval has passed.
func (s *Stream) maybeSave(ctx context.Context) {
	s.mu.Lock()
	due := s.dirty && time.Since(s.lastSave) >= s.o.interval
	s.mu.Unlock()
	if due {
		if err := s.save(ctx); err != nil && s.err == nil {
			s.err, s.done = err, true
		}
	}
}

func (s *Stream) save(ctx context.Context) error {
	s.mu.Lock()
	p, dirty := s.acked, s.dirty
	s.mu.Unlock()
	if !dirty {
		return nil
	}
	if err := s.store.Save(ctx, s.o.id, p); err != nil {
		return fmt.Errorf("sluice: save position %s: %w", p, err)
	}
	s.mu.Lock()
	if s.acked == p {
		s.dirty = false
	}
	s.lastSave = time.Now()
	s.mu.Unlock()
	if a, ok := s.src.(pipeline.Acker); ok {
		a.Ack(p)
	}
	s.o.log.Debug("checkpoint", "id", s.o.id, "position", p.String())
	return nil
}

// Err returns the error that ended the stream: nil when the source simply
// finished, ctx's error when a context ended it.
func (s *Stream) Err() error { return s.err }

// ackAuto acknowledges the change WithAutoAck left pending.
func (s *Stream) ackAuto() {
	s.mu.Lock()
	p := s.autoAckOf
	s.autoAckOf = nil
	s.mu.Unlock()
	if p != nil {
		s.ackPos(*p)
	}
}

// Close stops the source, saves the acknowledged position and closes the
// state file Open opened. Changes returned but not acknowledged are read
// again after a restart. Close may be called from another goroutine to end
// a Next that is waiting; it is safe to call more than once.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		s.ackAuto()
		s.closed.Store(true)
		s.r.Close() // a waiting Next now returns false
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.save(ctx)
		if cerr := s.closeStore(); err == nil {
			err = cerr
		}
		s.closeErr = err
	})
	return s.closeErr
}

func (s *Stream) closeStore() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}
