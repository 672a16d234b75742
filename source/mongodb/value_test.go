package mongodb

import (
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestConvertValue(t *testing.T) {
	dec := func(s string) bson.Decimal128 {
		d, err := bson.ParseDecimal128(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		in   any
		want change.Value
		typ  string
	}{
		{"double", 1.5, change.Float64(1.5), "double"},
		{"string", "héllo", change.String([]byte("héllo")), "string"},
		{"int32", int32(-5), change.Int(-5, 32), "int"},
		{"int64", int64(-5), change.Int(-5, 64), "long"},
		{"bool", true, change.Bool(true), "bool"},
		{"null", nil, change.Null(), "null"},
		{"objectId", oid, change.Value{Kind: change.KindObjectID, B: oid[:]}, "objectId"},
		{"date", bson.NewDateTimeFromTime(time.Date(2023, 11, 14, 22, 13, 20, 123e6, time.UTC)),
			change.Value{Kind: change.KindTimestamp, I: 1700000000, U: 123e6, Size: 3, Zoned: true}, "date"},
		{"date before 1970", bson.DateTime(-1), change.Value{Kind: change.KindTimestamp, I: -1, U: 999e6, Size: 3, Zoned: true}, "date"},
		{"timestamp", bson.Timestamp{T: 1700000000, I: 7}, change.Value{Kind: change.KindBSONTimestamp, U: 1700000000<<32 | 7}, "timestamp"},
		{"binary", bson.Binary{Subtype: 0x80, Data: []byte{1, 2}}, change.Value{Kind: change.KindBytes, B: []byte{1, 2}, U: 0x80}, "binData"},
		{"uuid", bson.Binary{Subtype: 4, Data: lsidID.Data}, change.Value{Kind: change.KindBytes, B: lsidID.Data, U: 4}, "binData"},
		{"regex", bson.Regex{Pattern: `^a\d`, Options: "im"}, change.Value{Kind: change.KindRegex, B: []byte(`^a\d`), Names: []string{"im"}}, "regex"},
		{"decimal", dec("-12.50"), change.Decimal([]byte("-12.50")), "decimal"},
		{"decimal small", dec("0.001"), change.Decimal([]byte("0.001")), "decimal"},
		{"decimal exponent", dec("1.5E+3"), change.Decimal([]byte("1500")), "decimal"},
		{"decimal negative zero", dec("-0"), change.Decimal([]byte("-0")), "decimal"},
		{"decimal huge", dec("1E+6000"), change.Decimal([]byte("1E+6000")), "decimal"},
		{"decimal NaN", dec("NaN"), change.Decimal([]byte("NaN")), "decimal"},
		{"decimal -Inf", dec("-Infinity"), change.Decimal([]byte("-Infinity")), "decimal"},
		{"minKey", bson.MinKey{}, change.Value{Kind: change.KindOther, B: []byte("MinKey"), Names: []string{"minKey"}}, "minKey"},
		{"maxKey", bson.MaxKey{}, change.Value{Kind: change.KindOther, B: []byte("MaxKey"), Names: []string{"maxKey"}}, "maxKey"},
		{"javascript", bson.JavaScript("x()"), change.Value{Kind: change.KindOther, B: []byte("x()"), Names: []string{"javascript"}}, "javascript"},
		{"symbol", bson.Symbol("s"), change.Value{Kind: change.KindOther, B: []byte("s"), Names: []string{"symbol"}}, "symbol"},
		{"undefined", bson.Undefined{}, change.Value{Kind: change.KindOther, B: []byte("undefined"), Names: []string{"undefined"}}, "undefined"},
		{"dbPointer", bson.DBPointer{DB: "a.b", Pointer: oid}, change.Value{Kind: change.KindOther,
			B: []byte(`{"$dbPointer":{"$ref":"a.b","$id":{"$oid":"65a1f0010203040506070809"}}}`), Names: []string{"dbPointer"}}, "dbPointer"},
		{"code with scope", bson.CodeWithScope{Code: "f()", Scope: bson.D{{Key: "x", Value: int32(1)}}}, change.Value{Kind: change.KindOther,
			B: []byte(`{"$code":"f()","$scope":{"x": {"$numberInt":"1"}}}`), Names: []string{"javascriptWithScope"}}, "javascriptWithScope"},
		{"document", bson.D{{Key: "a", Value: int32(1)}, {Key: "b", Value: bson.A{"x", bson.D{}}}},
			change.Value{Kind: change.KindDocument, Names: []string{"a", "b"}, Elems: []change.Value{change.Int(1, 32),
				{Kind: change.KindArray, Elems: []change.Value{change.String([]byte("x")), {Kind: change.KindDocument, Names: []string{}, Elems: []change.Value{}}}}}}, "object"},
		{"empty array", bson.A{}, change.Value{Kind: change.KindArray, Elems: []change.Value{}}, "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustRaw(t, bson.D{{Key: "_id", Value: int32(1)}, {Key: "v", Value: tt.in}})
			cols, vals, err := rowImage(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(cols) != 2 || !cols[0].Key || cols[1].Key || cols[1].Name != "v" || cols[1].Type != tt.typ {
				t.Errorf("columns %+v, want _id (key) and v (%s)", cols, tt.typ)
			}
			if !change.Equal(vals[1], tt.want) {
				t.Errorf("value %+v, want %+v", vals[1], tt.want)
			}
		})
	}
}

func TestConvertMalformed(t *testing.T) {
	good := mustRaw(t, bson.D{{Key: "a", Value: bson.D{{Key: "b", Value: "text"}}}, {Key: "n", Value: int64(1)}})
	for i := range len(good) {
		// every truncation and every single-byte corruption: an error or a value, never a panic
		_, _, _ = rowImage(good[:i])
		bad := append([]byte(nil), good...)
		bad[i] ^= 0xff
		_, _, _ = rowImage(bad)
	}
	deep := bson.D{{Key: "x", Value: int32(1)}}
	for range maxDepth + 5 {
		deep = bson.D{{Key: "x", Value: deep}}
	}
	if _, _, err := rowImage(mustRaw(t, deep)); err == nil {
		t.Error("document nested past maxDepth: no error")
	}
}

func FuzzRowImage(f *testing.F) {
	f.Add([]byte{5, 0, 0, 0, 0})
	b, _ := bson.Marshal(bson.D{{Key: "a", Value: bson.A{int32(1), "x", bson.D{{Key: "d", Value: bson.NewDecimal128(1, 2)}}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, _, _ = rowImage(doc)
		_, _ = (&oplogDecoder{}).decode(nil, doc, time.Time{})
		_, _, _ = newCSDecoder(change.Position{}).decode(nil, doc, time.Time{})
	})
}
