package mongodb

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// fullDoc is a document with every BSON type FerretDB v1 stores (no
// Decimal128, JavaScript, MinKey/MaxKey, DBPointer, Symbol or undefined),
// nested in documents and arrays.
func fullDoc(id int32, r *rand.Rand) bson.D {
	oid := bson.NewObjectID()
	when := time.UnixMilli(r.Int64N(4e12) - 1e12).UTC()
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "i32", Value: int32(r.Int32())},
		{Key: "i64", Value: r.Int64() - 1<<62},
		{Key: "f64", Value: r.Float64()*1e6 - 5e5},
		{Key: "s", Value: fmt.Sprintf("héllo-%d", r.IntN(1000))},
		{Key: "b", Value: r.IntN(2) == 1},
		{Key: "null", Value: nil},
		{Key: "oid", Value: oid},
		{Key: "date", Value: bson.NewDateTimeFromTime(when)},
		{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte{0, 1, byte(r.IntN(256))}}},
		{Key: "uuid", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}},
		{Key: "re", Value: bson.Regex{Pattern: `^a\d+`, Options: "i"}},
		{Key: "ts", Value: bson.Timestamp{T: uint32(r.IntN(1 << 30)), I: uint32(r.IntN(100))}},
		{Key: "nested", Value: bson.D{
			{Key: "a", Value: int32(1)},
			{Key: "deep", Value: bson.D{{Key: "x", Value: int64(7)}, {Key: "arr", Value: bson.A{int32(1), "two", 3.5, bson.D{{Key: "k", Value: "v"}}}}}},
		}},
		{Key: "arr", Value: bson.A{int32(1), int64(2), "three", bson.D{{Key: "inner", Value: bson.A{true, nil}}}, bson.D{{Key: "when", Value: bson.NewDateTimeFromTime(when)}}}},
	}
}

// workload runs n random writes on coll (inserts, updates in several
// forms, deletes) and returns the number of changes they make.
func workload(ctx context.Context, t *testing.T, coll *mongo.Collection, n int, seed uint64, next *int32) int {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var live []int32
	changes := 0
	for range n {
		op := r.IntN(10)
		if len(live) < 3 {
			op = 0
		}
		switch {
		case op < 4:
			*next++
			if _, err := coll.InsertOne(ctx, fullDoc(*next, r)); err != nil {
				t.Fatal(err)
			}
			live = append(live, *next)
		case op < 9:
			id := live[r.IntN(len(live))]
			var upd bson.D
			switch op {
			case 4:
				upd = bson.D{{Key: "$set", Value: bson.D{{Key: "nested.deep.x", Value: r.Int64()}, {Key: "s", Value: fmt.Sprint("set-", r.IntN(1e6))}}}}
			case 5:
				upd = bson.D{{Key: "$inc", Value: bson.D{{Key: "i32", Value: int32(1)}}}, {Key: "$set", Value: bson.D{{Key: "newfield", Value: bson.D{{Key: "n", Value: r.Float64()}}}}}}
			case 6:
				// No $unset: FerretDB v1 logs updates as a $set of the
				// new document's fields, so a removal does not reach its
				// oplog (removals are tested on MongoDB-shaped entries).
				upd = bson.D{{Key: "$set", Value: bson.D{{Key: "f64", Value: r.Float64()}, {Key: "re", Value: bson.Regex{Pattern: "x" + fmt.Sprint(r.IntN(99)), Options: "m"}}}}}
			case 7:
				upd = bson.D{{Key: "$set", Value: bson.D{{Key: "arr", Value: bson.A{"x", int32(r.Int32())}}, {Key: "date", Value: bson.NewDateTimeFromTime(time.UnixMilli(r.Int64N(1e12)))}}}}
			case 8:
				upd = bson.D{{Key: "$set", Value: bson.D{{Key: "oid", Value: bson.NewObjectID()}, {Key: "nested.a", Value: int64(r.IntN(100))}}}}
			}
			res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, upd)
			if err != nil {
				t.Fatal(err)
			}
			if res.ModifiedCount != 1 {
				t.Fatalf("update %v of %d modified %d", upd, id, res.ModifiedCount)
			}
		default:
			i := r.IntN(len(live))
			if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: live[i]}}); err != nil {
				t.Fatal(err)
			}
			live = append(live[:i], live[i+1:]...)
		}
		changes++
	}
	return changes
}

// collector runs a Source and keeps clones of what it emits.
type collector struct {
	mu      sync.Mutex
	changes []change.Change
	done    chan error
	cancel  context.CancelFunc
}

