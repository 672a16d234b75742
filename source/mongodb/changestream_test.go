package mongodb

import (
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// The events below copy the shapes of the MongoDB manual's "Change Events"
// pages (insert, update, replace, delete, drop, rename, dropDatabase,
// invalidate), with and without fullDocument and
// fullDocumentBeforeChange, and a transaction's lsid and txnNumber.

func token(ts bson.Timestamp, n int) bson.D {
	return bson.D{{Key: "_data", Value: fmt.Sprintf("82%08X%08X2B022C0100296E5A1004%04X", ts.T, ts.I, n)}}
}

var (
	t1     = bson.Timestamp{T: 1714979289, I: 3}
	t2     = bson.Timestamp{T: 1714979290, I: 1}
	t3     = bson.Timestamp{T: 1714979291, I: 1}
	wall   = bson.NewDateTimeFromTime(time.Date(2024, 5, 6, 7, 8, 9, 120e6, time.UTC))
	lsidID = bson.Binary{Subtype: 4, Data: []byte{0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62}}
	ns     = bson.D{{Key: "db", Value: "shop"}, {Key: "coll", Value: "orders"}}
	oid    = bson.ObjectID{0x65, 0xa1, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
)

func ev(op string, ts bson.Timestamp, n int, extra ...bson.E) bson.D {
	d := bson.D{
		{Key: "_id", Value: token(ts, n)},
		{Key: "operationType", Value: op},
		{Key: "clusterTime", Value: ts},
		{Key: "wallTime", Value: wall},
		{Key: "ns", Value: ns},
	}
	return append(d, extra...)
}

func mustRaw(t *testing.T, d bson.D) []byte {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// image renders a row image as name=value text for comparisons.
func image(cols []change.Column, vals []change.Value) string {
	if vals == nil {
		return "<nil>"
	}
	var parts []string
	for i, c := range cols {
		k := ""
		if c.Key {
			k = "*"
		}
		parts = append(parts, k+c.Name+"="+valText(vals[i]))
	}
	return strings.Join(parts, " ")
}

func valText(v change.Value) string {
	switch v.Kind {
	case change.KindAbsent:
		return "absent"
	case change.KindInt:
		return fmt.Sprintf("int%d(%d)", v.Size, v.I)
	case change.KindFloat:
		return fmt.Sprintf("double(%g)", v.F)
	case change.KindString:
		return fmt.Sprintf("%q", v.B)
	case change.KindObjectID:
		return fmt.Sprintf("oid(%x)", v.B)
	case change.KindDocument:
		var p []string
		for i, n := range v.Names {
			p = append(p, n+":"+valText(v.Elems[i]))
		}
		return "{" + strings.Join(p, ",") + "}"
	case change.KindArray:
		var p []string
		for _, e := range v.Elems {
			p = append(p, valText(e))
		}
		return "[" + strings.Join(p, ",") + "]"
	}
	return fmt.Sprintf("kind%d", v.Kind)
}

func TestEventMapping(t *testing.T) {
	docKey := bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: oid}}}
	full := bson.D{{Key: "_id", Value: oid}, {Key: "item", Value: "tea"}, {Key: "qty", Value: int32(2)}}
	pre := bson.D{{Key: "_id", Value: oid}, {Key: "item", Value: "tea"}, {Key: "old", Value: int64(1)}}
	upd := bson.E{Key: "updateDescription", Value: bson.D{
		{Key: "updatedFields", Value: bson.D{{Key: "qty", Value: int32(2)}, {Key: "a.b", Value: 1.5}}},
		{Key: "removedFields", Value: bson.A{"old"}},
		{Key: "truncatedArrays", Value: bson.A{bson.D{{Key: "field", Value: "arr"}, {Key: "newSize", Value: int32(1)}}}},
	}}
	id := "*_id=oid(65a1f0010203040506070809)"
	desc := `$updatedFields={qty:int32(2),a.b:double(1.5)} $removedFields=["old"] $truncatedArrays=[{field:"arr",newSize:int32(1)}]`
	tests := []struct {
		name          string
		event         bson.D
		op            change.Op
		table, sql    string
		before, after string
	}{
		{"insert", ev("insert", t1, 0, docKey, bson.E{Key: "fullDocument", Value: full}), change.OpInsert, "orders", "",
			"<nil>", id + ` item="tea" qty=int32(2)`},
		{"update without full document", ev("update", t1, 0, docKey, upd), change.OpUpdate, "orders", "",
			"<nil>", id + " " + desc},
		{"update with updateLookup", ev("update", t1, 0, docKey, upd, bson.E{Key: "fullDocument", Value: full}), change.OpUpdate, "orders", "",
			"<nil>", id + ` item="tea" qty=int32(2) ` + desc},
		{"update, lookup found nothing", ev("update", t1, 0, docKey, upd, bson.E{Key: "fullDocument", Value: nil}), change.OpUpdate, "orders", "",
			"<nil>", id + " " + desc},
		{"update with pre and post images", ev("update", t1, 0, docKey, upd, bson.E{Key: "fullDocument", Value: full}, bson.E{Key: "fullDocumentBeforeChange", Value: pre}), change.OpUpdate, "orders", "",
			id + ` item="tea" qty=absent old=int64(1) $updatedFields=absent $removedFields=absent $truncatedArrays=absent`,
			id + ` item="tea" qty=int32(2) old=absent ` + desc},
		{"replace", ev("replace", t1, 0, docKey, bson.E{Key: "fullDocument", Value: full}), change.OpUpdate, "orders", "",
			"<nil>", id + ` item="tea" qty=int32(2)`},
		{"replace with pre-image", ev("replace", t1, 0, docKey, bson.E{Key: "fullDocument", Value: full}, bson.E{Key: "fullDocumentBeforeChange", Value: pre}), change.OpUpdate, "orders", "",
			id + ` item="tea" qty=absent old=int64(1)`, id + ` item="tea" qty=int32(2) old=absent`},
		{"delete", ev("delete", t1, 0, docKey), change.OpDelete, "orders", "", id, "<nil>"},
		{"delete with pre-image", ev("delete", t1, 0, docKey, bson.E{Key: "fullDocumentBeforeChange", Value: pre}), change.OpDelete, "orders", "",
			id + ` item="tea" old=int64(1)`, "<nil>"},
		{"drop", ev("drop", t1, 0), change.OpDDL, "orders", `{"drop":"orders"}`, "<nil>", "<nil>"},
		{"rename", ev("rename", t1, 0, bson.E{Key: "to", Value: bson.D{{Key: "db", Value: "shop"}, {Key: "coll", Value: "orders2"}}}), change.OpDDL, "orders",
			`{"renameCollection":"shop.orders","to":"shop.orders2"}`, "<nil>", "<nil>"},
		{"dropDatabase", append(ev("dropDatabase", t1, 0)[:4], bson.E{Key: "ns", Value: bson.D{{Key: "db", Value: "shop"}}}), change.OpDDL, "",
			`{"dropDatabase":1}`, "<nil>", "<nil>"},
		{"invalidate", ev("invalidate", t1, 0), change.OpDDL, "orders", `{"invalidate":1}`, "<nil>", "<nil>"},
		{"create (expanded events)", ev("create", t1, 0, bson.E{Key: "operationDescription", Value: bson.D{{Key: "idIndex", Value: bson.D{{Key: "v", Value: int32(2)}}}}}), change.OpDDL, "orders",
			`{"create":"orders","operationDescription":{"idIndex": {"v": {"$numberInt":"2"}}}}`, "<nil>", "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newCSDecoder(change.Position{})
			out, inv, err := d.decode(nil, mustRaw(t, tt.event), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if inv != (tt.name == "invalidate") {
				t.Errorf("invalidated = %v", inv)
			}
			if len(out) != 1 {
				t.Fatalf("got %d changes, want 1", len(out))
			}
			c := out[0]
			if c.Op != tt.op || c.Database != "shop" || c.Table != tt.table || c.SQL != tt.sql {
				t.Errorf("got op %v ns %v sql %s, want %v shop.%s %s", c.Op, c.Namespace, c.SQL, tt.op, tt.table, tt.sql)
			}
			if got := image(c.Columns, c.Before); got != tt.before {
				t.Errorf("before:\n got %s\nwant %s", got, tt.before)
			}
			if got := image(c.Columns, c.After); got != tt.after {
				t.Errorf("after:\n got %s\nwant %s", got, tt.after)
			}
			wantPos := change.Position{Flavor: change.FlavorMongo, Offset: uint64(t1.T)<<32 | uint64(t1.I), Token: token(t1, 0)[0].Value.(string)}
			if c.Pos != wantPos {
				t.Errorf("pos = %+v, want %+v", c.Pos, wantPos)
			}
			if !c.CommitTime.Equal(wall.Time()) {
				t.Errorf("commit time = %v, want %v", c.CommitTime, wall.Time())
			}
		})
	}
}

