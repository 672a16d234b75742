// Package sink is the contract of Sluice's destinations and the registry
// that opens one from its URL. Each destination lives in its own package
// under sink/ (sink/stdout, sink/file, …) and knows nothing of the others;
// package sinks registers those Sluice ships.
//
// A sink is a pipeline.Sink: its Write returns nil only when the whole
// batch is durable at the destination, and the pipeline checkpoints on that
// acknowledgement. Write must not keep the batch or its values after it
// returns. (A destination that acknowledges later is a pipeline.AsyncSink.)
package sink

import (
	"context"
	"log/slog"
	"net/url"

	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Config is what an Opener receives besides the URL.
type Config struct {
	// Logger receives the sink's notes; nil discards them.
	Logger *slog.Logger
	// Format is the format, with its options, of the messages a sink that
	// writes bytes sends: "debezium?schemas=true" (package format: Parse,
	// New). Empty is Sluice JSON. Each such sink builds its encoder with
	// format.New(cfg.Format, format.Target{…}); sinks that do not write
	// bytes ignore it.
	Format string
}

// Opener opens the sink a URL names. Its errors need not repeat the URL:
// Open adds it, redacted.
type Opener func(ctx context.Context, u *url.URL, cfg Config) (pipeline.Sink, error)

// Registry maps URL schemes to Openers.
type Registry = address.Registry[Opener]

// NewRegistry returns an empty sink Registry.
func NewRegistry() *Registry { return address.NewRegistry[Opener]("sink") }

// Open opens the sink raw names, looked up in r. Errors name the address
// with its secrets masked:
//
//	sink file:///x/changes.jsonl: open /x/changes.jsonl: no such file or directory
func Open(ctx context.Context, r *Registry, raw string, cfg Config) (pipeline.Sink, error) {
	u, open, err := r.Lookup(raw)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, u, cfg)
	if err != nil {
		return nil, r.Wrap(raw, err)
	}
	return s, nil
}
