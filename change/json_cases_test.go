package change

import (
	"encoding/binary"
	"math"
	"strings"
)

// valueCase is one value the JSON round-trip tests cover. want, when set,
// is how the value must be written in a column of its own kind.
type valueCase struct {
	name string
	v    Value
	typ  string // column type text
	want string
}

func f32le(fs ...float32) []byte {
	var b []byte
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func valueCases() []valueCase {
	negZero := math.Copysign(0, -1)
	dec65 := "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)
	pointWKB := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}
	uuid := []byte{0x0f, 0x8f, 0xad, 0x5b, 0xd9, 0xcb, 0x46, 0x9f, 0xa1, 0x65, 0x70, 0x86, 0x77, 0x28, 0x95, 0x0e}
	oid := []byte{0x65, 0xa1, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09}
	deep := `1`
	for range maxEmbedDepth + 1 {
		deep = "[" + deep + "]"
	}
	cases := []valueCase{
		{name: "null", v: Null(), want: `null`},
		{name: "unchanged", v: Unchanged(), want: `{"$kind":"unchanged"}`},
		{name: "bool true", v: Bool(true), want: `true`},
		{name: "bool false", v: Bool(false), want: `false`},
		{name: "bool 2", v: Value{Kind: KindBool, I: 2}, want: `{"$kind":"bool","i":2}`},
		{name: "int64 max", v: Int(math.MaxInt64, 64), want: `9223372036854775807`},
		{name: "int64 min", v: Int(math.MinInt64, 64), want: `-9223372036854775808`},
		{name: "int8", v: Int(-128, 8), want: `-128`},
		{name: "int24 zero", v: Int(0, 24), want: `0`},
		{name: "uint64 max", v: Uint(math.MaxUint64, 64), want: `18446744073709551615`},
		{name: "uint8", v: Uint(255, 8), want: `255`},
		{name: "float zero", v: Float64(0), want: `0.0`},
		{name: "float -0", v: Float64(negZero), want: `-0.0`},
		{name: "float 0.1", v: Float64(0.1), want: `0.1`},
		{name: "float integral", v: Float64(3), want: `3.0`},
		{name: "float 1e21", v: Float64(1e21), want: `1e+21`},
		{name: "float max", v: Float64(math.MaxFloat64), want: `1.7976931348623157e+308`},
		{name: "float denormal", v: Float64(5e-324), want: `5e-324`},
		{name: "float NaN", v: Float64(math.NaN()), want: `"NaN"`},
		{name: "float +Inf", v: Float64(math.Inf(1)), want: `"Infinity"`},
		{name: "float -Inf", v: Float64(math.Inf(-1)), want: `"-Infinity"`},
		{name: "float32 0.1", v: Float32(0.1), want: `0.1`},
		{name: "float32 max", v: Float32(math.MaxFloat32), want: `3.4028235e+38`},
		{name: "float32 smallest", v: Float32(math.SmallestNonzeroFloat32), want: `1e-45`},
		{name: "float32 NaN", v: Float32(float32(math.NaN())), want: `"NaN"`},
		{name: "float32 -Inf", v: Float32(float32(math.Inf(-1))), want: `"-Infinity"`},
		{name: "float32 not exact", v: Value{Kind: KindFloat, Size: 32, F: 0.1}, want: `{"$kind":"float","size":32,"f":0.1}`},
		{name: "float size 0", v: Value{Kind: KindFloat, F: 2.5}, want: `2.5`},
		{name: "decimal 65 digits negative", v: Decimal([]byte(dec65)), want: `"` + dec65 + `"`},
		{name: "decimal small", v: Decimal([]byte("0.001")), want: `"0.001"`},
		{name: "decimal NaN", v: Decimal([]byte("NaN")), want: `"NaN"`},
		{name: "decimal -Infinity", v: Decimal([]byte("-Infinity")), want: `"-Infinity"`},
		{name: "string empty", v: String([]byte{}), want: `""`},
		{name: "string 4-byte UTF-8", v: String([]byte("a😀é")), want: `"a😀é"`},
		{name: "string escapes", v: String([]byte("\x00\n\r\t\"\\/<>&\x7f\u2028\u2029")), want: `"\u0000\n\r\t\"\\/<>&` + "\x7f" + `\u2028\u2029"`},
		{name: "string invalid UTF-8", v: String([]byte("ok\xff\xfe")), want: `{"$kind":"string","b64":"b2v//g=="}`},
		{name: "string truncated UTF-8", v: String([]byte("a\xc3"))},
		{name: "string surrogate UTF-8", v: String([]byte("\xed\xa0\x80"))},
		{name: "string overlong UTF-8", v: String([]byte("\xc0\xaf"))},
		{name: "bytes", v: Bytes([]byte{0, 1, 0xfe, 0xff}), want: `"AAH+/w=="`},
		{name: "bytes empty", v: Bytes(nil), want: `""`},
		{name: "bytes invalid UTF-8", v: Bytes([]byte("\xff")), want: `"/w=="`},
		{name: "json object", v: JSON([]byte(`{"a":[1,2.50,{"b":null}],"c":"é\u00e9"}`)), want: `{"a":[1,2.50,{"b":null}],"c":"é\u00e9"}`},
		{name: "json spaced", v: JSON([]byte(`{ "a" :	1 }`)), want: `{ "a" :	1 }`},
		{name: "json string", v: JSON([]byte(`"x"`)), want: `"x"`},
		{name: "json number", v: JSON([]byte(`1.5e3`)), want: `1.5e3`},
		{name: "json empty array", v: JSON([]byte(`[]`)), want: `[]`},
		{name: "json null", v: JSON([]byte(`null`)), want: `{"$kind":"json","v":null}`},
		{name: "json tag-like", v: JSON([]byte(`{"$kind":"int"}`)), want: `{"$kind":"json","v":{"$kind":"int"}}`},
		{name: "json escaped key", v: JSON([]byte(`{"\u0024kind":1}`)), want: `{"$kind":"json","v":{"\u0024kind":1}}`},
		{name: "json newline", v: JSON([]byte("{\n}")), want: `{"$kind":"json","text":"{\n}"}`},
		{name: "json leading space", v: JSON([]byte(" 1")), want: `{"$kind":"json","text":" 1"}`},
		{name: "json invalid", v: JSON([]byte("{'a':1}")), want: `{"$kind":"json","text":"{'a':1}"}`},
		{name: "json invalid UTF-8", v: JSON([]byte("\"\xff\""))},
		{name: "json too deep", v: JSON([]byte(deep))},
		{name: "json empty", v: JSON(nil), want: `{"$kind":"json"}`},
		{name: "date", v: Date(2024, 1, 2), want: `"2024-01-02"`},
		{name: "date zero", v: Date(0, 0, 0), want: `"0000-00-00"`},
		{name: "date zero day", v: Date(2024, 2, 0), want: `"2024-02-00"`},
		{name: "date year 12345", v: Date(12345, 1, 1), want: `"12345-01-01"`},
		{name: "date negative", v: Date(-44, 3, 15), want: `{"$kind":"date","i":-439685}`},
		{name: "date max", v: Value{Kind: KindDate, I: math.MaxInt64}},
		{name: "time max MySQL", v: Time(false, 838, 59, 59, 0, 0), want: `"838:59:59"`},
		{name: "time min MySQL fsp6", v: Time(true, 838, 59, 59, 0, 6), want: `"-838:59:59.000000"`},
		{name: "time -0.5", v: Time(true, 0, 0, 0, 500000000, 1), want: `"-00:00:00.5"`},
		{name: "time -0", v: Time(true, 0, 0, 0, 0, 0), want: `"-00:00:00"`},
		{name: "timetz", v: Value{Kind: KindTime, I: 120000, U: 123000000, Size: 3, Zoned: true, Off: 19800}, want: `"12:00:00.123+05:30"`},
		{name: "timetz utc", v: Value{Kind: KindTime, I: 120000, Zoned: true}, want: `"12:00:00+00:00"`},
		{name: "timetz seconds", v: Value{Kind: KindTime, I: 120000, Zoned: true, Off: -3661}, want: `"12:00:00-01:01:01"`},
		{name: "time offset without zoned", v: Value{Kind: KindTime, I: 120000, Off: 60}, want: `{"$kind":"time","off":60,"i":120000}`},
		{name: "time nanos beyond fsp", v: Value{Kind: KindTime, I: 1, U: 5, Size: 3}, want: `{"$kind":"time","size":3,"i":1,"u":5}`},
		{name: "time fsp 10", v: Value{Kind: KindTime, Size: 10}, want: `{"$kind":"time","size":10}`},
		{name: "time huge hours", v: Value{Kind: KindTime, I: math.MaxInt64}},
		{name: "datetime zero", v: DateTime(0, 0, 0, 0, 0, 0, 0, 0), want: `"0000-00-00 00:00:00"`},
		{name: "datetime zero fsp6", v: DateTime(0, 0, 0, 0, 0, 0, 0, 6), want: `"0000-00-00 00:00:00.000000"`},
		{name: "datetime max", v: DateTime(9999, 12, 31, 23, 59, 59, 999999000, 6), want: `"9999-12-31 23:59:59.999999"`},
		{name: "datetime huge", v: Value{Kind: KindDateTime, I: math.MaxInt64}},
		{name: "datetime negative", v: Value{Kind: KindDateTime, I: -1}, want: `{"$kind":"datetime","i":-1}`},
		{name: "timestamp fsp6", v: Timestamp(1700000000, 123456000, 6), want: `"2023-11-14 22:13:20.123456"`},
		{name: "timestamp zero", v: Timestamp(0, 0, 0), want: `"0000-00-00 00:00:00"`},
		{name: "timestamp zero fsp3", v: Timestamp(0, 0, 3), want: `"0000-00-00 00:00:00.000"`},
		{name: "timestamp epoch fraction", v: Timestamp(0, 500000000, 1), want: `"1970-01-01 00:00:00.5"`},
		{name: "timestamp before epoch", v: Timestamp(-300000000, 0, 0), want: `"1960-06-29 18:40:00"`},
		{name: "timestamp zoned epoch", v: Value{Kind: KindTimestamp, Zoned: true}, want: `"1970-01-01 00:00:00+00:00"`},
		{name: "timestamp zoned", v: Value{Kind: KindTimestamp, I: 1700000000, U: 1000, Size: 6, Zoned: true, Off: -28800}, want: `"2023-11-14 14:13:20.000001-08:00"`},
		{name: "timestamp +infinity", v: TimestampInfinity(true), want: `"infinity"`},
		{name: "timestamp -infinity", v: TimestampInfinity(false), want: `"-infinity"`},
		{name: "timestamp zoned infinity", v: Value{Kind: KindTimestamp, I: math.MaxInt64, Zoned: true}, want: `"infinity"`},
		{name: "timestamp year 10000", v: Timestamp(253402300800, 0, 0), want: `{"$kind":"timestamp","i":253402300800}`},
		{name: "timestamp year 1", v: Timestamp(-62135596800, 0, 0), want: `"0001-01-01 00:00:00"`},
		{name: "timestamp offset not zoned", v: Value{Kind: KindTimestamp, I: 5, Off: 3600}},
		{name: "year", v: Year(2024), want: `2024`},
		{name: "year zero", v: Year(0), want: `0`},
		{name: "enum", v: Enum([]byte("b'c"), 2), typ: "enum('a','b''c')", want: `"b'c"`},
		{name: "enum backslash", v: Enum([]byte(`x\y`), 1), typ: `ENUM('x\\y')`, want: `"x\\y"`},
		{name: "enum error value", v: Enum([]byte(""), 0), typ: "enum('a')", want: `""`},
		{name: "enum wrong index", v: Enum([]byte("a"), 2), typ: "enum('a','b')", want: `"a"`},
		{name: "enum postgres", v: Enum([]byte("happy"), 0), typ: "mood", want: `"happy"`},
		{name: "enum no members", v: Enum([]byte("b"), 2), typ: "enum", want: `"b"`},
		{name: "enum invalid UTF-8", v: Enum([]byte("\xff"), 2), typ: "mood", want: `{"$kind":"enum","u":2,"b64":"/w=="}`},
		{name: "set", v: Set([]byte("a,c"), 5), typ: "set('a','b','c')", want: `"a,c"`},
		{name: "set empty", v: Set(nil, 0), typ: "set('a')", want: `""`},
		{name: "set unknown member", v: Set([]byte("a,z"), 1), typ: "set('a')", want: `{"$kind":"set","u":1,"text":"a,z"}`},
		{name: "bit 64", v: Bit(math.MaxUint64, 64), want: `18446744073709551615`},
		{name: "bit 1", v: Bit(1, 1), want: `1`},
		{name: "geometry", v: Geometry(4326, pointWKB), want: `{"srid":4326,"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA"}`},
		{name: "geometry empty", v: Geometry(0, nil), want: `{"srid":0,"wkb":""}`},
		{name: "vector", v: Vector(f32le(1, 2.5, -0.0, 0.1)), want: `[1.0,2.5,0.0,0.1]`},
		{name: "vector -0", v: Vector(f32le(float32(negZero))), want: `[-0.0]`},
		{name: "vector NaN", v: Vector(f32le(float32(math.NaN()))), want: `{"$kind":"vector","b64":"AADAfw=="}`},
		{name: "vector odd length", v: Vector([]byte{1, 2, 3})},
		{name: "vector empty", v: Vector(nil), want: `[]`},
		{name: "uuid", v: Value{Kind: KindUUID, B: uuid}, want: `"0f8fad5b-d9cb-469f-a165-70867728950e"`},
		{name: "uuid short", v: Value{Kind: KindUUID, B: uuid[:4]}},
		{name: "objectid", v: Value{Kind: KindObjectID, B: oid}, want: `"65a1f0010203040506070809"`},
		{name: "objectid short", v: Value{Kind: KindObjectID, B: oid[:11]}},
		{name: "bson timestamp", v: Value{Kind: KindBSONTimestamp, U: 1700000000<<32 | 7}, want: `{"t":1700000000,"i":7}`},
		{name: "regex", v: Value{Kind: KindRegex, B: []byte(`^a\d+`), Names: []string{"im"}}, want: `{"pattern":"^a\\d+","options":"im"}`},
		{name: "regex no options", v: Value{Kind: KindRegex, B: []byte("x")}, want: `{"pattern":"x"}`},
		{name: "regex invalid UTF-8", v: Value{Kind: KindRegex, B: []byte("\xff"), Names: []string{"\xfe"}}},
		{name: "other", v: Value{Kind: KindOther, B: []byte("'a':1"), Names: []string{"tsvector"}}, typ: "tsvector", want: `"'a':1"`},
		{name: "other other type", v: Value{Kind: KindOther, B: []byte("x"), Names: []string{"money"}}, typ: "text", want: `{"$kind":"other","text":"x","names":["money"]}`},
		{name: "array", v: Value{Kind: KindArray, Elems: []Value{Int(1, 64), Float64(2), String([]byte("x")), Bool(true), Null()}}, want: `[1,2.0,"x",true,null]`},
		{name: "array nested", v: Value{Kind: KindArray, Elems: []Value{{Kind: KindArray, Elems: []Value{Int(1, 64)}}, {Kind: KindArray}}}, want: `[[1],[]]`},
		{name: "array typed elements", v: Value{Kind: KindArray, Elems: []Value{Int(1, 32), Decimal([]byte("1.5")), Absent(), Unchanged(), Float64(math.NaN())}},
			want: `[{"$kind":"int","size":32,"v":1},{"$kind":"decimal","v":"1.5"},{"$kind":"absent"},{"$kind":"unchanged"},{"$kind":"float","size":64,"v":"NaN"}]`},
		{name: "array empty", v: Value{Kind: KindArray}, want: `[]`},
		{name: "document", v: Value{Kind: KindDocument, Names: []string{"_id", "n", "tags"}, Elems: []Value{{Kind: KindObjectID, B: oid}, Int(5, 32), {Kind: KindArray, Elems: []Value{String([]byte("a"))}}}},
			want: `{"_id":{"$kind":"objectid","v":"65a1f0010203040506070809"},"n":{"$kind":"int","size":32,"v":5},"tags":["a"]}`},
		{name: "document nested", v: Value{Kind: KindDocument, Names: []string{"a"}, Elems: []Value{{Kind: KindDocument, Names: []string{"b", "b"}, Elems: []Value{Int(1, 64), Int(2, 64)}}}}, want: `{"a":{"b":1,"b":2}}`},
		{name: "document empty", v: Value{Kind: KindDocument}, want: `{}`},
		{name: "document $kind field", v: Value{Kind: KindDocument, Names: []string{"$kind"}, Elems: []Value{String([]byte("x"))}}, want: `{"$kind":"document","v":{"$kind":"x"}}`},
		{name: "document invalid UTF-8 name", v: Value{Kind: KindDocument, Names: []string{"\xff"}, Elems: []Value{Null()}}, want: `{"$kind":"document","elems":[null],"names":[{"b64":"/w=="}]}`},
		{name: "document names mismatch", v: Value{Kind: KindDocument, Names: []string{"a", "b"}, Elems: []Value{Null()}}},
		{name: "document with tagged field", v: Value{Kind: KindDocument, Names: []string{"x"}, Elems: []Value{{Kind: KindDocument, Names: []string{"$kind"}, Elems: []Value{Null()}}}}},
		{name: "null with payload", v: Value{Kind: KindNull, I: 1}, want: `{"$kind":"null","i":1}`},
		{name: "unchanged with payload", v: Value{Kind: KindUnchanged, B: []byte("x")}, want: `{"$kind":"unchanged","text":"x"}`},
		{name: "absent with payload", v: Value{Kind: KindAbsent, U: 1}, want: `{"$kind":"absent","u":1}`},
		{name: "unknown kind", v: Value{Kind: 99, Size: 3, Neg: true, Off: -5, Zoned: true, I: -1, U: 2, F: -0.5, B: []byte("b"), Elems: []Value{Null()}, Names: []string{"n"}},
			want: `{"$kind":"kind(99)","size":3,"neg":true,"off":-5,"zoned":true,"i":-1,"u":2,"f":-0.5,"text":"b","elems":[null],"names":["n"]}`},
	}
	for fsp := uint8(0); fsp <= 9; fsp++ {
		nanos := uint32(123456789 / pow10[9-fsp] * pow10[9-fsp])
		cases = append(cases,
			valueCase{name: "time fsp " + string('0'+fsp), v: Time(fsp%2 == 1, 25+int(fsp), 1, 2, nanos, fsp)},
			valueCase{name: "datetime fsp " + string('0'+fsp), v: DateTime(2024, 12, 31, 23, 59, 58, nanos, fsp)},
			valueCase{name: "timestamp fsp " + string('0'+fsp), v: Timestamp(1700000000+int64(fsp), nanos, fsp)},
		)
	}
	return cases
}
