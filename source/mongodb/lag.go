package mongodb

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
)

// Lag implements source.Lagger: Seconds is the time between at's oplog
// timestamp and the newest oplog entry's (0 when at is the newest). It
// reads local.oplog.rs, so it needs a replica set (or FerretDB's oplog).
func (s *Source) Lag(ctx context.Context, at change.Position) (source.Lag, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(s.cfg.URI))
	if err != nil {
		return source.Lag{}, fmt.Errorf("mongodb: lag: connect: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(dctx)
	}()
	ts, err := edgeTS(ctx, client.Database("local").Collection("oplog.rs"), -1)
	if err != nil {
		return source.Lag{}, fmt.Errorf("mongodb: lag: %w", unreachable(err))
	}
	lag := source.Lag{Head: change.Position{Flavor: change.FlavorMongo, Offset: ts}, Bytes: -1, Seconds: -1, Retained: -1}
	if at.Flavor == change.FlavorMongo && at.Offset > 0 {
		lag.Seconds = max(float64(int64(ts>>32)-int64(at.Offset>>32)), 0)
	}
	return lag, nil
}
