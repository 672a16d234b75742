package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// Mode is what the sink makes of the changes.
type Mode string

// The modes.
const (
	// ModeStream adds every change to a Redis stream (XADD), one stream per
	// table by default; the batch and the pipeline's position are written
	// in one atomic step: exactly once.
	ModeStream Mode = "stream"
	// ModeHash keeps a mirror of each table's rows, one key per row, with
	// the position written in the same atomic step: the keys always hold
	// the rows as of a point of the source's log.
	ModeHash Mode = "hash"
	// ModePubSub publishes every change on a channel (PUBLISH): Redis keeps
	// nothing, so a subscriber that is not connected misses the change.
	ModePubSub Mode = "pubsub"
)

// Value is how hash mode stores a row.
type Value string

// The row forms of hash mode.
const (
	// ValueHash stores a row as a Redis hash: a field per column holding
	// the value as text (change.AppendText), NULL columns left out.
	ValueHash Value = "hash"
	// ValueJSON stores a row as a string holding a JSON object: the row
	// as Sluice JSON writes its "after" member.
	ValueJSON Value = "json"
)

// Defaults of Config.
const (
	// DefaultPort is the port of an address without one.
	DefaultPort = "6379"
	// DefaultPrefix is what {prefix} stands for.
	DefaultPrefix = "sluice"
	// DefaultStream is the stream template of stream mode.
	DefaultStream = "{prefix}:{db}:{table}"
	// DefaultKey is the row key template of hash mode.
	DefaultKey = "{prefix}:{db}:{table}:{key}"
	// DefaultChannel is the channel template of pubsub mode.
	DefaultChannel = "{prefix}:{db}:{table}"
	// DefaultPositions is the key of the hash holding the pipelines'
	// positions (field: the pipeline's name).
	DefaultPositions = "{prefix}:positions"
	// DefaultRetryFor is how long a write that fails for a reason a new
	// attempt may overcome (a lost connection, a restarting server) is
	// retried before the error stops the pipeline.
	DefaultRetryFor = 5 * time.Minute
)

// Config configures a Sink.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// User and Password authenticate (AUTH, or an ACL user with AUTH
	// user password).
	User, Password string
	// DB is the database number (SELECT).
	DB int
	// TLS, when set, is the client TLS configuration.
	TLS *tls.Config
	// Mode is ModeStream (default), ModeHash or ModePubSub.
	Mode Mode
	// Prefix is what {prefix} stands for in the templates. Default
	// DefaultPrefix.
	Prefix string
	// Stream, Key and Channel are the name templates of stream, hash and
	// pubsub mode: {prefix}, {db}, {table} and (Key) {key} are replaced.
	Stream, Key, Channel string
	// MaxLen, when positive, trims every stream to about that many entries
	// (XADD … MAXLEN ~ MaxLen).
	MaxLen int64
	// Value is how hash mode stores rows (default ValueHash).
	Value Value
	// Positions is the key of the hash where the sink keeps the
	// pipeline's position (template: {prefix}). Default DefaultPositions.
	Positions string
	// Format is the output format of stream and pubsub mode, as package
	// format parses it; default Sluice JSON.
	Format string
	// RetryFor bounds the retries of a failing write (DefaultRetryFor).
	RetryFor time.Duration
	// Logger receives notes; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeStream
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Key == "" {
		c.Key = DefaultKey
	}
	if c.Channel == "" {
		c.Channel = DefaultChannel
	}
	if c.Value == "" {
		c.Value = ValueHash
	}
	if c.Positions == "" {
		c.Positions = DefaultPositions
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
	case c.Addr == "":
		return errors.New("no server address")
	case c.Mode != ModeStream && c.Mode != ModeHash && c.Mode != ModePubSub:
		return fmt.Errorf("mode %q: want stream, hash or pubsub", c.Mode)
	case c.Value != ValueHash && c.Value != ValueJSON:
		return fmt.Errorf("value %q: want hash or json", c.Value)
	case c.DB < 0:
		return fmt.Errorf("database number %d: want 0 or more", c.DB)
	case c.MaxLen < 0:
		return fmt.Errorf("maxlen %d: want 0 (no trimming) or more", c.MaxLen)
	case c.RetryFor < 0:
		return errors.New("negative retry-for")
	}
	for _, t := range []struct{ name, tmpl, extra string }{
		{"stream", c.Stream, ""}, {"key", c.Key, "{key}"}, {"channel", c.Channel, ""}, {"positions", c.Positions, "-"},
	} {
		if err := checkTemplate(t.name, t.tmpl, t.extra); err != nil {
			return err
		}
	}
	if c.Mode == ModeHash && !strings.Contains(c.Key, "{key}") {
		return fmt.Errorf("key template %q: hash mode needs {key} in it", c.Key)
	}
	if _, err := format.Parse(c.Format); err != nil {
		return err
	}
	return nil
}

// checkTemplate checks that a template holds only the placeholders it
// may: {prefix}, {db} and {table}, and extra ("-": {prefix} alone).
func checkTemplate(name, tmpl, extra string) error {
	if tmpl == "" {
		return fmt.Errorf("empty %s template", name)
	}
	olds := []string{"{prefix}", "", "{db}", "", "{table}", ""}
	if extra == "-" {
		olds = olds[:2]
	} else if extra != "" {
		olds = append(olds, extra, "")
	}
	if rest := strings.NewReplacer(olds...).Replace(tmpl); strings.ContainsAny(rest, "{}") {
		allowed := "{prefix}, {db} and {table}"
		switch extra {
		case "-":
			allowed = "{prefix}"
		case "":
		default:
			allowed = "{prefix}, {db}, {table} and " + extra
		}
		return fmt.Errorf("%s template %q: only %s are replaced", name, tmpl, allowed)
	}
	return nil
}

// ParseURL reads a redis:// or rediss:// (TLS) URL:
//
//	redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?PARAMETERS]
//
// Parameters: mode, prefix, stream, key, channel, maxlen, value,
// positions, retry-for and the TLS parameters tls, tls-ca, tls-cert,
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
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return c, fmt.Errorf("scheme %q: want redis or rediss", u.Scheme)
	}
	host := u.Host
	if host == "" {
		return c, errors.New("no server address: want redis://HOST[:PORT]/")
	}
	if strings.Contains(host, ",") {
		return c, errors.New("one server address only (Redis Cluster and Sentinel are not supported)")
	}
	if u.Port() == "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), DefaultPort)
	}
	c.Addr = host
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return c, fmt.Errorf("path %q: want the database number, /0 to /15", u.Path)
		}
		c.DB = n
	}
	p := address.NewParams(u)
	var mode, value string
	p.Enum("mode", &mode, string(ModeStream), string(ModeHash), string(ModePubSub))
	c.Mode = Mode(mode)
	p.String("prefix", &c.Prefix)
	p.String("stream", &c.Stream)
	p.String("key", &c.Key)
	p.String("channel", &c.Channel)
	var maxLen int
	p.Int("maxlen", &maxLen, 0, 1<<62)
	c.MaxLen = int64(maxLen)
	p.Enum("value", &value, string(ValueHash), string(ValueJSON))
	c.Value = Value(value)
	p.String("positions", &c.Positions)
	p.Duration("retry-for", &c.RetryFor, time.Second)
	tp := tlsparam.ReadSink(p)
	if err := p.Check(); err != nil {
		return c, err
	}
	tc, err := tp.Config(u.Scheme == "rediss", u.Hostname())
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
