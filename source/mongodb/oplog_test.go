package mongodb

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Oplog entries shaped as MongoDB 5.0+ writes them.

func mkEntry(op string, ts bson.Timestamp, ns string, o bson.D, extra ...bson.E) bson.D {
	d := bson.D{
		{Key: "op", Value: op},
		{Key: "ns", Value: ns},
		{Key: "ui", Value: bson.Binary{Subtype: 4, Data: make([]byte, 16)}},
		{Key: "o", Value: o},
	}
	d = append(d, extra...)
	return append(d, bson.E{Key: "ts", Value: ts}, bson.E{Key: "t", Value: int64(1)}, bson.E{Key: "v", Value: int64(2)}, bson.E{Key: "wall", Value: wall})
}

func TestOplogDecode(t *testing.T) {
	o2 := bson.E{Key: "o2", Value: bson.D{{Key: "_id", Value: int32(7)}}}
	tests := []struct {
		name  string
		entry bson.D
		want  []string // op ns image per change
	}{
		{"insert", mkEntry("i", t1, "shop.orders", bson.D{{Key: "_id", Value: int32(7)}, {Key: "qty", Value: int64(2)}}),
			[]string{"insert shop.orders after: *_id=int32(7) qty=int64(2)"}},
		{"delete", mkEntry("d", t1, "shop.orders", bson.D{{Key: "_id", Value: int32(7)}}),
			[]string{"delete shop.orders before: *_id=int32(7)"}},
		{"update $v:1", mkEntry("u", t1, "shop.orders", bson.D{{Key: "$v", Value: int32(1)}, {Key: "$set", Value: bson.D{{Key: "a.b", Value: 1.5}}}, {Key: "$unset", Value: bson.D{{Key: "old", Value: true}}}}, o2),
			[]string{`update shop.orders after: *_id=int32(7) $updatedFields={a.b:double(1.5)} $removedFields=["old"]`}},
		{"update $v:2 diff", mkEntry("u", t1, "shop.orders", bson.D{{Key: "$v", Value: int32(2)}, {Key: "diff", Value: bson.D{
			{Key: "d", Value: bson.D{{Key: "gone", Value: false}}},
			{Key: "u", Value: bson.D{{Key: "qty", Value: int32(3)}}},
			{Key: "i", Value: bson.D{{Key: "added", Value: "x"}}},
			{Key: "sa", Value: bson.D{{Key: "i", Value: bson.D{{Key: "c", Value: int32(1)}}}, {Key: "d", Value: bson.D{{Key: "z", Value: false}}}}},
			{Key: "sarr", Value: bson.D{{Key: "a", Value: true}, {Key: "l", Value: int32(2)}, {Key: "u1", Value: "new"}, {Key: "s0", Value: bson.D{{Key: "u", Value: bson.D{{Key: "k", Value: int32(9)}}}}}}},
		}}}, o2),
			[]string{`update shop.orders after: *_id=int32(7) $updatedFields={qty:int32(3),added:"x",a.c:int32(1),arr.1:"new",arr.0.k:int32(9)} $removedFields=["gone","a.z"] $truncatedArrays=[{field:"arr",newSize:int32(2)}]`}},
		{"replacement", mkEntry("u", t1, "shop.orders", bson.D{{Key: "_id", Value: int32(7)}, {Key: "qty", Value: int32(1)}}, o2),
			[]string{`update shop.orders after: *_id=int32(7) qty=int32(1)`}},
		{"create", mkEntry("c", t1, "shop.$cmd", bson.D{{Key: "create", Value: "orders"}, {Key: "idIndex", Value: bson.D{{Key: "v", Value: int32(2)}}}}),
			[]string{`ddl shop.orders sql: {"create": "orders","idIndex": {"v": {"$numberInt":"2"}}}`}},
		{"drop", mkEntry("c", t1, "shop.$cmd", bson.D{{Key: "drop", Value: "orders"}}),
			[]string{`ddl shop.orders sql: {"drop": "orders"}`}},
		{"rename", mkEntry("c", t1, "shop.$cmd", bson.D{{Key: "renameCollection", Value: "shop.orders"}, {Key: "to", Value: "shop.old"}}),
			[]string{`ddl shop.orders sql: {"renameCollection": "shop.orders","to": "shop.old"}`}},
		{"dropDatabase", mkEntry("c", t1, "shop.$cmd", bson.D{{Key: "dropDatabase", Value: int32(1)}}),
			[]string{`ddl shop. sql: {"dropDatabase": {"$numberInt":"1"}}`}},
		{"noop", mkEntry("n", t1, "", bson.D{{Key: "msg", Value: "periodic noop"}}),
			[]string{"heartbeat ."}},
		{"out of scope", mkEntry("i", t1, "other.orders", bson.D{{Key: "_id", Value: int32(7)}}), nil},
		{"transaction", mkEntry("c", t1, "admin.$cmd", bson.D{{Key: "applyOps", Value: bson.A{
			bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(1)}}}},
			bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "other.x"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(2)}}}},
			bson.D{{Key: "op", Value: "d"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(3)}}}},
		}}}, bson.E{Key: "lsid", Value: bson.D{{Key: "id", Value: lsidID}}}, bson.E{Key: "txnNumber", Value: int64(7)}),
			[]string{"begin . tx 3e11fa4771ca11e19e33c80aa9429562:7 #1", "insert shop.orders after: *_id=int32(1) tx 3e11fa4771ca11e19e33c80aa9429562:7/0 #2",
				"delete shop.orders before: *_id=int32(3) tx 3e11fa4771ca11e19e33c80aa9429562:7/2 last #4", "commit . tx 3e11fa4771ca11e19e33c80aa9429562:7 #5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &oplogDecoder{scope: scope{Database: "shop"}}
			out, err := d.decode(nil, mustRaw(t, tt.entry), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range out {
				got = append(got, describe(c))
				if c.Pos.Offset != uint64(t1.T)<<32|uint64(t1.I) || c.Pos.Flavor != change.FlavorMongo {
					t.Errorf("position %v", c.Pos)
				}
				if !c.CommitTime.Equal(wall.Time()) {
					t.Errorf("commit time %v", c.CommitTime)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func describe(c change.Change) string {
	s := strings.ToLower(opName(c.Op)) + " " + c.Database + "." + c.Table
	if c.Before != nil {
		s += " before: " + image(c.Columns, c.Before)
	}
	if c.After != nil {
		s += " after: " + image(c.Columns, c.After)
	}
	if c.SQL != "" {
		s += " sql: " + c.SQL
	}
	if c.Tx.ID != "" {
		s += " tx " + c.Tx.ID
		if c.Op != change.OpBegin && c.Op != change.OpCommit {
			s += "/" + itoa(c.Tx.Index)
		}
		if c.Tx.Last {
			s += " last"
		}
	}
	if c.Pos.Index != 0 {
		s += " #" + itoa(c.Pos.Index)
	}
	return s
}

func itoa(u uint64) string { return uitoa(u) }

func uitoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}

func opName(op change.Op) string {
	return map[change.Op]string{change.OpInsert: "insert", change.OpUpdate: "update", change.OpDelete: "delete",
		change.OpDDL: "ddl", change.OpBegin: "begin", change.OpCommit: "commit", change.OpHeartbeat: "heartbeat"}[op]
}

// TestOplogResumeInsideTransaction: resuming at each change of an applyOps
// entry emits exactly the changes after it.
func TestOplogResumeInsideTransaction(t *testing.T) {
	entry := mustRaw(t, mkEntry("c", t1, "admin.$cmd", bson.D{{Key: "applyOps", Value: bson.A{
		bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(1)}}}},
		bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(2)}}}},
	}}}, bson.E{Key: "lsid", Value: bson.D{{Key: "id", Value: lsidID}}}, bson.E{Key: "txnNumber", Value: int64(1)}))
	all, err := (&oplogDecoder{}).decode(nil, entry, time.Now())
	if err != nil || len(all) != 4 {
		t.Fatalf("decode: %d changes, %v", len(all), err)
	}
	for k := range all {
		out, err := (&oplogDecoder{from: all[k].Pos}).decode(nil, entry, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(all)-k-1 {
			t.Fatalf("resume after change %d: %d changes, want %d", k, len(out), len(all)-k-1)
		}
		for i := range out {
			if out[i].Pos != all[k+1+i].Pos || out[i].Op != all[k+1+i].Op {
				t.Errorf("resume after %d: change %d = %v %v, want %v %v", k, i, out[i].Op, out[i].Pos, all[k+1+i].Op, all[k+1+i].Pos)
			}
		}
	}
}

func TestOplogDecodeErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"truncated", mustRaw(t, mkEntry("i", t1, "a.b", bson.D{{Key: "_id", Value: 1}}))[:20]},
		{"no op", mustRaw(t, bson.D{{Key: "ts", Value: t1}})},
		{"bad op", mustRaw(t, mkEntry("x", t1, "a.b", bson.D{}))},
		{"update without o2", mustRaw(t, mkEntry("u", t1, "a.b", bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: 1}}}}))},
		{"bad diff", mustRaw(t, mkEntry("u", t1, "a.b", bson.D{{Key: "$v", Value: 2}, {Key: "diff", Value: bson.D{{Key: "q", Value: 1}}}}, bson.E{Key: "o2", Value: bson.D{{Key: "_id", Value: 1}}}))},
		{"ns not a string", mustRaw(t, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: 5}, {Key: "ts", Value: t1}})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := (&oplogDecoder{}).decode(nil, tt.raw, time.Now()); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestOplogApplyOpsFlushes: a large applyOps entry is handed on in pieces
// of the decoder's limit (memory follows the limit, not the entry), and the
// pieces together are exactly what one decode gives, Tx.Last included.
func TestOplogApplyOpsFlushes(t *testing.T) {
	var ops bson.A
	for i := 1; i <= 10; i++ {
		ops = append(ops, bson.D{{Key: "op", Value: "i"}, {Key: "ns", Value: "shop.orders"}, {Key: "o", Value: bson.D{{Key: "_id", Value: int32(i)}}}})
	}
	entry := mustRaw(t, mkEntry("c", t1, "admin.$cmd", bson.D{{Key: "applyOps", Value: ops}},
		bson.E{Key: "lsid", Value: bson.D{{Key: "id", Value: lsidID}}}, bson.E{Key: "txnNumber", Value: int64(1)}))
	whole, err := (&oplogDecoder{}).decode(nil, entry, time.Now())
	if err != nil || len(whole) != 12 {
		t.Fatalf("decode: %d changes, %v", len(whole), err)
	}
	var got []change.Change
	pieces := 0
	d := &oplogDecoder{limit: 3, flush: func(b []change.Change) error {
		if len(b) > 3 {
			t.Errorf("piece of %d changes, limit 3", len(b))
		}
		pieces++
		got = append(got, b...)
		return nil
	}}
	rest, err := d.decode(nil, entry, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	if pieces < 3 || len(got) != len(whole) {
		t.Fatalf("%d pieces, %d changes; want several pieces and %d changes", pieces, len(got), len(whole))
	}
	for i := range whole {
		if got[i].Pos != whole[i].Pos || got[i].Op != whole[i].Op || got[i].Tx != whole[i].Tx {
			t.Errorf("change %d: %v %v %+v, want %v %v %+v", i, got[i].Op, got[i].Pos, got[i].Tx, whole[i].Op, whole[i].Pos, whole[i].Tx)
		}
	}
	if !got[10].Tx.Last {
		t.Error("the last insert lost Tx.Last")
	}
}
