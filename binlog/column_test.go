package binlog

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// decodeOne builds a one-column table and a WRITE_ROWS_EVENT holding value,
// and returns the decoded value.
func decodeOne(t *testing.T, col tcol, value []byte, optional ...[]byte) change.Value {
	t.Helper()
	tm, err := DecodeTableMap(buildTableMap(1, "d", "t", []tcol{col}, optional...), nil)
	if err != nil {
		t.Fatalf("table map: %v", err)
	}
	body := buildRowsBody(WriteRowsEventV2, 1, 1, [][]byte{{1}}, nil, image(value))
	r, err := NewRowsReader(WriteRowsEventV2, body, nil, func(uint64) *TableMap { return tm })
	if err != nil {
		t.Fatalf("rows: %v", err)
	}
	if !r.Next() {
		t.Fatalf("no row: %v", r.Err())
	}
	after, err := r.After(nil)
	if err != nil {
		t.Fatalf("after: %v", err)
	}
	if r.Next() || r.Err() != nil {
		t.Fatalf("trailing row or error: %v", r.Err())
	}
	return after[0].Clone()
}

func sameValue(a, b change.Value) bool {
	if math.IsNaN(a.F) && math.IsNaN(b.F) {
		a.F, b.F = 0, 0
	}
	return a.Kind == b.Kind && a.Size == b.Size && a.Neg == b.Neg && a.I == b.I && a.U == b.U &&
		a.F == b.F && bytes.Equal(a.B, b.B) && len(a.Names) == len(b.Names)
}

var (
	unsignedTLV = testTLV(tmSignedness, []byte{0x80})
	latin1TLV   = testTLV(tmDefaultCharset, packedSeq(8))
	binaryTLV   = testTLV(tmDefaultCharset, packedSeq(63))
	utf8mb4TLV  = testTLV(tmDefaultCharset, packedSeq(255))
)

