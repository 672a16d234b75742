package postgres

import (
	"encoding/binary"
	"math"
	"reflect"
	"testing"
	"time"
)

// TestDecodeSnapshotBinary: for every type the snapshot reads in binary
// form, the binary form of a value decodes to what its text form (as
// PostgreSQL prints it with the source's session settings) decodes to,
// also before the common era, which the text keeps as it comes.
func TestDecodeSnapshotBinary(t *testing.T) {
	types := builtinTypes()
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	days := func(y int, m time.Month, d int) []byte {
		return u32(uint32(int32((time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - pgEpoch.Unix()) / 86400)))
	}
	micros := func(y int, m time.Month, d, h, mi, s, ns int) []byte {
		at := time.Date(y, m, d, h, mi, s, ns, time.UTC)
		return u64(uint64((at.Unix()-pgEpoch.Unix())*1e6 + int64(at.Nanosecond()/1000)))
	}
	tests := []struct {
		oid  uint32
		mod  int32
		bin  []byte
		text string
	}{
		{16, -1, []byte{1}, "t"},
		{16, -1, []byte{0}, "f"},
		{21, -1, []byte{0x80, 0}, "-32768"},
		{23, -1, u32(math.MaxUint32), "-1"},
		{20, -1, u64(1 << 63), "-9223372036854775808"},
		{700, -1, u32(math.Float32bits(-0.1)), "-0.1"},
		{701, -1, u64(math.Float64bits(0.1)), "0.1"},
		{701, -1, u64(math.Float64bits(math.Inf(-1))), "-Infinity"},
		{1082, -1, days(2024, 2, 29), "2024-02-29"},
		{1082, -1, days(1, 1, 1), "0001-01-01"},
		{1082, -1, days(0, 12, 31), "0001-12-31 BC"},
		{1082, -1, days(-43, 3, 15), "0044-03-15 BC"},
		{1082, -1, u32(math.MaxInt32), "infinity"},
		{1114, -1, micros(2024, 1, 2, 3, 4, 5, 678000000), "2024-01-02 03:04:05.678"},
		{1114, 0, micros(1999, 12, 31, 23, 59, 59, 0), "1999-12-31 23:59:59"},
		{1114, -1, micros(0, 1, 1, 0, 0, 0, 0), "0001-01-01 00:00:00 BC"},
		{1114, -1, micros(-43, 3, 15, 12, 0, 0, 250000000), "0044-03-15 12:00:00.25 BC"},
		{1114, -1, micros(-4712, 11, 24, 23, 59, 59, 999999000), "4713-11-24 23:59:59.999999 BC"},
		{1114, -1, u64(math.MaxInt64), "infinity"},
		{1114, -1, u64(1 << 63), "-infinity"},
	}
	for _, tt := range tests {
		typ := types[tt.oid]
		if !binarySafe(typ) {
			t.Fatalf("%s: not read in binary form", typ.Name)
		}
		want, err := decodeText(typ, tt.mod, []byte(tt.text))
		if err != nil {
			t.Fatalf("%s %q: decodeText: %v", typ.Name, tt.text, err)
		}
		got, err := decodeBinary(typ, tt.mod, tt.bin)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s %q: binary form gave %#v, %v; the text gives %#v", typ.Name, tt.text, got, err, want)
		}
	}
	for _, oid := range []uint32{1184, 1700, 25, 1186, 869} {
		if binarySafe(types[oid]) {
			t.Errorf("%s: read in binary form, whose value may differ from the text's", types[oid].Name)
		}
	}
}

// TestCivil: civil agrees with the time package on every day from 4714 BC
// to 9999 and around the eras' edges.
func TestCivil(t *testing.T) {
	from := time.Date(-4713, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	to := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	for days := from; days < to; days++ {
		want := time.Unix(days*86400, 0).UTC()
		y, m, d := civil(days)
		if y != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Fatalf("day %d: %d-%d-%d, want %s", days, y, m, d, want.Format("2006-01-02"))
		}
	}
	if pgEpochDays != pgEpoch.Unix()/86400 {
		t.Fatalf("pgEpochDays %d, want %d", pgEpochDays, pgEpoch.Unix()/86400)
	}
}
