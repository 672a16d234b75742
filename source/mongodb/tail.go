package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// tailOplog reads local.oplog.rs with a tailable await cursor filtered by
// ts > from (ts >= from when from is inside a multi-change entry, whose
// changes up to from.Index the decoder drops), reopening the cursor when
// the server ends it.
func (s *Source) tailOplog(ctx context.Context, client *mongo.Client, from change.Position, emit func([]change.Change) error) error {
	oplog := client.Database("local").Collection("oplog.rs")
	dec := &oplogDecoder{scope: scope{Database: s.cfg.Database, Collection: s.cfg.Collection}, from: from}
	after, inclusive := from.Offset, from.Index > 0
	if from.IsZero() {
		if s.cfg.Start == source.StartLatest {
			ts, err := edgeTS(ctx, oplog, -1)
			if err != nil {
				return err
			}
			after = ts
		}
	} else {
		oldest, err := edgeTS(ctx, oplog, 1)
		if err != nil {
			return err
		}
		if oldest == 0 || oldest > from.Offset {
			return fmt.Errorf("mongodb: resume from %s: oldest oplog entry is %s: %w", from, tsText(oldest), source.ErrPositionLost)
		}
	}
	batch := make([]change.Change, 0, s.cfg.BatchSize+1)
	dec.flush, dec.limit = emit, s.cfg.BatchSize
	for {
		op := "$gt"
		if inclusive {
			op = "$gte"
		}
		filter := bson.D{}
		if after != 0 || inclusive {
			filter = bson.D{{Key: "ts", Value: bson.D{{Key: op, Value: bson.Timestamp{T: uint32(after >> 32), I: uint32(after)}}}}}
		}
		cur, err := oplog.Find(ctx, filter, options.Find().
			SetCursorType(options.TailableAwait).
			SetMaxAwaitTime(s.cfg.MaxAwait).
			SetBatchSize(int32(s.cfg.BatchSize)))
		if err != nil {
			return fmt.Errorf("mongodb: oplog query after %s: %w", tsText(after), err)
		}
		for cur.Next(ctx) {
			raw := cur.Current
			batch, err = dec.decode(batch, raw, time.Now())
			if err != nil {
				cur.Close(context.Background())
				return err
			}
			if v, lerr := bsoncore.Document(raw).LookupErr("ts"); lerr == nil {
				if t, i, ok := v.TimestampOK(); ok {
					after, inclusive = uint64(t)<<32|uint64(i), false
				}
			}
			if len(batch) > 0 && (cur.RemainingBatchLength() == 0 || len(batch) >= s.cfg.BatchSize) {
				if err := emit(batch); err != nil {
					cur.Close(context.Background())
					return err
				}
				clear(batch)
				batch = batch[:0]
			}
		}
		err = cur.Err()
		cur.Close(context.Background())
		if len(batch) > 0 { // only when a decoded entry was left unsent
			if eerr := emit(batch); eerr != nil {
				return eerr
			}
			clear(batch)
			batch = batch[:0]
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("mongodb: tailing oplog after %s: %w", tsText(after), err)
		}
		// The server ended the cursor (an empty oplog, a capped-collection
		// rollover): wait a little and query again from where we are.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// edgeTS is the ts of the oldest (dir 1) or newest (dir -1) oplog entry,
// 0 when the oplog is empty.
func edgeTS(ctx context.Context, oplog *mongo.Collection, dir int) (uint64, error) {
	raw, err := oplog.FindOne(ctx, bson.D{}, options.FindOne().
		SetSort(bson.D{{Key: "$natural", Value: dir}}).
		SetProjection(bson.D{{Key: "ts", Value: 1}})).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mongodb: read oplog bounds: %w", err)
	}
	v, err := raw.LookupErr("ts")
	if err != nil {
		return 0, fmt.Errorf("mongodb: oplog entry without ts")
	}
	t, i, ok := v.TimestampOK()
	if !ok {
		return 0, fmt.Errorf("mongodb: oplog ts is %s", v.Type)
	}
	return uint64(t)<<32 | uint64(i), nil
}
