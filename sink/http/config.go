package http

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/tlsparam"
)

// Body is how a request's body holds its messages.
type Body string

// The body forms.
const (
	// BodyNDJSON is one message per line (application/x-ndjson).
	BodyNDJSON Body = "ndjson"
	// BodyArray is a JSON array of the messages (application/json).
	BodyArray Body = "array"
)

// Defaults of Config.
const (
	// DefaultSignatureHeader is the header of the body's HMAC-SHA256
	// signature.
	DefaultSignatureHeader = "X-Sluice-Signature"
	// DefaultTimeout bounds one request.
	DefaultTimeout = 30 * time.Second
	// DefaultBackoffMax caps the wait between two attempts of a request.
	DefaultBackoffMax = 30 * time.Second
	// DefaultRetryFor is how long a request is retried before the error
	// stops the pipeline.
	DefaultRetryFor = 5 * time.Minute
	// DefaultMaxBytes and DefaultMaxMessages bound one request's body.
	DefaultMaxBytes    = 1 << 20
	DefaultMaxMessages = 1000
)

// Config configures a Sink.
type Config struct {
	// URL is the webhook: scheme, host, path and the query of Query,
	// without userinfo.
	URL string
	// User and Password, when set, authenticate with HTTP Basic.
	User, Password string
	// Token, when set, is sent as Authorization: Bearer TOKEN.
	Token string
	// Secret, when set, signs every body: the header SignatureHeader
	// holds "sha256=" and the hex HMAC-SHA256 of the body under Secret.
	Secret []byte
	// SignatureHeader names the signature header (DefaultSignatureHeader).
	SignatureHeader string
	// Body is BodyNDJSON (default) or BodyArray.
	Body Body
	// MaxBytes and MaxMessages bound a request: a batch larger than that
	// is sent in several requests (DefaultMaxBytes, DefaultMaxMessages).
	MaxBytes    int
	MaxMessages int
	// Timeout bounds one attempt of a request (DefaultTimeout).
	Timeout time.Duration
	// BackoffMax caps the wait between attempts (DefaultBackoffMax).
	BackoffMax time.Duration
	// RetryFor bounds the retries of a request (DefaultRetryFor).
	RetryFor time.Duration
	// TLS, when set, is the client TLS configuration.
	TLS *tls.Config
	// Format is the output format with its options, as package format
	// parses it; default Sluice JSON.
	Format string
	// Logger receives notes; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.SignatureHeader == "" {
		c.SignatureHeader = DefaultSignatureHeader
	}
	if c.Body == "" {
		c.Body = BodyNDJSON
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = DefaultMaxMessages
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
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
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("webhook URL: %w", address.ParseError(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("webhook URL scheme %q: want http or https", u.Scheme)
	case u.Host == "":
		return errors.New("webhook URL: no host")
	case u.User != nil:
		return errors.New("webhook URL: credentials go in Config.User and Password")
	case c.Body != BodyNDJSON && c.Body != BodyArray:
		return fmt.Errorf("body %q: want ndjson or array", c.Body)
	case c.MaxBytes < 1 || c.MaxMessages < 1:
		return errors.New("max-bytes and max-messages must be positive")
	case c.Token != "" && (c.User != "" || c.Password != ""):
		return errors.New("a token and a user or password do not go together")
	case !validHeaderName(c.SignatureHeader):
		return fmt.Errorf("signature-header %q: not a header name", c.SignatureHeader)
	}
	f, err := format.Parse(c.Format)
	if err != nil {
		return err
	}
	if _, err := f.New(format.Target{}); err != nil {
		return fmt.Errorf("%w (a request's body holds many messages: formats that put data in headers cannot be sent)", err)
	}
	return nil
}

// validHeaderName reports whether s is an HTTP header name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// ParseURL reads an http:// or https:// URL:
//
//	http[s]://[USER:PASSWORD@]HOST[:PORT]/PATH[?PARAMETERS]
//
// Parameters: body, secret, secret-file, signature-header, token,
// max-bytes, max-messages, timeout, backoff-max, retry-for, query, and
// the TLS parameters tls, tls-ca, tls-cert, tls-key, tls-server-name
// (see the package documentation). Unknown parameters are
// errors: the webhook's own query goes in query. Its errors do not repeat
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
	if u.Scheme != "http" && u.Scheme != "https" {
		return c, fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	p := address.NewParams(u)
	var body, secretFile, query string
	p.Enum("body", &body, string(BodyNDJSON), string(BodyArray))
	c.Body = Body(body)
	var secret string
	p.String("secret", &secret)
	p.String("secret-file", &secretFile)
	p.String("signature-header", &c.SignatureHeader)
	p.String("token", &c.Token)
	var maxBytes int64
	p.Size("max-bytes", &maxBytes, 1024)
	c.MaxBytes = int(maxBytes)
	p.Int("max-messages", &c.MaxMessages, 1, 1<<20)
	p.Duration("timeout", &c.Timeout, 100*time.Millisecond)
	p.Duration("backoff-max", &c.BackoffMax, 10*time.Millisecond)
	p.Duration("retry-for", &c.RetryFor, time.Second)
	p.String("query", &query)
	tp := tlsparam.ReadSink(p)
	if err := p.Check(); err != nil {
		return c, err
	}
	switch {
	case secret != "" && secretFile != "":
		return c, errors.New("secret and secret-file do not go together")
	case secretFile != "":
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return c, fmt.Errorf("secret-file: %w", err)
		}
		if b = []byte(strings.TrimRight(string(b), "\r\n")); len(b) == 0 {
			return c, fmt.Errorf("secret-file %s is empty", secretFile)
		}
		c.Secret = b
	case secret != "":
		c.Secret = []byte(secret)
	}
	if tp.Wanted() && u.Scheme == "http" {
		return c, errors.New("tls parameters need an https:// URL")
	}
	tc, err := tp.Config(u.Scheme == "https", "")
	if err != nil {
		return c, err
	}
	c.TLS = tc
	hook := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: query}
	if hook.Path == "" {
		hook.Path = "/"
	}
	c.URL = hook.String()
	d := c.withDefaults()
	if err := d.validate(); err != nil {
		return c, err
	}
	return c, nil
}
