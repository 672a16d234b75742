package main

import (
	"context"
	"net/url"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source/mongodb"
)

// The mongodb:// and mongodb+srv:// source schemes.
func init() {
	for _, scheme := range []string{"mongodb", "mongodb+srv"} {
		// An error means main registered the scheme itself; that one stands.
		_ = sluice.RegisterSource(scheme, mongodbSource)
	}
}

// mongodbSource builds a MongoDB source (change streams, or the oplog with
// ?mode=oplog) from its URL; --from latest|earliest overrides the URL's
// from parameter.
func mongodbSource(_ context.Context, u *url.URL, sc sluice.SourceConfig) (pipeline.Source, error) {
	cfg, err := mongodb.ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	switch sc.Start {
	case sluice.StartLatest:
		cfg.From = mongodb.StartLatest
	case sluice.StartEarliest:
		cfg.From = mongodb.StartEarliest
	}
	if sc.Logger != nil {
		cfg.Logger = sc.Logger
	}
	return mongodb.New(cfg)
}
