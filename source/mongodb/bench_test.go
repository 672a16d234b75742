package mongodb

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// benchDoc is a document of about 1 KiB: nested fields of several types.
func benchDoc(id int32) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "customer", Value: bson.D{{Key: "name", Value: "Ada Lovelace"}, {Key: "email", Value: "ada@example.com"}, {Key: "since", Value: bson.DateTime(1700000000000)}}},
		{Key: "total", Value: bson.NewDecimal128(0x3040000000000000, 1990)},
		{Key: "qty", Value: int32(3)},
		{Key: "weight", Value: 1.25},
		{Key: "ref", Value: bson.ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{Key: "tags", Value: bson.A{"blue", "large", "gift", "express"}},
		{Key: "lines", Value: bson.A{
			bson.D{{Key: "sku", Value: "A-100"}, {Key: "n", Value: int64(1)}, {Key: "price", Value: 9.99}},
			bson.D{{Key: "sku", Value: "B-200"}, {Key: "n", Value: int64(2)}, {Key: "price", Value: 4.5}},
		}},
		{Key: "note", Value: strings.Repeat("lorem ipsum ", 50)},
		{Key: "paid", Value: true},
	}
}

func benchEntry(b *testing.B) []byte {
	raw, err := bson.Marshal(bson.D{
		{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"},
		{Key: "o", Value: benchDoc(1)},
		{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: 1}}, {Key: "t", Value: int64(1)},
		{Key: "wall", Value: bson.DateTime(1700000000000)},
	})
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkDecodeOplog decodes a 1 KiB oplog insert entry into a change.
func BenchmarkDecodeOplog(b *testing.B) {
	raw := benchEntry(b)
	d := &oplogDecoder{}
	buf := make([]change.Change, 0, 1)
	now := time.Now()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = d.decode(buf[:0], raw, now)
		if err != nil || len(buf) != 1 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEncodeJSON encodes the decoded change as Sluice JSON.
func BenchmarkEncodeJSON(b *testing.B) {
	out, err := (&oplogDecoder{}).decode(nil, benchEntry(b), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	c := out[0]
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = change.AppendJSON(dst[:0], &c)
	}
	b.SetBytes(int64(len(dst)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkOplogTail streams inserts of 1 KiB documents from FerretDB's
// oplog (written beforehand) and reports end-to-end events per second.
func BenchmarkOplogTail(b *testing.B) {
	db := testenv.NewFerretDB(b)
	client, err := db.Connect()
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	ctx := context.Background()
	const n = 5000
	coll := client.Database("bench").Collection("orders")
	for i := 0; i < n; i += 100 {
		docs := make([]any, 100)
		for j := range docs {
			d := benchDoc(int32(i + j))
			d[2].Value = 19.90 // FerretDB v1 has no Decimal128
			docs[j] = d
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	cfg, err := ParseURL(db.URI() + "&mode=oplog&from=earliest")
	if err != nil {
		b.Fatal(err)
	}
	src, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	// Reference: a plain find() over the same oplog, no decoding.
	t0 := time.Now()
	cur, err := client.Database("local").Collection("oplog.rs").Find(ctx, bson.D{})
	if err != nil {
		b.Fatal(err)
	}
	m := 0
	for cur.Next(ctx) {
		m++
	}
	cur.Close(ctx)
	b.Logf("plain find() of %d oplog entries: %v (%.0f entries/s)", m, time.Since(t0), float64(m)/time.Since(t0).Seconds())
	b.ResetTimer()
	events := 0
	for b.Loop() {
		sctx, cancel := context.WithCancel(ctx)
		got := 0
		err := src.Stream(sctx, change.Position{}, func(batch []change.Change) error {
			got += len(batch)
			if got >= n {
				cancel()
			}
			return nil
		})
		cancel()
		if got < n {
			b.Fatalf("streamed %d of %d: %v", got, n, err)
		}
		events += got
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	_ = fmt.Sprint
}
