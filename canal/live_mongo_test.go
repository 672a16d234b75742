package canal

import (
	"context"
	"testing"
	"time"

	pbe "github.com/withlin/canal-go/protocol/entry"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestMongoDBDestination: a MongoDB destination (FerretDB's oplog) maps
// documents onto Canal's entries: one column per top-level field, _id the
// key, sqlType from the BSON type, no sourceType.
func TestMongoDBDestination(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB")
	}
	ctx := context.Background()
	db := testenv.NewFerretDB(t)
	client, err := db.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	coll := client.Database("cmongo").Collection("docs")
	ts := startTestServer(t, nil, Config{Destinations: []Destination{{Name: "example", URL: db.URI() + "&mode=oplog&from=earliest"}}})
	c := ts.connect(t, 1001, `cmongo\..*`)
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}, {Key: "s", Value: "漢字 😀"}, {Key: "n", Value: int64(42)},
		{Key: "f", Value: 1.5}, {Key: "b", Value: true}, {Key: "sub", Value: bson.D{{Key: "x", Value: int32(1)}}},
		{Key: "bin", Value: bson.Binary{Data: []byte{0, 0xff}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: int64(43)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}); err != nil {
		t.Fatal(err)
	}
	rows := collect(t, c, time.Minute, func(r []rowEntry) bool { return len(r) >= 3 })
	want := []pbe.EventType{pbe.EventType_INSERT, pbe.EventType_UPDATE, pbe.EventType_DELETE}
	for i, r := range rows[:3] {
		h := r.header
		if h.GetSchemaName() != "cmongo" || h.GetTableName() != "docs" || r.rc.GetEventType() != want[i] ||
			h.GetSourceType() != pbe.Type_TYPECOMPATIBLEPROTO2 {
			t.Errorf("entry %d: %v %v", i, h, r.rc.GetEventType())
		}
	}
	ins := rows[0].rc.GetRowDatas()[0].GetAfterColumns()
	got := map[string][2]any{}
	for _, col := range ins {
		got[col.GetName()] = [2]any{col.GetValue(), col.GetSqlType()}
		if (col.GetName() == "_id") != col.GetIsKey() {
			t.Errorf("column %s: isKey %v", col.GetName(), col.GetIsKey())
		}
	}
	for name, w := range map[string][2]any{"_id": {"1", int32(-5)}, "s": {"漢字 😀", int32(12)}, "n": {"42", int32(-5)},
		"f": {"1.5", int32(8)}, "b": {"true", int32(16)}, "bin": {"\x00\u00ff", int32(2004)}} {
		if got[name] != w {
			t.Errorf("field %s: %v, want %v", name, got[name], w)
		}
	}
	if v, ok := got["sub"]; !ok || v[1] != int32(12) {
		t.Errorf("field sub: %v", v)
	}
}
