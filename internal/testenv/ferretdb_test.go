package testenv

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestFerretDBOplog(t *testing.T) {
	s := NewFerretDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := s.Connect() // names the replica set: fails unless hello reports it
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())

	var hello bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		t.Fatal(err)
	}
	if hello["setName"] != FerretDBReplSet {
		t.Errorf("hello setName = %v, want %s", hello["setName"], FerretDBReplSet)
	}

	var stats bson.M
	if err := c.Database("local").RunCommand(ctx, bson.D{{Key: "collStats", Value: "oplog.rs"}}).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats["capped"] != true {
		t.Errorf("local.oplog.rs collStats capped = %v, want true", stats["capped"])
	}

	orders := c.Database("shop").Collection("orders")
	if _, err := orders.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "item", Value: "coffee"}}); err != nil {
		t.Fatal(err)
	}
	// FerretDB keeps a tailable cursor open only when its first batch is
	// full, so tail from the entry already there with batches of one.
	oplog := c.Database("local").Collection("oplog.rs")
	cur, err := oplog.Find(ctx, bson.D{{Key: "ns", Value: "shop.orders"}},
		options.Find().SetCursorType(options.TailableAwait).SetBatchSize(1).SetMaxAwaitTime(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close(context.Background())

	type entry struct {
		Op string         `bson:"op"`
		NS string         `bson:"ns"`
		TS bson.Timestamp `bson:"ts"`
		O  bson.M         `bson:"o"`
	}
	next := func() entry {
		t.Helper()
		if !cur.Next(ctx) {
			t.Fatalf("tailable cursor ended: %v", cur.Err())
		}
		var e entry
		if err := cur.Decode(&e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := next()
	if first.Op != "i" || first.O["item"] != "coffee" {
		t.Fatalf("first oplog entry = %+v, want the insert of coffee", first)
	}
	if cur.ID() == 0 {
		t.Fatal("server closed the tailable cursor after its first batch")
	}

	// An insert made after the cursor opened arrives through getMore.
	if _, err := orders.InsertOne(ctx, bson.D{{Key: "_id", Value: 42}, {Key: "item", Value: "tea"}}); err != nil {
		t.Fatal(err)
	}
	second := next()
	if second.Op != "i" || second.NS != "shop.orders" || second.O["item"] != "tea" || second.TS.T == 0 {
		t.Errorf("oplog entry = %+v, want an insert of tea into shop.orders with a timestamp", second)
	}
	if !second.TS.After(first.TS) {
		t.Errorf("oplog timestamps do not increase: %v then %v", first.TS, second.TS)
	}
}
