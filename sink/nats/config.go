package nats

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// Defaults of Config.
const (
	// DefaultPort is the port of a server address without one.
	DefaultPort = "4222"
	// DefaultPrefix is what {prefix} stands for.
	DefaultPrefix = "sluice"
	// DefaultSubject is the subject template.
	DefaultSubject = "{prefix}.{db}.{table}"
	// DefaultBucket is the key-value bucket of checkpoint=kv.
	DefaultBucket = "sluice_positions"
	// DefaultMaxPending bounds the messages published and not yet
	// acknowledged.
	DefaultMaxPending = 1024
	// DefaultAckTimeout is how long a publish waits for its
	// acknowledgement before it counts as failed (and is sent again).
	DefaultAckTimeout = 10 * time.Second
	// DefaultDuplicates is the duplicate window of a stream the sink
	// creates: JetStream's own default.
	DefaultDuplicates = 2 * time.Minute
	// DefaultRetryFor is how long a batch that makes no progress (the
	// server unreachable) is retried before the error stops the pipeline.
	DefaultRetryFor = 5 * time.Minute
)

// Config configures a Sink.
type Config struct {
	// Servers are the seed servers, host:port.
	Servers []string
	// User and Password, or Token, authenticate; Creds names a
	// credentials file (JWT and NKey seed), NKey an NKey seed file.
	User, Password, Token, Creds, NKey string
	// TLS, when set, is the client TLS configuration.
	TLS *tls.Config
	// Stream is the JetStream stream the messages go to; every subject the
	// sink publishes to must be one of its subjects.
	Stream string
	// CreateStream creates the stream when it does not exist, with the
	// template's subjects ({db} and {table} as wildcards), {prefix} and
	// {prefix}.transaction, file storage and a duplicate window of
	// Duplicates.
	CreateStream bool
	// Duplicates is the duplicate window of a created stream (default
	// DefaultDuplicates).
	Duplicates time.Duration
	// Subject is the subject template: {prefix}, {db} and {table} are
	// replaced (characters a subject token may not hold become '_').
	// Default DefaultSubject.
	Subject string
	// Prefix is what {prefix} stands for, and the subject of DDL without
	// a table ({prefix}) and of begin and commit events
	// ({prefix}.transaction). Default DefaultPrefix.
	Prefix string
	// Unordered publishes without Nats-Expected-Last-Msg-Id: for a stream
	// other publishers write too, at the price of order when a message is
	// sent again (see the package documentation).
	Unordered bool
	// MaxPending bounds the messages in flight (DefaultMaxPending).
	MaxPending int
	// AckTimeout bounds the wait for one acknowledgement
	// (DefaultAckTimeout).
	AckTimeout time.Duration
	// Checkpoint is "" (the pipeline's own store keeps the position) or
	// "kv": the sink keeps it in the key-value bucket Bucket.
	Checkpoint string
	// Bucket is the key-value bucket of Checkpoint "kv" (DefaultBucket),
	// created if missing.
	Bucket string
	// NoHeaders leaves out the op, db, table and position headers.
	NoHeaders bool
	// Format is the output format with its options, as package format
	// parses it; default Sluice JSON.
	Format string
	// RetryFor bounds the retries of a batch that makes no progress
	// (DefaultRetryFor).
	RetryFor time.Duration
	// Logger receives notes; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Subject == "" {
		c.Subject = DefaultSubject
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.RetryFor == 0 {
		c.RetryFor = DefaultRetryFor
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks a Config with its defaults.
func (c *Config) validate() error {
	switch {
	case len(c.Servers) == 0:
		return errors.New("no server address")
	case c.Stream == "":
		return errors.New("no stream: give ?stream=NAME, the JetStream stream whose subjects the messages go to")
	case strings.ContainsAny(c.Stream, ". *>\t\r\n/\\"):
		return fmt.Errorf("stream name %q: JetStream does not allow '.', '*', '>', '/', '\\' or spaces in it", c.Stream)
	case c.Checkpoint != "" && c.Checkpoint != "kv":
		return fmt.Errorf("checkpoint %q: want kv (or leave it out: the pipeline's state file)", c.Checkpoint)
	case c.MaxPending < 1:
		return fmt.Errorf("max-pending %d: want at least 1", c.MaxPending)
	case c.Token != "" && (c.User != "" || c.Password != ""):
		return errors.New("a token and a user or password do not go together")
	case c.Creds != "" && c.NKey != "":
		return errors.New("creds and nkey do not go together")
	}
	if !validToken(c.Prefix) {
		return fmt.Errorf("prefix %q: want letters, digits, '-' or '_' (a subject token)", c.Prefix)
	}
	if rest := strings.NewReplacer("{prefix}", "", "{db}", "", "{table}", "").Replace(c.Subject); strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("subject template %q: only {prefix}, {db} and {table} are replaced", c.Subject)
	}
	if err := checkSubject(expandSubject(c.Subject, c.Prefix, "db", "table")); err != nil {
		return fmt.Errorf("subject template %q: %w", c.Subject, err)
	}
	if !validBucket(c.Bucket) {
		return fmt.Errorf("bucket %q: want letters, digits, '-' or '_'", c.Bucket)
	}
	if _, err := format.Parse(c.Format); err != nil {
		return err
	}
	return nil
}

// validBucket reports whether JetStream accepts name as a bucket.
func validBucket(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ParseURL reads a nats:// URL:
//
//	nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT][,HOST[:PORT]…]/?stream=NAME[&PARAMETERS]
//
// Parameters: stream, subject, prefix, create-stream, duplicates,
// ordered, max-pending, ack-timeout, checkpoint, bucket, headers, token,
// creds, nkey, retry-for, and the TLS parameters tls, tls-ca, tls-cert,
// tls-key, tls-server-name (see the package
// documentation). Unknown parameters are errors. Its errors do not repeat
// the URL.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("malformed URL: %w", address.ParseError(err))
	}
	return FromURL(u)
}

