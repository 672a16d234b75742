package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/snapshot"
)

// Start names where a source begins when it has no position to resume from.
type Start string

// Start points. What each means for a source is in its Config's
// documentation; a source that cannot honour one refuses it in New.
const (
	// StartDefault leaves the choice to the source: its URL's from
	// parameter, else its own default (the current end of the log for
	// MySQL and MongoDB; the slot's confirmed position for PostgreSQL).
	StartDefault Start = ""
	// StartLatest begins at the current end of the log: only changes
	// committed from now on.
	StartLatest Start = "latest"
	// StartEarliest begins at the oldest change the database still holds.
	StartEarliest Start = "earliest"
)

// ParseStart reads a Start as users write it ("", "default", "latest",
// "earliest", any case).
func ParseStart(s string) (Start, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return StartDefault, nil
	case "latest":
		return StartLatest, nil
	case "earliest":
		return StartEarliest, nil
	}
	return "", fmt.Errorf("start %q: want latest or earliest", s)
}

// ErrPositionLost is returned (wrapped) by every source when the database
// no longer holds the position a stream should resume from: the binlog
// file was purged, the replication slot has moved past it, the oplog
// rolled over it. A source never starts elsewhere silently.
var ErrPositionLost = errors.New("resume position is no longer available")

// Common is what every source's Config holds.
type Common struct {
	// Start is where to begin when Stream is given a zero Position
	// (default StartDefault: the source's own default).
	Start Start
	// Logger receives the source's notes (reconnects, schema changes, the
	// connection's security); nil discards them.
	Logger *slog.Logger
	// Snapshot says whether the source reads the rows its tables already
	// hold before the stream, and how (see package snapshot). The zero
	// value never snapshots.
	Snapshot snapshot.Options
}

// Log returns the Logger, or one that discards when it is nil.
func (c *Common) Log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// ReadCommon reads the parameters of Common from a source URL: from
// (latest or earliest), snapshot (initial, never, when-needed or only),
// snapshot-workers, snapshot-chunk (rows per query), snapshot-memory (a
// size) and signal-table (the incremental snapshots' signalling table).
func ReadCommon(p *address.Params, c *Common) {
	from := string(c.Start)
	p.Enum("from", &from, string(StartLatest), string(StartEarliest))
	c.Start = Start(from)
	mode := string(c.Snapshot.Mode)
	p.Enum("snapshot", &mode, string(snapshot.ModeInitial), string(snapshot.ModeNever), string(snapshot.ModeWhenNeeded), string(snapshot.ModeOnly))
	c.Snapshot.Mode = snapshot.Mode(mode)
	p.Int("snapshot-workers", &c.Snapshot.Workers, 1, 64)
	p.Int("snapshot-chunk", &c.Snapshot.ChunkRows, 1, 1<<24)
	p.Size("snapshot-memory", &c.Snapshot.MemoryBytes, 64<<10)
	p.String("signal-table", &c.Snapshot.Signal)
}

// CheckSnapshot refuses a snapshot mode that contradicts the start: a
// snapshot begins the stream at its own consistent point, so from=latest
// or from=earliest cannot apply to it.
func (c *Common) CheckSnapshot() error {
	if c.Snapshot.Mode.Snapshots() && c.Start != StartDefault {
		return fmt.Errorf("snapshot=%s starts the stream at the snapshot's consistent point; from=%s contradicts it (use one or the other)",
			c.Snapshot.Mode, c.Start)
	}
	return c.Snapshot.Validate()
}

// Retry defaults.
const (
	DefaultRetryMin = 100 * time.Millisecond
	DefaultRetryMax = 10 * time.Second
)

// Retry is how a source reconnects after a lost connection: a capped
// exponential backoff from Min, doubling up to Max, with ±20% jitter so
// that many replicas do not reconnect in step.
type Retry struct {
	// Min and Max bound the wait between attempts (defaults
	// DefaultRetryMin and DefaultRetryMax).
	Min, Max time.Duration
	// Attempts is how many consecutive failed attempts are made before the
	// stream gives up: 0 retries until the context ends, -1 never
	// reconnects.
	Attempts int
}

// Validate fills defaults and checks the bounds.
func (r *Retry) Validate() error {
	if r.Min == 0 {
		r.Min = DefaultRetryMin
	}
	if r.Max == 0 {
		r.Max = DefaultRetryMax
	}
	switch {
	case r.Min < 0 || r.Max < 0:
		return fmt.Errorf("retry: negative wait (min %s, max %s)", r.Min, r.Max)
	case r.Max < r.Min:
		return fmt.Errorf("retry: retry-max %s is below retry-min %s", r.Max, r.Min)
	case r.Attempts < -1:
		return fmt.Errorf("retry: max-retries %d: want -1 (never), 0 (forever) or a count", r.Attempts)
	}
	return nil
}

