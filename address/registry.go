package address

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// ErrUnknownScheme is returned (wrapped) for a URL whose scheme no one registered.
var ErrUnknownScheme = errors.New("unknown URL scheme")

// ErrMalformed is returned (wrapped) for text that is not a URL.
var ErrMalformed = errors.New("malformed URL")

// Registry maps URL schemes to values of type F (the functions that open
// a source, a sink or a store). It is safe for concurrent use.
type Registry[F any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]F
}

// NewRegistry returns an empty Registry. kind names what its URLs address
// ("source", "sink", "store") in error messages.
func NewRegistry[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, m: make(map[string]F)}
}

// Register adds f for scheme (case-insensitive, without "://").
// Registering a scheme twice is an error.
func (r *Registry[F]) Register(scheme string, f F) error {
	scheme = strings.ToLower(scheme)
	if scheme == "" {
		return fmt.Errorf("register %s: empty scheme", r.kind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[scheme]; dup {
		return fmt.Errorf("register %s %q: already registered", r.kind, scheme)
	}
	r.m[scheme] = f
	return nil
}

// Schemes lists the registered schemes, sorted.
func (r *Registry[F]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for s := range r.m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Lookup parses raw and returns it with the value registered for its
// scheme. Its errors name the kind and show raw redacted:
//
//	source mysq://repl:***@db/: unknown URL scheme "mysq" (registered: mariadb, mysql, …)
func (r *Registry[F]) Lookup(raw string) (*url.URL, F, error) {
	var zero F
	u, err := url.Parse(raw)
	if err != nil {
		return nil, zero, fmt.Errorf("%s %s: %w", r.kind, Redact(raw), markedError{ParseError(err), ErrMalformed})
	}
	if u.Scheme == "" {
		return nil, zero, fmt.Errorf("%s %s: %w: want scheme://… (registered schemes: %s)", r.kind, Redact(raw), ErrMalformed, strings.Join(r.Schemes(), ", "))
	}
	r.mu.RLock()
	f, ok := r.m[strings.ToLower(u.Scheme)]
	r.mu.RUnlock()
	if !ok {
		return nil, zero, fmt.Errorf("%s %s: %w %q (registered: %s)", r.kind, Redact(raw), ErrUnknownScheme, u.Scheme, strings.Join(r.Schemes(), ", "))
	}
	return u, f, nil
}

// Wrap gives an error that opening raw returned the context of the
// address, redacted, and masks raw's secrets in its text:
//
//	source postgres://u:***@db/x: connect: …
//
// It returns nil for a nil err.
func (r *Registry[F]) Wrap(raw string, err error) error {
	if err == nil {
		return nil
	}
	return RedactError(fmt.Errorf("%s %s: %w", r.kind, Redact(raw), err), raw)
}

// markedError shows err's text and matches (errors.Is) both err and mark.
type markedError struct{ err, mark error }

func (e markedError) Error() string   { return e.err.Error() }
func (e markedError) Unwrap() []error { return []error{e.err, e.mark} }