// FromURL is ParseURL of a parsed URL.
func FromURL(u *url.URL) (Config, error) {
	var c Config
	if u.Scheme != "nats" {
		return c, fmt.Errorf("scheme %q: want nats", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("path %q: the subject goes in ?subject=", u.Path)
	}
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), DefaultPort)
		}
		c.Servers = append(c.Servers, h)
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			c.User, c.Password = u.User.Username(), pw
		} else {
			c.Token = u.User.Username() // nats://TOKEN@host, as nats.go reads it
		}
	}
	p := address.NewParams(u)
	p.String("stream", &c.Stream)
	p.String("subject", &c.Subject)
	p.String("prefix", &c.Prefix)
	p.Bool("create-stream", &c.CreateStream)
	p.Duration("duplicates", &c.Duplicates, time.Second)
	ordered := true
	p.Bool("ordered", &ordered)
	c.Unordered = !ordered
	p.Int("max-pending", &c.MaxPending, 1, 1<<20)
	p.Duration("ack-timeout", &c.AckTimeout, 100*time.Millisecond)
	p.Enum("checkpoint", &c.Checkpoint, "kv")
	p.String("bucket", &c.Bucket)
	headers := true
	p.Bool("headers", &headers)
	c.NoHeaders = !headers
	p.String("token", &c.Token)
	p.String("creds", &c.Creds)
	p.String("nkey", &c.NKey)
	p.Duration("retry-for", &c.RetryFor, time.Second)
	tp := tlsparam.ReadSink(p)
	if err := p.Check(); err != nil {
		return c, err
	}
	// Without tls-server-name, nats.go checks each server's own name.
	tc, err := tp.Config(false, "")
	if err != nil {
		return c, err
	}
	c.TLS = tc
	d := c.withDefaults()
	if err := d.validate(); err != nil {
		return c, err
	}
	return c, nil
}
