package postgres

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/source"
)

// Config says where and how to read changes. Build it with ParseURL, or
// fill it by hand and call Validate.
type Config struct {
	// Common holds Start — where to begin when Stream is given a zero
	// position: source.StartDefault and source.StartEarliest begin at the
	// slot's confirmed position, the oldest change a logical slot still
	// holds (for a new slot: the current end of WAL); source.StartLatest
	// begins at the current end of WAL, skipping what the slot holds — and
	// the Logger for reconnects and fallbacks.
	source.Common
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
	// pipeline's default queue, pipeline.DefaultQueueBytes (4 MiB), a
	// transaction of any size streams through in under 64 MB of RSS; the
	// server streams only transactions
	// over its logical_decoding_work_mem, 64 MB by default, so a smaller
	// bound costs nothing on a server left at its defaults).
	MemoryBytes int64
	// BatchSize bounds the changes handed to emit at once (default
	// source.DefaultBatchSize).
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
	// such as interval or inet, an array with explicit bounds, a bit
	// string over 64 bits), the source restarts from its last
	// position in text mode, logs why, and stays in text mode. timestamptz
	// values come in UTC whatever the session TimeZone.
	Binary bool
	// Retry is how lost connections are retried (defaults
	// source.DefaultRetryMin and source.DefaultRetryMax, forever;
	// Attempts -1 turns reconnecting off). A temporary slot never
	// reconnects: the server dropped it with the connection.
	Retry source.Retry
}

// Defaults.
const (
	DefaultSlot           = "sluice"
	DefaultPublication    = "sluice"
	DefaultMemoryBytes    = 4 << 20
	DefaultStatusInterval = 10 * time.Second
)

// libpqParams are the connection parameters pgconn reads (libpq's
// keywords); ParseURL passes them on, with application_name and options
// (server settings as "-c name=value").
var libpqParams = []string{"host", "port", "database", "dbname", "user", "password", "passfile", "connect_timeout",
	"sslmode", "sslkey", "sslcert", "sslcertmode", "sslrootcert", "sslnegotiation", "sslpassword", "sslsni",
	"krbspn", "krbsrvname", "target_session_attrs", "service", "servicefile", "min_protocol_version",
	"max_protocol_version", "channel_binding", "require_auth", "application_name", "options"}

// sessionSettings are server settings (GUCs, compared without case) that
// a URL may set for the session, as pgconn passes them on (TimeZone=UTC);
// any other goes in options=-c name=value. Settings that would change the
// text forms the decoder reads (DateStyle, IntervalStyle, bytea_output,
// extra_float_digits) are among them: the source sets those itself on its
// replication connection.
var sessionSettings = []string{"TimeZone", "DateStyle", "IntervalStyle", "bytea_output", "extra_float_digits",
	"client_encoding", "search_path", "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
	"idle_session_timeout", "tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "tcp_user_timeout",
	"wal_sender_timeout", "work_mem", "logical_decoding_work_mem", "jit", "role"}

var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// ParseURL reads a source address:
//
//	postgres://user:pass@host:port/db?slot=sluice&publication=sluice&create-publication=all&temporary=false
//
// Sluice's parameters: slot, publication, create-publication, temporary,
// proto-version, streaming, spill-dir, memory-bytes (a size: 4MiB),
// batch-size, status-interval, messages, binary, from, retry-min,
// retry-max, max-retries. libpq's connection parameters (sslmode,
// sslrootcert, connect_timeout, application_name, options, …) go to
// pgconn, and so do the session settings of sessionSettings (TimeZone,
// search_path, …). Any other parameter is an error that lists the known
// ones. Without sslmode the connection is libpq's default, prefer: TLS
// when the server offers it, not verified (see the package documentation
// for the modes that verify).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, address.ParseError(err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Config{}, fmt.Errorf("scheme %q: want postgres://", u.Scheme)
	}
	cfg := Config{
		Slot:              DefaultSlot,
		Publication:       DefaultPublication,
		CreatePublication: "all",
		Streaming:         true,
		MemoryBytes:       DefaultMemoryBytes,
		BatchSize:         source.DefaultBatchSize,
		StatusInterval:    DefaultStatusInterval,
	}
	p := address.NewParams(u)
	source.ReadCommon(p, &cfg.Common)
	source.ReadRetry(p, &cfg.Retry)
	source.ReadBatchSize(p, &cfg.BatchSize)
	p.String("slot", &cfg.Slot)
	p.String("publication", &cfg.Publication)
	p.String("create-publication", &cfg.CreatePublication)
	p.String("spill-dir", &cfg.SpillDir)
	p.Bool("temporary", &cfg.Temporary)
	p.Bool("streaming", &cfg.Streaming)
	p.Bool("messages", &cfg.Messages)
	p.Bool("binary", &cfg.Binary)
	p.Int("proto-version", &cfg.ProtoVersion, 0, 4)
	p.Size("memory-bytes", &cfg.MemoryBytes, 1)
	p.Duration("status-interval", &cfg.StatusInterval, time.Millisecond)
	p.KnownAs("libpq's connection parameters", libpqParams...)
	p.KnownAs("server settings (any other as options=-c name=value)", sessionSettings...)
	for k := range u.Query() {
		if slices.ContainsFunc(sessionSettings, func(g string) bool { return strings.EqualFold(g, k) }) {
			p.Known(k)
		}
	}
	if err := p.Check(); err != nil {
		return Config{}, err
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(libpqParams, k) && !slices.ContainsFunc(sessionSettings, func(g string) bool { return strings.EqualFold(g, k) }) {
			q.Del(k) // Sluice's own
		}
	}
	u.RawQuery = q.Encode()
	cfg.Conn, err = pgconn.ParseConfig(u.String())
	if err != nil {
		return Config{}, fmt.Errorf("connection settings: %w", address.RedactError(err, raw))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks the configuration and fills defaults for zero fields.
func (c *Config) Validate() error {
	if c.Conn == nil {
		return fmt.Errorf("postgres: config has no connection settings")
	}
	if err := c.CheckSnapshot(); err != nil {
		return fmt.Errorf("postgres: config: %w", err)
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
		c.BatchSize = source.DefaultBatchSize
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if err := c.Retry.Validate(); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	switch c.Start {
	case source.StartDefault, source.StartEarliest, source.StartLatest:
	default:
		return fmt.Errorf("postgres: start %q: want latest or earliest", c.Start)
	}
	c.Logger = c.Log()
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
