// Package sink opens Sluice sinks by URL. Each destination lives in its
// own package under sink/ (sink/stdout, sink/file, …) and knows nothing of
// the others; a Registry maps URL schemes to the functions that open them.
// A new destination (kafka, nats, redis, http …) is a package under sink/
// plus one line in BuiltinTo.
//
// A Sink's Write returns nil only when the whole batch is durable at the
// destination; the pipeline checkpoints on that acknowledgement. Write must
// not keep the batch or its values after it returns.
package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/sink/file"
	"github.com/sluice-cdc/sluice/sink/stdout"
)

// Sink delivers batches of changes; it is the same method set as
// pipeline.Sink, so any Sink is a pipeline.Sink.
type Sink interface {
	Write(ctx context.Context, batch []change.Change) error
	Close() error
}

// Opener opens the sink a URL names.
type Opener func(ctx context.Context, u *url.URL) (Sink, error)

// ErrUnknownScheme is returned (wrapped) by Open for a scheme nobody registered.
var ErrUnknownScheme = errors.New("sink: unknown URL scheme")

// Registry maps URL schemes to Openers. It is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Opener
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{m: make(map[string]Opener)} }

// Builtin returns a new Registry holding the sinks that ship with Sluice:
// stdout:// and file:///path.jsonl.
func Builtin() *Registry { return BuiltinTo(os.Stdout) }

// BuiltinTo is Builtin with stdout:// writing to w (a command's own output
// stream, a test buffer).
func BuiltinTo(w io.Writer) *Registry {
	r := NewRegistry()
	r.m["stdout"] = func(ctx context.Context, u *url.URL) (Sink, error) { return stdout.FromURLTo(u, w) }
	r.m["file"] = func(ctx context.Context, u *url.URL) (Sink, error) { return file.FromURL(u) }
	return r
}

// Register adds an Opener for scheme (case-insensitive, without "://").
// Registering a scheme twice is an error.
func (r *Registry) Register(scheme string, open Opener) error {
	scheme = strings.ToLower(scheme)
	if scheme == "" || open == nil {
		return errors.New("sink: register: empty scheme or nil opener")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[scheme]; dup {
		return fmt.Errorf("sink: register %q: already registered", scheme)
	}
	r.m[scheme] = open
	return nil
}

// Schemes lists the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for s := range r.m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open parses rawURL and opens the sink its scheme names. Errors show the
// URL with its password replaced by "***".
func (r *Registry) Open(ctx context.Context, rawURL string) (Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sink: parse URL: %w", redactErr(err))
	}
	r.mu.RLock()
	open := r.m[strings.ToLower(u.Scheme)]
	r.mu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("sink: open %s: %w %q (have %s)", u.Redacted(), ErrUnknownScheme, u.Scheme, strings.Join(r.Schemes(), ", "))
	}
	s, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("sink: open %s: %w", u.Redacted(), err)
	}
	return s, nil
}

// redactErr drops the URL from a url.Parse error, whose text quotes it
// with any password it holds.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
