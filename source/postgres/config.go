package postgres

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Config says where and how to read changes. Build it with ParseURL, or
// fill it by hand and call Validate.
type Config struct {
	// Conn is the connection to the database, as pgconn parses it. The
	// replication connection is derived from it.
	Conn *pgconn.Config
	// Slot is the logical replication slot name ([a-z0-9_], at most 63 bytes).
	Slot string
	// Publication is the publication the slot streams.
	Publication string
	// CreatePublication says what a missing publication is created for:
	// "all" (FOR ALL TABLES, the default), a comma-separated table list
	// ("public.t1,t2": FOR TABLE …), or "no" to fail instead.
	CreatePublication string
	// Temporary makes the slot temporary: created on connect, dropped by
	// the server when the connection ends. Nothing survives a restart.
	Temporary bool
	// ProtoVersion forces a pgoutput protocol version (1-4); 0 picks the
	// highest the server supports.
	ProtoVersion int
	// Streaming asks the server to stream in-progress transactions
	// (protocol 2+) instead of spilling them on the server until commit.
	Streaming bool
	// SpillDir is where streamed transactions spill past MemoryBytes
	// (default: the OS temporary directory).
	SpillDir string
	// MemoryBytes bounds the bytes of streamed, not yet committed
	// transactions held in memory (default 4 MiB, so that with the
	// pipeline's default 4 MiB queue a transaction of any size streams
	// through in under 64 MB of RSS; the server streams only transactions
	// over its logical_decoding_work_mem, 64 MB by default, so a smaller
	// bound costs nothing on a server left at its defaults).
	MemoryBytes int64
	// BatchSize bounds the changes handed to emit at once (default 1024).
	BatchSize int
	// StatusInterval is how often a standby status update is sent when
	// nothing else prompts one (default 10s).
	StatusInterval time.Duration
	// Messages delivers logical decoding messages (pg_logical_emit_message).
	Messages bool
	// Binary asks the server (PostgreSQL 14+) for column values in their
	// binary send form, which costs the walsender less than text output for
	// timestamps, numerics and floats. Values decode to exactly what text
	// mode gives; when one cannot (a type Sluice keeps as the server's text,
	// such as interval or inet, a BC timestamp, an array with explicit
	// bounds, a bit string over 64 bits), the source restarts from its last
	// position in text mode, logs why, and stays in text mode. timestamptz
	// values come in UTC whatever the session TimeZone.
	Binary bool
	// RetryMin and RetryMax bound the backoff between reconnects after a
	// lost connection (defaults 100ms and 10s); a negative RetryMax turns
	// reconnecting off. A temporary slot never reconnects: the server
	// dropped it with the connection.
	RetryMin, RetryMax time.Duration
	// Logger receives a warning for every lost connection Stream
	// reconnects after (nil: none are logged).
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultSlot           = "sluice"
	DefaultPublication    = "sluice"
	DefaultMemoryBytes    = 4 << 20
	DefaultBatchSize      = 1024
	DefaultStatusInterval = 10 * time.Second
	DefaultRetryMin       = 100 * time.Millisecond
	DefaultRetryMax       = 10 * time.Second
)

// The query parameters ParseURL consumes; the rest go to pgconn.
var ownParams = []string{"slot", "publication", "create-publication", "temporary", "proto-version",
	"streaming", "spill-dir", "memory-bytes", "batch-size", "status-interval", "messages", "binary", "retry-min", "retry-max"}

