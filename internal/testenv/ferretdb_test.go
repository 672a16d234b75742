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

	oplog := c.Database("local").Collection("oplog.rs")
	cur, err := oplog.Find(ctx, bson.D{{Key: "ns", Value: "shop.orders"}},
		options.Find().SetCursorType(options.TailableAwait).SetMaxAwaitTime(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close(context.Background())

	if _, err := c.Database("shop").Collection("orders").InsertOne(ctx, bson.D{{Key: "_id", Value: 42}, {Key: "item", Value: "tea"}}); err != nil {
		t.Fatal(err)
	}
	if !cur.Next(ctx) {
		t.Fatalf("tailable cursor ended without the insert: %v", cur.Err())
	}
	var entry struct {
		Op string         `bson:"op"`
		NS string         `bson:"ns"`
		TS bson.Timestamp `bson:"ts"`
		O  bson.M         `bson:"o"`
	}
	if err := cur.Decode(&entry); err != nil {
		t.Fatal(err)
	}
	if entry.Op != "i" || entry.NS != "shop.orders" || entry.O["item"] != "tea" || entry.TS.T == 0 {
		t.Errorf("oplog entry = %+v, want an insert of item tea into shop.orders with a timestamp", entry)
	}
	if cur.ID() == 0 {
		t.Error("tailable cursor was closed by the server after the first batch")
	}
}
