package mongodb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// snapshotRun reads every collection in scope in _id order and hands the
// documents to emit: all of them (resume zero), or what is left after the
// progress resume of an earlier run that delivered lastRow rows at point.
// MongoDB has no consistent view to read in: the point is the oplog's
// newest entry before the read, and the stream that follows starts there,
// so a document changed while its part was being read comes again through
// the stream (applying changes by _id as upserts ends in the same
// documents). It returns the point.
func (s *Source) snapshotRun(ctx context.Context, client *mongo.Client, resume snapshot.State, lastRow uint64, point change.Position,
	emit func([]change.Change) error) (change.Position, error) {
	if point.IsZero() {
		ts, err := edgeTS(ctx, client.Database("local").Collection("oplog.rs"), -1)
		if err != nil {
			return point, fmt.Errorf("mongodb: snapshot: the oplog's newest entry: %w", err)
		}
		if ts == 0 {
			return point, errors.New("mongodb: snapshot: the oplog is empty: no point to start the stream at")
		}
		point = change.Position{Flavor: change.FlavorMongo, Offset: ts}
		s.cfg.Logger.Info("snapshot: the stream starts at the oplog's newest entry before the read", "ts", tsText(ts))
	} else {
		s.cfg.Logger.Info("snapshot: resuming; the stream starts at the first run's point", "ts", tsText(point.Offset))
	}
	tables, err := s.collections(ctx, client)
	if err != nil {
		return point, err
	}
	workers := s.cfg.Snapshot.Workers
	if workers <= 0 {
		workers = snapshot.DefaultWorkers
	}
	run := &snapshot.Run{Options: s.cfg.Snapshot, Source: "mongodb", Point: point, Tables: tables, Resume: resume, LastRow: lastRow, Logger: s.cfg.Logger}
	for range workers {
		run.Readers = append(run.Readers, &mongoReader{client: client})
	}
	_, err = snapshot.Do(ctx, run, emit)
	return point, err
}

// collections lists the collections in the source's scope (its database
// and collection, else every database but admin, config and local),
// leaving out views and system collections.
func (s *Source) collections(ctx context.Context, client *mongo.Client) ([]*snapshot.Table, error) {
	dbs := []string{s.cfg.Database}
	if s.cfg.Database == "" {
		names, err := client.ListDatabaseNames(ctx, bson.D{})
		if err != nil {
			return nil, fmt.Errorf("mongodb: snapshot: list databases: %w", err)
		}
		dbs = dbs[:0]
		for _, n := range names {
			if n != "admin" && n != "config" && n != "local" {
				dbs = append(dbs, n)
			}
		}
	}
	var out []*snapshot.Table
	for _, db := range dbs {
		filter := bson.D{}
		if s.cfg.Collection != "" {
			filter = bson.D{{Key: "name", Value: s.cfg.Collection}}
		}
		specs, err := client.Database(db).ListCollectionSpecifications(ctx, filter)
		if err != nil {
			return nil, fmt.Errorf("mongodb: snapshot: list the collections of %s: %w", db, err)
		}
		for _, sp := range specs {
			if sp.Type == "view" || strings.HasPrefix(sp.Name, "system.") {
				continue
			}
			n, err := client.Database(db).Collection(sp.Name).EstimatedDocumentCount(ctx)
			if err != nil {
				n = -1
			}
			// _id is every document's first field.
			out = append(out, &snapshot.Table{Namespace: change.Namespace{Database: db, Table: sp.Name}, Key: []int{0}, Rows: n})
		}
	}
	return out, nil
}

// mongoReader reads a collection in _id order by keyset pages.
type mongoReader struct {
	client *mongo.Client
}

// Read reads documents of t (see snapshot.Reader).
func (r *mongoReader) Read(ctx context.Context, t *snapshot.Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	filter := bson.D{}
	if after != nil {
		id, err := bsonValue(after[0])
		if err != nil {
			return 0, fmt.Errorf("_id of %s.%s: %w", t.Database, t.Table, err)
		}
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: id}}}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit)).SetBatchSize(int32(min(limit, 1000)))
	}
	cur, err := r.client.Database(t.Database).Collection(t.Table).Find(ctx, filter, opts)
	if err != nil {
		return 0, err
	}
	defer cur.Close(context.Background())
	n := 0
	for cur.Next(ctx) {
		cols, vals, err := rowImage(cur.Current)
		if err != nil {
			return n, err
		}
		if len(cols) == 0 || cols[0].Name != "_id" {
			return n, fmt.Errorf("a document of %s.%s does not start with _id", t.Database, t.Table)
		}
		n++
		if err := row(cols, vals); err != nil {
			return n, err
		}
	}
	return n, cur.Err()
}

// bsonValue turns an _id, as rowImage gave it, back into a BSON value for
// a query. Documents and arrays are not supported as keys to page by.
func bsonValue(v change.Value) (any, error) {
	switch v.Kind {
	case change.KindObjectID:
		var id bson.ObjectID
		copy(id[:], v.B)
		return id, nil
	case change.KindInt:
		if v.Size == 32 {
			return int32(v.I), nil
		}
		return v.I, nil
	case change.KindFloat:
		return v.F, nil
	case change.KindString:
		return string(v.B), nil
	case change.KindBool:
		return v.I != 0, nil
	case change.KindDecimal:
		return bson.ParseDecimal128(string(v.B))
	case change.KindTimestamp:
		return bson.DateTime(v.I*1000 + int64(v.U/1e6)), nil
	case change.KindBytes:
		return bson.Binary{Subtype: byte(v.U), Data: v.B}, nil
	}
	return nil, fmt.Errorf("an _id of kind %s cannot be paged by", v.Kind)
}
