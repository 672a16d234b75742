package change

import (
	"math"
	"testing"
)

func TestAppendText(t *testing.T) {
	wkb := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"absent", Absent(), ""},
		{"unchanged", Unchanged(), ""},
		{"null", Null(), "NULL"},
		{"bool", Bool(true), "true"},
		{"int min", Int(math.MinInt64, 64), "-9223372036854775808"},
		{"uint max", Uint(math.MaxUint64, 64), "18446744073709551615"},
		{"float", Float64(0.1), "0.1"},
		{"float big", Float64(1e21), "1e+21"},
		{"float small", Float64(1e-7), "1e-7"},
		{"float32", Float32(0.1), "0.1"},
		{"float nan", Float64(math.NaN()), "NaN"},
		{"float -inf", Float64(math.Inf(-1)), "-Infinity"},
		{"decimal", Decimal([]byte("-12.50")), "-12.50"},
		{"string", String([]byte("héllo")), "héllo"},
		{"date", Date(2024, 1, 2), "2024-01-02"},
		{"zero date", Date(0, 0, 0), "0000-00-00"},
		{"datetime fsp6", DateTime(2024, 1, 2, 3, 4, 5, 123456000, 6), "2024-01-02 03:04:05.123456"},
		{"datetime fsp0", DateTime(2024, 1, 2, 3, 4, 5, 0, 0), "2024-01-02 03:04:05"},
		{"datetime fsp9", DateTime(2024, 1, 2, 3, 4, 5, 123456789, 9), "2024-01-02 03:04:05.123456789"},
		{"datetime fsp3 trailing zeros", DateTime(2024, 1, 2, 3, 4, 5, 100000000, 3), "2024-01-02 03:04:05.100"},
		{"zero datetime", DateTime(0, 0, 0, 0, 0, 0, 0, 0), "0000-00-00 00:00:00"},
		{"zero datetime fsp2", DateTime(0, 0, 0, 0, 0, 0, 0, 2), "0000-00-00 00:00:00.00"},
		{"time min", Time(true, 838, 59, 59, 0, 6), "-838:59:59.000000"},
		{"time -0.5", Time(true, 0, 0, 0, 500000000, 1), "-00:00:00.5"},
		{"time", Time(false, 12, 0, 1, 0, 0), "12:00:01"},
		{"timetz", Value{Kind: KindTime, I: 120000, Zoned: true, Off: 19800}, "12:00:00+05:30"},
		{"timetz utc", Value{Kind: KindTime, I: 120000, Zoned: true}, "12:00:00+00:00"},
		{"timetz seconds", Value{Kind: KindTime, I: 120000, Zoned: true, Off: -(3600 + 61)}, "12:00:00-01:01:01"},
		{"timestamp", Timestamp(1700000000, 5000, 6), "2023-11-14 22:13:20.000005"},
		{"timestamp zero", Timestamp(0, 0, 0), "0000-00-00 00:00:00"},
		{"timestamp zoned epoch", Value{Kind: KindTimestamp, Zoned: true}, "1970-01-01 00:00:00+00:00"},
		{"timestamp zoned", Value{Kind: KindTimestamp, I: 1700000000, Zoned: true, Off: -28800}, "2023-11-14 14:13:20-08:00"},
		{"timestamp +inf", TimestampInfinity(true), "infinity"},
		{"timestamp -inf", TimestampInfinity(false), "-infinity"},
		{"year", Year(2024), "2024"},
		{"zero year", Year(0), "0000"},
		{"enum", Enum([]byte("b"), 2), "b"},
		{"set", Set([]byte("a,c"), 5), "a,c"},
		{"bit64", Bit(math.MaxUint64, 64), "18446744073709551615"},
		{"geometry srid", Geometry(4326, wkb), "0101000020E6100000000000000000F03F0000000000000040"},
		{"geometry no srid", Geometry(0, wkb[:5]), "0101000000"},
		{"vector", Vector([]byte{0, 0, 0x80, 0x3f, 0, 0, 0x20, 0x40}), "[1,2.5]"},
		{"uuid", Value{Kind: KindUUID, B: []byte{0x0f, 0x8f, 0xad, 0x5b, 0xd9, 0xcb, 0x46, 0x9f, 0xa1, 0x65, 0x70, 0x86, 0x77, 0x28, 0x95, 0x0e}}, "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"objectid", Value{Kind: KindObjectID, B: []byte{0x65, 0xa1, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, "65a1f0000000000000000001"},
		{"bson timestamp", Value{Kind: KindBSONTimestamp, U: 1700000000<<32 | 5}, "Timestamp(1700000000, 5)"},
		{"regex", Value{Kind: KindRegex, B: []byte("^a.*"), Names: []string{"i"}}, "/^a.*/i"},
		{"array", Value{Kind: KindArray, Elems: []Value{Int(1, 64), String([]byte("x")), Null()}}, `[1,"x",null]`},
		{"document", Value{Kind: KindDocument, Names: []string{"a", "b"}, Elems: []Value{Float64(1), Bool(false)}}, `{"a":1.0,"b":false}`},
		{"other", Value{Kind: KindOther, B: []byte("'a' 'b'"), Names: []string{"tsvector"}}, "'a' 'b'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendText([]byte("x"), tt.v))
			if got != "x"+tt.want {
				t.Errorf("AppendText = %q, want %q", got[1:], tt.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	base := Value{Kind: KindDocument, Names: []string{"a"}, Elems: []Value{Float64(math.NaN())}}
	if !Equal(base, base.Clone()) {
		t.Error("a value differs from its clone")
	}
	if !Equal(Bytes(nil), Bytes([]byte{})) {
		t.Error("nil and empty bytes differ")
	}
	if Equal(Float64(0), Float64(math.Copysign(0, -1))) {
		t.Error("0 equals -0")
	}
	mutations := []func(v *Value){
		func(v *Value) { v.Kind = KindArray },
		func(v *Value) { v.Size = 1 },
		func(v *Value) { v.Neg = true },
		func(v *Value) { v.Off = 1 },
		func(v *Value) { v.Zoned = true },
		func(v *Value) { v.I = 1 },
		func(v *Value) { v.U = 1 },
		func(v *Value) { v.F = 1 },
		func(v *Value) { v.B = []byte{0} },
		func(v *Value) { v.Names[0] = "b" },
		func(v *Value) { v.Names = append(v.Names, "b") },
		func(v *Value) { v.Elems[0] = Float64(1) },
		func(v *Value) { v.Elems[0].Size = 32 },
	}
	for i, mutate := range mutations {
		d := base.Clone()
		mutate(&d)
		if Equal(base, d) || Equal(d, base) {
			t.Errorf("mutation %d: Equal(%+v) = true", i, d)
		}
	}
}