func TestEventTransaction(t *testing.T) {
	lsid := bson.E{Key: "lsid", Value: bson.D{{Key: "id", Value: lsidID}, {Key: "uid", Value: bson.Binary{Data: make([]byte, 32)}}}}
	txn := bson.E{Key: "txnNumber", Value: int64(7)}
	ins := func(ts bson.Timestamp, n int, id int32, tx bool) bson.D {
		e := ev("insert", ts, n, bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: id}}},
			bson.E{Key: "fullDocument", Value: bson.D{{Key: "_id", Value: id}}})
		if tx {
			e = append(e, lsid, txn)
		}
		return e
	}
	events := []bson.D{ins(t1, 0, 1, false), ins(t2, 1, 2, true), ins(t2, 2, 3, true), ins(t2, 3, 4, true), ins(t3, 0, 5, false)}
	txID := "3e11fa4771ca11e19e33c80aa9429562:7"
	off := func(ts bson.Timestamp) uint64 { return uint64(ts.T)<<32 | uint64(ts.I) }
	tok := func(ts bson.Timestamp, n int) string { return token(ts, n)[0].Value.(string) }
	type want struct {
		op  change.Op
		pos change.Position
		tx  change.Tx
	}
	p := func(ts bson.Timestamp, idx uint64, tk string) change.Position {
		return change.Position{Flavor: change.FlavorMongo, Offset: off(ts), Index: idx, Token: tk}
	}
	all := []want{
		{change.OpInsert, p(t1, 0, tok(t1, 0)), change.Tx{}},
		{change.OpBegin, p(t2, 1, tok(t1, 0)), change.Tx{ID: txID}},
		{change.OpInsert, p(t2, 2, tok(t2, 1)), change.Tx{ID: txID}},
		{change.OpInsert, p(t2, 3, tok(t2, 2)), change.Tx{ID: txID, Index: 1}},
		{change.OpInsert, p(t2, 4, tok(t2, 3)), change.Tx{ID: txID, Index: 2, Last: true}},
		{change.OpCommit, p(t2, 5, "c:"+tok(t2, 3)), change.Tx{ID: txID}},
		{change.OpInsert, p(t3, 0, tok(t3, 0)), change.Tx{}},
	}
	check := func(t *testing.T, got []change.Change, want []want) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %d changes, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Op != want[i].op || got[i].Pos != want[i].pos || got[i].Tx != want[i].tx {
				t.Errorf("change %d: %v %+v %+v, want %v %+v %+v", i, got[i].Op, got[i].Pos, got[i].Tx, want[i].op, want[i].pos, want[i].tx)
			}
		}
	}
	t.Run("whole stream", func(t *testing.T) {
		d := newCSDecoder(change.Position{})
		var out []change.Change
		for _, e := range events {
			var err error
			if out, _, err = d.decode(out, mustRaw(t, e), time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		check(t, out, all)
	})
	t.Run("commit at batch end", func(t *testing.T) {
		d := newCSDecoder(change.Position{})
		var out []change.Change
		for _, e := range events[:4] {
			out, _, _ = d.decode(out, mustRaw(t, e), time.Now())
		}
		out = d.idle(out, tok(t2, 3))
		check(t, out, all[:6])
	})
	// Resuming from any emitted position with resumeAfter its token: the
	// server sends the events after that token; the decoder numbers them
	// as the first run did, so a consumer sees the same positions.
	for k := range all {
		t.Run(fmt.Sprintf("resume after change %d", k), func(t *testing.T) {
			from := all[k].pos
			d := newCSDecoder(from)
			var out []change.Change
			for _, e := range events {
				// the server resumes after the token: skip events up to it
				if tk := e[0].Value.(bson.D)[0].Value.(string); tk <= strings.TrimPrefix(from.Token, "c:") {
					continue
				}
				var err error
				if out, _, err = d.decode(out, mustRaw(t, e), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			exp := all[k+1:]
			if k == 4 { // resumed after the last change: the commit cannot name the transaction
				exp = append([]want(nil), exp...)
				exp[0].tx.ID = ""
			}
			check(t, out, exp)
		})
	}
}

// TestResumeAtOperationTime: a position without a token resumes with
// startAtOperationTime, the server re-sends the events at its time, and
// exactly those up to the position are dropped.
func TestResumeAtOperationTime(t *testing.T) {
	lsid := bson.E{Key: "lsid", Value: bson.D{{Key: "id", Value: lsidID}}}
	txn := bson.E{Key: "txnNumber", Value: int64(1)}
	ins := func(ts bson.Timestamp, n int, tx bool) bson.D {
		e := ev("insert", ts, n, bson.E{Key: "documentKey", Value: bson.D{{Key: "_id", Value: int32(n)}}})
		if tx {
			e = append(e, lsid, txn)
		}
		return e
	}
	events := []bson.D{ins(t1, 0, false), ins(t2, 1, true), ins(t2, 2, true), ins(t3, 0, false)}
	var all []change.Change
	d := newCSDecoder(change.Position{})
	for _, e := range events {
		all, _, _ = d.decode(all, mustRaw(t, e), time.Now())
	}
	all = d.closeTx(all)
	for k := range all {
		from := all[k].Pos
		from.Token = ""
		dec, skip := resumeDecoder(from)
		var out []change.Change
		for _, e := range events {
			if e[2].Value.(bson.Timestamp).T < uint32(from.Offset>>32) {
				continue // before startAtOperationTime
			}
			out, _, _ = dec.decode(out, mustRaw(t, e), time.Now())
		}
		out = dec.closeTx(out)
		var kept []change.Change
		for _, c := range out {
			if !skip(c.Pos) {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(all)-k-1 {
			t.Fatalf("resume at %v: %d changes, want %d", from, len(kept), len(all)-k-1)
		}
		for i, c := range kept {
			w := all[k+1+i]
			if c.Op != w.Op || c.Pos.Offset != w.Pos.Offset || c.Pos.Index != w.Pos.Index {
				t.Errorf("resume at %v: change %d = %v %v, want %v %v", from, i, c.Op, c.Pos, w.Op, w.Pos)
			}
		}
	}
}

func TestTokenTS(t *testing.T) {
	for _, tt := range []struct {
		tok  string
		want uint64
	}{
		{"8266389D59000000032B0229296E04", 0x66389D59<<32 | 3},
		{"", 0},
		{"82zz", 0},
		{"0166389D59000000032B", 0},
	} {
		if got := tokenTS(tt.tok); got != tt.want {
			t.Errorf("tokenTS(%q) = %x, want %x", tt.tok, got, tt.want)
		}
	}
	doc, err := tokenDoc("8266389D59000000032B0229296E04")
	if err != nil || tokenString(doc) != "8266389D59000000032B0229296E04" {
		t.Errorf("tokenDoc round trip: %s %v", doc, err)
	}
	legacy := mustRaw(t, bson.D{{Key: "ts", Value: t1}, {Key: "n", Value: int32(1)}})
	s := tokenString(legacy)
	doc, err = tokenDoc(s)
	if err != nil || !bytesEqual(doc, legacy) {
		t.Errorf("legacy token %q round trip: %s %v", s, doc, err)
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestStreamErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"history lost", mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost", Message: "Resume of change stream was not possible, as the resume point may no longer be in the oplog"}, source.ErrPositionLost},
		{"invalid token", mongo.CommandError{Code: 260, Name: "InvalidResumeToken"}, source.ErrPositionLost},
		{"fatal", mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError", Message: "cannot resume stream; the resume token was not found"}, source.ErrPositionLost},
		{"ferretdb", mongo.CommandError{Code: 238, Name: "NotImplemented", Message: "`aggregate` stage \"$changeStream\" is not implemented yet"}, ErrChangeStreamsUnsupported},
		{"standalone", mongo.CommandError{Code: 40573, Message: "The $changeStream stage is only supported on replica sets"}, ErrChangeStreamsUnsupported},
		{"command not found", mongo.CommandError{Code: 59, Name: "CommandNotFound", Message: "no such command: 'aggregate'"}, ErrChangeStreamsUnsupported},
		{"said in words", mongo.CommandError{Code: 2, Name: "BadValue", Message: "Change streams are not supported on this deployment"}, ErrChangeStreamsUnsupported},
		{"other", mongo.CommandError{Code: 13, Name: "Unauthorized"}, nil},
		{"unauthorized quoting the command", mongo.CommandError{Code: 13, Name: "Unauthorized", Message: "not authorized on shop to execute command { aggregate: \"orders\", pipeline: [ { $changeStream: {} } ] } (the server would say: not supported)"}, nil},
		{"other naming $changeStream", mongo.CommandError{Code: 40415, Message: "BSON field '$changeStream.fullDocument' is an unknown field"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := streamError("read change stream", change.Position{Flavor: change.FlavorMongo, Offset: 5}, tt.err)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%v: not %v", err, tt.want)
			}
			if tt.want == nil && (errors.Is(err, source.ErrPositionLost) || errors.Is(err, ErrChangeStreamsUnsupported)) {
				t.Errorf("%v: classified", err)
			}
			var ce mongo.CommandError
			if !errors.As(err, &ce) {
				t.Errorf("%v: server error not kept", err)
			}
		})
	}
}