var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// ParseURL reads a source address:
//
//	postgres://user:pass@host:port/db?slot=sluice&publication=sluice&create-publication=all&temporary=false
//
// Other query parameters (sslmode, connect_timeout, …) are passed to pgconn.
func ParseURL(raw string) (*Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text would quote the URL, password and all
		}
		return nil, fmt.Errorf("postgres: parse source URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("postgres: source URL scheme %q, want postgres://", u.Scheme)
	}
	q := u.Query()
	cfg := &Config{
		Slot:              DefaultSlot,
		Publication:       DefaultPublication,
		CreatePublication: "all",
		Streaming:         true,
		MemoryBytes:       DefaultMemoryBytes,
		BatchSize:         DefaultBatchSize,
		StatusInterval:    DefaultStatusInterval,
	}
	str := func(name string, dst *string) {
		if q.Has(name) {
			*dst = q.Get(name)
		}
	}
	boolean := func(name string, dst *bool) {
		if q.Has(name) && err == nil {
			*dst, err = strconv.ParseBool(q.Get(name))
			if err != nil {
				err = fmt.Errorf("postgres: URL parameter %s: %w", name, err)
			}
		}
	}
	integer := func(name string, dst *int64) {
		if q.Has(name) && err == nil {
			*dst, err = strconv.ParseInt(q.Get(name), 10, 64)
			if err != nil {
				err = fmt.Errorf("postgres: URL parameter %s: %w", name, err)
			}
		}
	}
	str("slot", &cfg.Slot)
	str("publication", &cfg.Publication)
	str("create-publication", &cfg.CreatePublication)
	str("spill-dir", &cfg.SpillDir)
	boolean("temporary", &cfg.Temporary)
	boolean("streaming", &cfg.Streaming)
	boolean("messages", &cfg.Messages)
	boolean("binary", &cfg.Binary)
	var proto, batch int64
	integer("proto-version", &proto)
	integer("memory-bytes", &cfg.MemoryBytes)
	batch = int64(cfg.BatchSize)
	integer("batch-size", &batch)
	cfg.ProtoVersion, cfg.BatchSize = int(proto), int(batch)
	duration := func(name string, dst *time.Duration) {
		if q.Has(name) && err == nil {
			*dst, err = time.ParseDuration(q.Get(name))
			if err != nil {
				err = fmt.Errorf("postgres: URL parameter %s: %w", name, err)
			}
		}
	}
	duration("status-interval", &cfg.StatusInterval)
	duration("retry-min", &cfg.RetryMin)
	duration("retry-max", &cfg.RetryMax)
	if err != nil {
		return nil, err
	}
	for _, p := range ownParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	cfg.Conn, err = pgconn.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("postgres: connection settings: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Validate checks the configuration and fills defaults for zero fields.
func (c *Config) Validate() error {
	if c.Conn == nil {
		return fmt.Errorf("postgres: config has no connection settings")
	}
	if c.Slot == "" {
		c.Slot = DefaultSlot
	}
	if c.Publication == "" {
		c.Publication = DefaultPublication
	}
	if c.CreatePublication == "" {
		c.CreatePublication = "all"
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMax > 0 && c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if !slotName.MatchString(c.Slot) {
		return fmt.Errorf("postgres: slot name %q: use 1-63 lower-case letters, digits or underscores", c.Slot)
	}
	if c.ProtoVersion < 0 || c.ProtoVersion > 4 {
		return fmt.Errorf("postgres: proto-version %d: pgoutput has versions 1 to 4", c.ProtoVersion)
	}
	if _, err := c.publicationTarget(); err != nil {
		return err
	}
	return nil
}

// publicationTarget returns the FOR clause of CREATE PUBLICATION, or "" when
// a missing publication must not be created.
func (c *Config) publicationTarget() (string, error) {
	switch strings.ToLower(c.CreatePublication) {
	case "no", "false", "none":
		return "", nil
	case "all", "true", "":
		return "FOR ALL TABLES", nil
	}
	var parts []string
	for _, t := range strings.Split(c.CreatePublication, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		var q []string
		for _, p := range strings.Split(t, ".") {
			if p == "" {
				return "", fmt.Errorf("postgres: create-publication table %q: empty name part", t)
			}
			q = append(q, quoteIdent(p))
		}
		if len(q) > 2 {
			return "", fmt.Errorf("postgres: create-publication table %q: want [schema.]table", t)
		}
		parts = append(parts, strings.Join(q, "."))
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("postgres: create-publication %q names no table", c.CreatePublication)
	}
	return "FOR TABLE " + strings.Join(parts, ", "), nil
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes an SQL string literal (standard_conforming_strings on).
func quoteLiteral(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
