package mongodb

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestLagFerretDB measures the lag behind FerretDB's oplog head.
func TestLagFerretDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := testenv.NewFerretDB(t)
	client, err := db.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	if _, err := client.Database("lag").Collection("docs").InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	src := oplogSource(t, db, "lag")
	l, err := src.Lag(ctx, change.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Head.Flavor != change.FlavorMongo || l.Head.Offset == 0 || l.Seconds != -1 || l.Bytes != -1 {
		t.Fatalf("Lag(zero) = %+v", l)
	}
	behind := change.Position{Flavor: change.FlavorMongo, Offset: (l.Head.Offset>>32 - 7) << 32}
	if l, err = src.Lag(ctx, behind); err != nil || l.Seconds < 7 || l.Seconds > 60 {
		t.Errorf("7 s behind: %+v, %v", l, err)
	}
	if l, err = src.Lag(ctx, l.Head); err != nil || l.Seconds != 0 {
		t.Errorf("at the head: %+v, %v", l, err)
	}
}