func TestDecodeIntegers(t *testing.T) {
	tests := []struct {
		name  string
		col   ColumnType
		value []byte
		uns   bool
		want  change.Value
	}{
		{"tiny min", TypeTiny, []byte{0x80}, false, change.Int(math.MinInt8, 8)},
		{"tiny max", TypeTiny, []byte{0x7f}, false, change.Int(math.MaxInt8, 8)},
		{"tiny unsigned max", TypeTiny, []byte{0xff}, true, change.Uint(math.MaxUint8, 8)},
		{"short min", TypeShort, leBytes(0x8000, 2), false, change.Int(math.MinInt16, 16)},
		{"short max", TypeShort, leBytes(0x7fff, 2), false, change.Int(math.MaxInt16, 16)},
		{"short unsigned max", TypeShort, leBytes(0xffff, 2), true, change.Uint(math.MaxUint16, 16)},
		{"int24 min", TypeInt24, leBytes(0x800000, 3), false, change.Int(-1<<23, 24)},
		{"int24 max", TypeInt24, leBytes(0x7fffff, 3), false, change.Int(1<<23-1, 24)},
		{"int24 -1", TypeInt24, leBytes(0xffffff, 3), false, change.Int(-1, 24)},
		{"int24 unsigned max", TypeInt24, leBytes(0xffffff, 3), true, change.Uint(1<<24-1, 24)},
		{"long min", TypeLong, leBytes(0x80000000, 4), false, change.Int(math.MinInt32, 32)},
		{"long max", TypeLong, leBytes(0x7fffffff, 4), false, change.Int(math.MaxInt32, 32)},
		{"long unsigned max", TypeLong, leBytes(math.MaxUint32, 4), true, change.Uint(math.MaxUint32, 32)},
		{"longlong min", TypeLongLong, leBytes(1<<63, 8), false, change.Int(math.MinInt64, 64)},
		{"longlong max", TypeLongLong, leBytes(math.MaxInt64, 8), false, change.Int(math.MaxInt64, 64)},
		{"longlong unsigned max", TypeLongLong, leBytes(math.MaxUint64, 8), true, change.Uint(math.MaxUint64, 64)},
		{"year zero", TypeYear, []byte{0}, false, change.Year(0)},
		{"year 2155", TypeYear, []byte{255}, false, change.Year(2155)},
		{"float", TypeFloat, leBytes(uint64(math.Float32bits(-1.5)), 4), false, change.Float32(-1.5)},
		{"double", TypeDouble, leBytes(math.Float64bits(math.MaxFloat64), 8), false, change.Float64(math.MaxFloat64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opt [][]byte
			if tc.uns {
				opt = append(opt, unsignedTLV)
			}
			var meta []byte
			switch tc.col {
			case TypeFloat:
				meta = []byte{4}
			case TypeDouble:
				meta = []byte{8}
			}
			got := decodeOne(t, tcol{tc.col, meta, false}, tc.value, opt...)
			if !sameValue(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeDecimal(t *testing.T) {
	nines := func(n int) string { return strings.Repeat("9", n) }
	tests := []struct {
		text        string
		prec, scale int
		want        string
	}{
		{"1234567890.12", 12, 2, "1234567890.12"},
		{"-1234567890.12", 12, 2, "-1234567890.12"},
		{"0.00", 12, 2, "0.00"},
		{"-0.05", 4, 2, "-0.05"},
		{"0.99", 2, 2, "0.99"},
		{"7", 1, 0, "7"},
		{"-123456789", 9, 0, "-123456789"},
		{"1000000000", 10, 0, "1000000000"},
		{"12.000000001", 11, 9, "12.000000001"},
		{nines(35) + "." + nines(30), 65, 30, nines(35) + "." + nines(30)},
		{"-" + nines(35) + "." + nines(30), 65, 30, "-" + nines(35) + "." + nines(30)},
		{nines(65), 65, 0, nines(65)},
		{"-1" + strings.Repeat("0", 64), 65, 0, "-1" + strings.Repeat("0", 64)},
		{"0.000000000000000000000000000001", 30, 30, "0.000000000000000000000000000001"},
		{"000012.5", 10, 4, "12.5000"},
	}
	for _, tc := range tests {
		packed := encodeDecimal(tc.text, tc.prec, tc.scale)
		if len(packed) != decimalBinSize(tc.prec, tc.scale) {
			t.Fatalf("%s: encoder size %d, want %d", tc.text, len(packed), decimalBinSize(tc.prec, tc.scale))
		}
		got := decodeOne(t, tcol{TypeNewDecimal, []byte{byte(tc.prec), byte(tc.scale)}, false}, packed)
		if got.Kind != change.KindDecimal || string(got.B) != tc.want {
			t.Errorf("DECIMAL(%d,%d) %s: got %v %q, want %q", tc.prec, tc.scale, tc.text, got.Kind, got.B, tc.want)
		}
	}
	// A digit group above 999999999 is corrupt, not a number.
	bad := encodeDecimal("1.5", 10, 1)
	bad[1], bad[2], bad[3], bad[4] = 0xff, 0xff, 0xff, 0xff
	if _, err := appendDecimal(nil, bad, 10, 1); err == nil {
		t.Error("corrupt decimal accepted")
	}
}

func TestDecodeTemporal(t *testing.T) {
	type tc struct {
		name  string
		col   tcol
		value []byte
		want  change.Value
	}
	tests := []tc{
		{"date", tcol{TypeDate, nil, false}, leBytes(2024<<9|2<<5|29, 3), change.Date(2024, 2, 29)},
		{"zero date", tcol{TypeDate, nil, false}, leBytes(0, 3), change.Date(0, 0, 0)},
		{"invalid date kept", tcol{TypeDate, nil, false}, leBytes(2024<<9|2<<5|0, 3), change.Date(2024, 2, 0)},
		{"old time negative", tcol{TypeTime, nil, false}, leBytes(1<<24-8385959, 3), change.Time(true, 838, 59, 59, 0, 0)},
		{"old time", tcol{TypeTime, nil, false}, leBytes(123456, 3), change.Time(false, 12, 34, 56, 0, 0)},
		{"old datetime", tcol{TypeDateTime, nil, false}, leBytes(20240229235959, 8), change.DateTime(2024, 2, 29, 23, 59, 59, 0, 0)},
		{"old datetime zero", tcol{TypeDateTime, nil, false}, leBytes(0, 8), change.DateTime(0, 0, 0, 0, 0, 0, 0, 0)},
		{"old timestamp", tcol{TypeTimestamp, nil, false}, leBytes(1700000000, 4), change.Timestamp(1700000000, 0, 0)},
		{"timestamp2 zero", tcol{TypeTimestamp2, []byte{0}, false}, beBytes(0, 4), change.Timestamp(0, 0, 0)},
		{"datetime2 zero fsp6", tcol{TypeDateTime2, []byte{6}, false}, encodeDateTime2(0, 0, 0, 0, 0, 0, 0, 6), change.DateTime(0, 0, 0, 0, 0, 0, 0, 6)},
		{"datetime2 max", tcol{TypeDateTime2, []byte{6}, false}, encodeDateTime2(9999, 12, 31, 23, 59, 59, 999999, 6), change.DateTime(9999, 12, 31, 23, 59, 59, 999999000, 6)},
		{"time2 max", tcol{TypeTime2, []byte{0}, false}, encodeTime2(false, 838, 59, 59, 0, 0), change.Time(false, 838, 59, 59, 0, 0)},
		{"time2 min", tcol{TypeTime2, []byte{0}, false}, encodeTime2(true, 838, 59, 59, 0, 0), change.Time(true, 838, 59, 59, 0, 0)},
		{"time2 zero", tcol{TypeTime2, []byte{6}, false}, encodeTime2(false, 0, 0, 0, 0, 6), change.Time(false, 0, 0, 0, 0, 6)},
	}
	// fsp 0-6 for TIME2 (positive and negative), DATETIME2 and TIMESTAMP2.
	micros := []int64{0, 500000, 990000, 123000, 123400, 123450, 123456}
	for fsp := 0; fsp <= 6; fsp++ {
		us := micros[fsp]
		name := string(rune('0' + fsp))
		tests = append(tests,
			tc{"time2 fsp" + name, tcol{TypeTime2, []byte{byte(fsp)}, false}, encodeTime2(false, 1, 2, 3, us, fsp), change.Time(false, 1, 2, 3, uint32(us)*1000, uint8(fsp))},
			tc{"time2 neg fsp" + name, tcol{TypeTime2, []byte{byte(fsp)}, false}, encodeTime2(true, 0, 0, 1, us, fsp), change.Time(true, 0, 0, 1, uint32(us)*1000, uint8(fsp))},
			tc{"time2 neg sub-second fsp" + name, tcol{TypeTime2, []byte{byte(fsp)}, false}, encodeTime2(true, 0, 0, 0, us, fsp), change.Time(us != 0, 0, 0, 0, uint32(us)*1000, uint8(fsp))},
			tc{"datetime2 fsp" + name, tcol{TypeDateTime2, []byte{byte(fsp)}, false}, encodeDateTime2(2024, 2, 29, 13, 14, 15, us, fsp), change.DateTime(2024, 2, 29, 13, 14, 15, uint32(us)*1000, uint8(fsp))},
			tc{"timestamp2 fsp" + name, tcol{TypeTimestamp2, []byte{byte(fsp)}, false}, append(beBytes(1700000000, 4), fracEncode(us, fsp)...), change.Timestamp(1700000000, uint32(us)*1000, uint8(fsp))},
		)
	}
	for _, tc := range tests {
		got := decodeOne(t, tc.col, tc.value)
		if !sameValue(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeStrings(t *testing.T) {
	long := strings.Repeat("ab", 200)
	tests := []struct {
		name  string
		col   tcol
		value []byte
		opt   [][]byte
		want  change.Value
	}{
		{"utf8mb4 4-byte", tcol{TypeVarchar, []byte{0xfc, 0x03}, false}, lenPrefixed(2, []byte("héllo 🐬")), [][]byte{utf8mb4TLV}, change.String([]byte("héllo 🐬"))},
		{"short varchar", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("abc")), [][]byte{utf8mb4TLV}, change.String([]byte("abc"))},
		{"long varchar", tcol{TypeVarchar, []byte{0x00, 0x04}, false}, lenPrefixed(2, []byte(long)), nil, change.String([]byte(long))},
		{"latin1 is cp1252", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("caf\xe9 \x80")), [][]byte{latin1TLV}, change.String([]byte("café €"))},
		{"latin1 ascii", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("plain")), [][]byte{latin1TLV}, change.String([]byte("plain"))},
		{"gbk", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\xd6\xd0\xce\xc4")), [][]byte{testTLV(tmDefaultCharset, packedSeq(28))}, change.String([]byte("中文"))},
		{"gb18030", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\x95\x32\x82\x36")), [][]byte{testTLV(tmDefaultCharset, packedSeq(248))}, change.String([]byte("\U00020000"))},
		{"big5", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\xa4\xa4")), [][]byte{testTLV(tmDefaultCharset, packedSeq(1))}, change.String([]byte("中"))},
		{"ucs2", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\x00A\x4e\x2d")), [][]byte{testTLV(tmDefaultCharset, packedSeq(35))}, change.String([]byte("A中"))},
		{"utf16 surrogate", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\xd8\x3d\xdc\x2c")), [][]byte{testTLV(tmDefaultCharset, packedSeq(54))}, change.String([]byte("🐬"))},
		{"utf16le", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("A\x00")), [][]byte{testTLV(tmDefaultCharset, packedSeq(56))}, change.String([]byte("A"))},
		{"utf32", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\x00\x01\xf4\x2c")), [][]byte{testTLV(tmDefaultCharset, packedSeq(60))}, change.String([]byte("🐬"))},
		{"cp1251", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\xcf\xf0\xe8")), [][]byte{testTLV(tmDefaultCharset, packedSeq(51))}, change.String([]byte("При"))},
		{"cp1250", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte("\x8a")), [][]byte{testTLV(tmDefaultCharset, packedSeq(26))}, change.String([]byte("Š"))},
		{"binary", tcol{TypeVarchar, []byte{40, 0}, false}, lenPrefixed(1, []byte{0, 0xff}), [][]byte{binaryTLV}, change.Bytes([]byte{0, 0xff})},
		{"char 300 utf8mb3", tcol{TypeString, []byte{0xee, 0x2c}, false}, lenPrefixed(2, []byte(long)), [][]byte{testTLV(tmDefaultCharset, packedSeq(33))}, change.String([]byte(long))},
		{"char no metadata", tcol{TypeString, []byte{0xfe, 10}, false}, lenPrefixed(1, []byte("x")), nil, change.String([]byte("x"))},
		{"binary(4) logged without its trailing zeros", tcol{TypeString, []byte{0xfe, 4}, false}, lenPrefixed(1, []byte{0, 0xff}), [][]byte{testTLV(tmDefaultCharset, packedSeq(63))}, change.Bytes([]byte{0, 0xff, 0, 0})},
		{"binary(4) full", tcol{TypeString, []byte{0xfe, 4}, false}, lenPrefixed(1, []byte{1, 2, 3, 4}), [][]byte{testTLV(tmDefaultCharset, packedSeq(63))}, change.Bytes([]byte{1, 2, 3, 4})},
		{"tinyblob", tcol{TypeBlob, []byte{1}, false}, lenPrefixed(1, []byte{1, 2}), nil, change.Bytes([]byte{1, 2})},
		{"mediumblob", tcol{TypeBlob, []byte{3}, false}, lenPrefixed(3, []byte(long)), [][]byte{binaryTLV}, change.Bytes([]byte(long))},
		{"longtext", tcol{TypeBlob, []byte{4}, false}, lenPrefixed(4, []byte("t🐬")), [][]byte{utf8mb4TLV}, change.String([]byte("t🐬"))},
		{"empty text", tcol{TypeBlob, []byte{2}, false}, lenPrefixed(2, nil), [][]byte{utf8mb4TLV}, change.String([]byte{})},
		{"geometry", tcol{TypeGeometry, []byte{4}, false}, lenPrefixed(4, append(leBytes(4326, 4), 1, 1, 0, 0, 0)), nil, change.Geometry(4326, []byte{1, 1, 0, 0, 0})},
		{"vector", tcol{TypeVector, []byte{4}, false}, lenPrefixed(4, leBytes(uint64(math.Float32bits(1.5)), 4)), nil, change.Vector(leBytes(uint64(math.Float32bits(1.5)), 4))},
		{"bit1", tcol{TypeBit, []byte{1, 0}, false}, []byte{1}, nil, change.Bit(1, 1)},
		{"bit12", tcol{TypeBit, []byte{4, 1}, false}, []byte{0x0a, 0xbc}, nil, change.Bit(0xabc, 12)},
		{"bit64", tcol{TypeBit, []byte{0, 8}, false}, beBytes(math.MaxUint64, 8), nil, change.Bit(math.MaxUint64, 64)},
	}
	for _, tc := range tests {
		got := decodeOne(t, tc.col, tc.value, tc.opt...)
		if !sameValue(got, tc.want) {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, got.Kind, got.B, tc.want.Kind, tc.want.B)
		}
	}
}

func TestDecodeEnumSet(t *testing.T) {
	members := make([]string, 300)
	for i := range members {
		members[i] = "m" + strings.Repeat("x", i%5) + string(rune('A'+i%26))
	}
	enum := tcol{TypeString, []byte{byte(TypeEnum), 2}, false}
	got := decodeOne(t, enum, leBytes(300, 2), testTLV(tmEnumStrValue, strSeq(members)))
	if got.Kind != change.KindEnum || got.U != 300 || string(got.B) != members[299] {
		t.Errorf("enum 300: %+v", got)
	}
	got = decodeOne(t, enum, leBytes(0, 2), testTLV(tmEnumStrValue, strSeq(members)))
	if got.Kind != change.KindEnum || got.U != 0 || len(got.B) != 0 {
		t.Errorf("enum empty member: %+v", got)
	}
	got = decodeOne(t, tcol{TypeString, []byte{byte(TypeEnum), 1}, false}, []byte{2})
	if got.Kind != change.KindEnum || got.U != 2 || got.B != nil {
		t.Errorf("enum without metadata: %+v", got)
	}
	set64 := make([]string, 64)
	for i := range set64 {
		set64[i] = "s" + string(rune('a'+i%26)) + string(rune('0'+i/26))
	}
	setCol := tcol{TypeString, []byte{byte(TypeSet), 8}, false}
	got = decodeOne(t, setCol, leBytes(1|1<<5|1<<63, 8), testTLV(tmSetStrValue, strSeq(set64)))
	want := set64[0] + "," + set64[5] + "," + set64[63]
	if got.Kind != change.KindSet || got.U != 1|1<<5|1<<63 || string(got.B) != want {
		t.Errorf("set: %+v, want %q", got, want)
	}
	got = decodeOne(t, tcol{TypeString, []byte{byte(TypeSet), 1}, false}, []byte{0})
	if got.Kind != change.KindSet || got.U != 0 {
		t.Errorf("empty set: %+v", got)
	}
}
