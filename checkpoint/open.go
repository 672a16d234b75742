package checkpoint

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/sluice-cdc/sluice/address"
)

// Config is what an Opener receives besides the URL.
type Config struct {
	// Logger receives the store's notes; nil discards them.
	Logger *slog.Logger
}

// StoreCloser is a Store opened from an address; Close releases its file
// or connections.
type StoreCloser interface {
	Store
	io.Closer
}

// Opener opens the store a URL names. Its errors need not repeat the URL:
// Open adds it, redacted.
type Opener func(ctx context.Context, u *url.URL, cfg Config) (StoreCloser, error)

// Registry maps URL schemes to Openers. Package stores registers the
// stores Sluice ships.
type Registry = address.Registry[Opener]

// NewRegistry returns an empty store Registry.
func NewRegistry() *Registry { return address.NewRegistry[Opener]("checkpoint store") }

// Open opens the store raw names, looked up in r. Text without "://" is
// the path of a bbolt state file, opened by the opener registered as
// "file" (as file:///path would be). Errors name the address with its
// secrets masked:
//
//	checkpoint store etcd://u:***@10.0.0.7:2379/sluice: dial: context deadline exceeded
func Open(ctx context.Context, r *Registry, raw string, cfg Config) (StoreCloser, error) {
	var u *url.URL
	var open Opener
	var err error
	if IsPath(raw) {
		u = &url.URL{Scheme: "file", Path: raw}
		_, open, err = r.Lookup("file:///")
	} else {
		u, open, err = r.Lookup(raw)
	}
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, u, cfg)
	if err != nil {
		return nil, r.Wrap(raw, err)
	}
	return s, nil
}

// IsPath reports whether a --state value is a file path rather than a
// URL: it has no "://".
func IsPath(raw string) bool { return !strings.Contains(raw, "://") }

// ErrBadURL matches (errors.Is) the errors of a store that refuses its
// URL — an unknown parameter, a malformed value — as opposed to a failure
// to reach the store. The CLI reports them as usage errors.
var ErrBadURL = errors.New("bad checkpoint store URL")

// BadURL marks err as ErrBadURL without changing its text (nil stays nil).
func BadURL(err error) error {
	if err == nil {
		return nil
	}
	return badURL{err}
}

type badURL struct{ err error }

func (e badURL) Error() string   { return e.err.Error() }
func (e badURL) Unwrap() []error { return []error{e.err, ErrBadURL} }
