package binlog

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

func renderJSON(t *testing.T, doc []byte) (string, error) {
	t.Helper()
	var s jsonScratch
	out, err := s.appendDocument(nil, doc)
	return string(out), err
}

func TestJSONText(t *testing.T) {
	deep := any("x")
	wantDeep := `"x"`
	for i := 0; i < 99; i++ {
		deep = []any{deep}
		wantDeep = "[" + wantDeep + "]"
	}
	big := make([]any, 20000) // forces the large array format
	for i := range big {
		big[i] = "v"
	}
	dateTime := int64(((2015*13+1)<<5|15)<<17|(23<<12|24<<6|25))<<24 + 123456
	date := int64(((2015*13+1)<<5|15)<<17) << 24
	timeVal := -(int64(838<<12|59<<6|58)<<24 + 1)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, "null"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"int16", -32768, "-32768"},
		{"int32", 2147483647, "2147483647"},
		{"int64", int64(math.MinInt64), "-9223372036854775808"},
		{"uint64", uint64(math.MaxUint64), "18446744073709551615"},
		{"string escapes", "a\"b\\c\n\t\x01\x1f/é🐬", `"a\"b\\c\n\t\u0001\u001f/é🐬"`},
		{"empty object", map[string]any{}, "{}"},
		{"empty array", []any{}, "[]"},
		{"object key order", map[string]any{"bb": 1, "a": []any{1, 2.5, "x"}, "c": nil},
			`{"a": [1, 2.5, "x"], "c": null, "bb": 1}`},
		{"nested", []any{map[string]any{"k": []any{}}, true, false, int64(1 << 40)},
			`[{"k": []}, true, false, 1099511627776]`},
		{"deep", deep, wantDeep},
		{"opaque decimal", jsonOpaque{TypeNewDecimal, append([]byte{5, 2}, encodeDecimal("-123.45", 5, 2)...)}, "-123.45"},
		{"opaque datetime", jsonOpaque{TypeDateTime, binary.LittleEndian.AppendUint64(nil, uint64(dateTime))}, `"2015-01-15 23:24:25.123456"`},
		{"opaque timestamp", jsonOpaque{TypeTimestamp, binary.LittleEndian.AppendUint64(nil, uint64(dateTime))}, `"2015-01-15 23:24:25.123456"`},
		{"opaque date", jsonOpaque{TypeDate, binary.LittleEndian.AppendUint64(nil, uint64(date))}, `"2015-01-15"`},
		{"opaque time", jsonOpaque{TypeTime, binary.LittleEndian.AppendUint64(nil, uint64(timeVal))}, `"-838:59:58.000001"`},
		{"opaque var_string", jsonOpaque{TypeVarString, []byte("txt")}, `"txt"`},
		{"opaque blob", jsonOpaque{TypeBlob, []byte{0, 1, 2, 0xff}}, `"base64:type252:AAEC/w=="`},
		{"opaque long blob wraps", jsonOpaque{TypeBit, make([]byte, 60)}, `"base64:type16:` + strings.Repeat("A", 76) + `\n` + strings.Repeat("A", 4) + `"`},
	}
	for _, tc := range tests {
		got, err := renderJSON(t, jsonDoc(tc.v))
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
	got, err := renderJSON(t, jsonDoc(big))
	if err != nil || got != "["+strings.Repeat(`"v", `, len(big)-1)+`"v"]` {
		t.Errorf("large array: %v, %d bytes", err, len(got))
	}
	if got, err := renderJSON(t, nil); got != "null" || err != nil {
		t.Errorf("empty document: %q %v", got, err)
	}
}

func TestJSONDoubleLikeMySQL(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-1.5, "-1.5"},
		{0.1, "0.1"},
		{3.14159, "3.14159"},
		{1e15, "1e15"},
		{1e14, "100000000000000.0"},
		{123456789012345.6, "123456789012345.6"},
		{1.2345678901234568e20, "1.2345678901234568e20"},
		{1e-5, "0.00001"},
		{1e-15, "0.000000000000001"},
		{1.5e-16, "1.5e-16"},
		{1e300, "1e300"},
		{-1.7976931348623157e308, "-1.7976931348623157e308"},
		{5e-324, "5e-324"},
		{0.30000000000000004, "0.30000000000000004"},
		{100, "100.0"},
		{1e16 + 2, "1.0000000000000002e16"},
	}
	for _, tc := range tests {
		got := string(appendMySQLDouble(nil, math.Float64bits(tc.f)))
		if got != tc.want {
			t.Errorf("%g: got %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestJSONMalformed(t *testing.T) {
	tooDeep := any(1)
	for i := 0; i < jsonMaxDepth+5; i++ {
		tooDeep = []any{tooDeep}
	}
	// An array whose element points back at the array itself.
	loop := []byte{jsonbSmallArray, 1, 0, 7, 0, jsonbSmallArray, 0, 0}
	// Two elements both pointing at one nested array, nested many times:
	// offsets may be shared, the output must stay bounded.
	shared := []byte{jsonbSmallArray}
	inner := []byte{2, 0, 0, 0, jsonbSmallArray, 0, 0, jsonbSmallArray, 0, 0}
	inner[2] = byte(len(inner))
	shared = append(shared, inner...)
	cases := map[string][]byte{
		"too deep":        jsonDoc(tooDeep),
		"self reference":  loop,
		"bad type":        {0x0e, 1},
		"bad literal":     {jsonbLiteral, 9},
		"short string":    {jsonbString, 5, 'a'},
		"short container": {jsonbSmallObject, 1},
		"key past end":    {jsonbSmallObject, 1, 0, 12, 0, 200, 0, 1, 0, jsonbLiteral, 0, 0},
		"bad varlen":      {jsonbString, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80},
		"shared offsets":  shared,
	}
	for name, doc := range cases {
		_, err := renderJSON(t, doc)
		if name == "shared offsets" {
			continue // valid, bounded: only must not panic
		}
		if !errors.Is(err, errBadJSON) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}