func collect(t *testing.T, src *Source, from change.Position) *collector {
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{done: make(chan error, 1), cancel: cancel}
	go func() {
		c.done <- src.Stream(ctx, from, func(batch []change.Change) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, ch := range batch {
				cl := ch
				cl.Before = cloneValues(ch.Before)
				cl.After = cloneValues(ch.After)
				c.changes = append(c.changes, cl)
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return c
}

func cloneValues(v []change.Value) []change.Value {
	if v == nil {
		return nil
	}
	out := make([]change.Value, len(v))
	for i := range v {
		out[i] = v[i].Clone()
	}
	return out
}

func dataCount(cs []change.Change) int {
	n := 0
	for _, c := range cs {
		if c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete {
			n++
		}
	}
	return n
}

// waitFor waits until the collector holds n data changes.
func (c *collector) waitFor(t *testing.T, n int) []change.Change {
	t.Helper()
	return c.waitUntil(t, fmt.Sprintf("%d data changes", n), func(cs []change.Change) bool { return dataCount(cs) >= n })
}

// waitUntil waits until done holds for what the collector holds, and
// returns a copy of it.
func (c *collector) waitUntil(t *testing.T, what string, done func([]change.Change) bool) []change.Change {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		out := append([]change.Change(nil), c.changes...)
		c.mu.Unlock()
		if done(out) {
			return out
		}
		select {
		case err := <-c.done:
			t.Fatalf("source stopped after %d changes, waiting for %s: %v", len(out), what, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("timed out waiting for %s", what)
	return nil
}

func (c *collector) stop(t *testing.T) {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	if err := <-c.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Stream returned %v, want context.Canceled", err)
	}
}

// checkRebuild rebuilds the collection from changes and compares it with find().
func checkRebuild(ctx context.Context, t *testing.T, coll *mongo.Collection, changes []change.Change) {
	t.Helper()
	r := newRebuilt()
	for i, c := range changes {
		if i > 0 && change.Compare(changes[i-1].Pos, c.Pos) >= 0 {
			t.Fatalf("positions not increasing: %v then %v", changes[i-1].Pos, c.Pos)
		}
		if c.Namespace != (change.Namespace{Database: coll.Database().Name(), Table: coll.Name()}) && c.Op != change.OpHeartbeat {
			t.Fatalf("change in %v, want %s.%s", c.Namespace, coll.Database().Name(), coll.Name())
		}
		if err := r.apply(c); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for cur.Next(ctx) {
		cols, vals, err := rowImage(cur.Current)
		if err != nil {
			t.Fatal(err)
		}
		want := docOf(cols, vals)
		got, ok := r.docs[idKey(vals[0])]
		if !ok {
			t.Fatalf("document %s missing from the rebuilt collection", cur.Current)
		}
		if !change.Equal(got, want) {
			t.Fatalf("document %s:\nrebuilt %+v\nfind()  %+v", cur.Current, got, want)
		}
		n++
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(r.docs) {
		t.Fatalf("find() returned %d documents, rebuilt collection has %d", n, len(r.docs))
	}
}

func oplogSource(t *testing.T, db *testenv.FerretDB, dbName string) *Source {
	t.Helper()
	cfg, err := ParseURL(db.URI() + "&mode=oplog&from=earliest")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = dbName
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestOplogFerretDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB")
	}
	db := testenv.NewFerretDB(t)
	client, err := db.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	ctx := context.Background()

	t.Run("rebuild", func(t *testing.T) {
		coll := client.Database("rebuild").Collection("docs")
		src := oplogSource(t, db, "rebuild")
		col := collect(t, src, change.Position{})
		var next int32
		n := workload(ctx, t, coll, 200, 1, &next)
		got := col.waitFor(t, n)
		col.stop(t)
		if dataCount(got) != n {
			t.Fatalf("got %d data changes, want %d", dataCount(got), n)
		}
		checkRebuild(ctx, t, coll, got)
	})

	t.Run("restart", func(t *testing.T) {
		coll := client.Database("restart").Collection("docs")
		src := oplogSource(t, db, "restart")
		var next int32
		n := workload(ctx, t, coll, 160, 2, &next)
		var all []change.Change
		from := change.Position{}
		for _, cut := range []int{37, 81, 130, n} {
			col := collect(t, src, from)
			got := col.waitFor(t, cut-dataCount(all))
			col.stop(t)
			// keep exactly up to the cut, as a consumer that saved the position there
			k := 0
			for i, c := range got {
				if dataCount(all)+dataCount(got[:i+1]) > cut {
					break
				}
				k = i + 1
				_ = c
			}
			all = append(all, got[:k]...)
			from = all[len(all)-1].Pos
		}
		if dataCount(all) != n {
			t.Fatalf("got %d data changes over restarts, want %d", dataCount(all), n)
		}
		checkRebuild(ctx, t, coll, all)
	})

	t.Run("latest", func(t *testing.T) {
		coll := client.Database("latest").Collection("docs")
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}); err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseURL(strings.Replace(db.URI(), "/?", "/latest?", 1) + "&mode=oplog")
		if err != nil {
			t.Fatal(err)
		}
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		col := collect(t, src, change.Position{})
		time.Sleep(2 * time.Second) // let it find the end of the oplog
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(2)}}); err != nil {
			t.Fatal(err)
		}
		got := col.waitFor(t, 1)
		col.stop(t)
		if len(got) != 1 || got[0].Op != change.OpInsert || got[0].After[0].I != 2 {
			t.Fatalf("from latest: got %d changes, first %+v; want only the insert of _id 2", len(got), got)
		}
	})

	t.Run("lost", func(t *testing.T) {
		src := oplogSource(t, db, "lost")
		err := src.Stream(ctx, change.Position{Flavor: change.FlavorMongo, Offset: 1 << 32}, func([]change.Change) error { return nil })
		if !errors.Is(err, source.ErrPositionLost) {
			t.Fatalf("Stream from a position older than the oplog = %v, want source.ErrPositionLost", err)
		}
	})

	_ = options.Find
}