// GiveUp reports whether the n-th consecutive failure (1-based) ends the stream.
func (r Retry) GiveUp(n int) bool {
	return r.Attempts < 0 || (r.Attempts > 0 && n > r.Attempts)
}

// Wait returns the wait before attempt n (1-based): Min·2^(n-1), capped at
// Max, ±20%.
func (r Retry) Wait(n int) time.Duration {
	d := r.Min
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// ReadRetry reads retry-min, retry-max (durations) and max-retries (-1,
// 0 or a count) from a source URL.
func ReadRetry(p *address.Params, r *Retry) {
	p.Duration("retry-min", &r.Min, time.Millisecond)
	p.Duration("retry-max", &r.Max, time.Millisecond)
	p.Int("max-retries", &r.Attempts, -1, 1<<31-1)
}

// DefaultBatchSize is the most changes a source hands to emit at once,
// unless its Config's BatchSize says otherwise.
const DefaultBatchSize = 1024

// ReadBatchSize reads batch-size from a source URL.
func ReadBatchSize(p *address.Params, n *int) {
	p.Int("batch-size", n, 1, 1<<20)
}

// Config is what a Factory receives besides the URL.
type Config struct {
	// Start overrides the URL's from parameter unless it is StartDefault.
	Start Start
	// Logger receives the source's notes.
	Logger *slog.Logger
	// Snapshot overrides the URL's snapshot parameters where set: the mode
	// unless snapshot.ModeDefault, the counts and sizes unless 0, Tables
	// and Progress unless nil.
	Snapshot snapshot.Options
}

// Apply sets c's Start (when not StartDefault), Logger (when not nil) and
// the snapshot options it sets in a source's Common.
func (c Config) Apply(to *Common) {
	if c.Start != StartDefault {
		to.Start = c.Start
	}
	if c.Logger != nil {
		to.Logger = c.Logger
	}
	o, s := &to.Snapshot, c.Snapshot
	if s.Mode != snapshot.ModeDefault {
		o.Mode = s.Mode
	}
	if s.Workers != 0 {
		o.Workers = s.Workers
	}
	if s.ChunkRows != 0 {
		o.ChunkRows = s.ChunkRows
	}
	if s.MemoryBytes != 0 {
		o.MemoryBytes = s.MemoryBytes
	}
	if s.Tables != nil {
		o.Tables = s.Tables
	}
	if s.Progress != nil {
		o.Progress = s.Progress
	}
	if s.ProgressEvery != 0 {
		o.ProgressEvery = s.ProgressEvery
	}
	if s.Signal != "" {
		o.Signal = s.Signal
	}
}

// Factory builds the Source a URL names. It validates the URL and returns;
// connecting happens in Stream. Its errors need not repeat the URL: Open
// adds it, redacted.
type Factory func(ctx context.Context, u *url.URL, cfg Config) (pipeline.Source, error)

// Registry maps URL schemes to Factories.
type Registry = address.Registry[Factory]

// NewRegistry returns an empty source Registry.
func NewRegistry() *Registry { return address.NewRegistry[Factory]("source") }

// defaultRegistry is the registry Register fills, for the database/sql
// style "import the sources, then open a URL". It is the package's one
// piece of global state; programs that want none use their own Registry.
var defaultRegistry = NewRegistry()

// Default returns the registry that Register fills (package sources
// registers every source Sluice ships there).
func Default() *Registry { return defaultRegistry }

// Register adds f for scheme to the default registry.
func Register(scheme string, f Factory) error { return defaultRegistry.Register(scheme, f) }

// Open builds the source raw names, looked up in r. Errors name the
// address with its secrets masked:
//
//	source postgres://u@db/x?password=***: parameter slot="Bad": …
func Open(ctx context.Context, r *Registry, raw string, cfg Config) (pipeline.Source, error) {
	u, f, err := r.Lookup(raw)
	if err != nil {
		return nil, err
	}
	src, err := f(ctx, u, cfg)
	if err != nil {
		return nil, r.Wrap(raw, err)
	}
	return src, nil
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
	if st, err := ParseStart(s); err == nil {
		return st, change.Position{}, nil
	}
	for _, prefix := range []string{"binlog:", "lsn:", "mongo:", "none:"} {
		if strings.HasPrefix(s, prefix) {
			p, err := change.ParsePosition(s)
			if err != nil {
				return "", change.Position{}, err
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
			return "", change.Position{}, fmt.Errorf("%q: offset: %w", s, err)
		}
		return "", change.Position{Flavor: change.FlavorBinlog, File: m[1], Offset: off}, nil
	}
	return "", change.Position{}, fmt.Errorf("%q: want latest, earliest, FILE:POS, a GTID set, an LSN or a position", s)
}
