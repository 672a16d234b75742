package sql

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

func ts(s string, fsp uint8, zoned bool) change.Value {
	t, err := time.Parse("2006-01-02 15:04:05.999999999", s)
	if err != nil {
		panic(err)
	}
	v := change.Timestamp(t.Unix(), uint32(t.Nanosecond()), fsp)
	v.Zoned = zoned
	return v
}

func zonedTime(v change.Value, off int32) change.Value {
	v.Zoned, v.Off = true, off
	return v
}

// TestPgParam checks the text (or bytes) each kind of value is written as
// into each PostgreSQL type, and the values refused.
func TestPgParam(t *testing.T) {
	pt := func(text string) sqldb.Type { return sqldb.ParseType(sqldb.Postgres, text) }
	wkb, _ := hex.DecodeString("0101000000000000000000F03F0000000000000040")
	for _, tc := range []struct {
		v    change.Value
		typ  string
		want string // hex: when bin
		bin  bool
		err  string
	}{
		{change.Int(1, 8), "boolean", "t", false, ""},
		{change.Int(0, 8), "boolean", "f", false, ""},
		{change.Int(2, 8), "boolean", "", false, "cannot hold"},
		{change.Bool(true), "smallint", "1", false, ""},
		{change.Bool(true), "text", "true", false, ""},
		{change.Uint(math.MaxUint64, 64), "numeric(20,0)", "18446744073709551615", false, ""},
		{change.Float32(0.1), "real", "0.1", false, ""},
		{change.Float64(math.NaN()), "double precision", "NaN", false, ""},
		{change.Float64(math.Inf(-1)), "double precision", "-Infinity", false, ""},
		{change.Decimal([]byte("NaN")), "numeric", "NaN", false, ""},
		{change.String([]byte("a\x00b")), "text", "", false, "NUL"},
		{change.String(nil), "text", "", false, ""},
		{change.Bytes([]byte{0xff, 0}), "bytea", "ff00", true, ""},
		{change.Bytes([]byte{0xff}), "text", "", false, "not UTF-8"},
		{change.Date(0, 0, 0), "date", "", false, "cannot hold the date 0000-00-00"},
		{change.Date(2024, 2, 0), "date", "", false, "cannot hold"},
		{change.Date(0, 0, 0), "text", "0000-00-00", false, ""},
		{change.Time(false, 30, 0, 0, 0, 0), "time without time zone", "", false, "interval"},
		{change.Time(true, 838, 59, 59, 0, 0), "interval", "-838:59:59", false, ""},
		{change.Time(false, 24, 0, 0, 0, 6), "time without time zone", "24:00:00.000000", false, ""},
		{zonedTime(change.Time(false, 12, 34, 56, 0, 0), 19800), "time with time zone", "12:34:56+05:30", false, ""},
		{change.DateTime(0, 0, 0, 0, 0, 0, 0, 0), "timestamp without time zone", "", false, "cannot hold"},
		{change.DateTime(2024, 1, 2, 3, 4, 5, 678000000, 3), "timestamp(3) without time zone", "2024-01-02 03:04:05.678", false, ""},
		{ts("2023-11-14 22:13:20.123456", 6, false), "timestamp with time zone", "2023-11-14 22:13:20.123456+00", false, ""},
		{ts("2023-11-14 22:13:20.123456", 6, true), "timestamp without time zone", "2023-11-14 22:13:20.123456", false, ""},
		{zonedTime(change.Timestamp(time.Date(-43, 3, 15, 12, 0, 0, 0, time.UTC).Unix(), 0, 0), 0), "timestamp with time zone", "0044-03-15 12:00:00+00 BC", false, ""},
		{zonedTime(change.TimestampInfinity(true), 0), "timestamp with time zone", "infinity", false, ""},
		{change.Timestamp(0, 0, 0), "timestamp with time zone", "", false, "zero TIMESTAMP"},
		{change.Bit(5, 3), "bit(8)", "00000101", false, ""},
		{change.Bit(5, 3), "bit varying", "101", false, ""},
		{change.Bit(0xff, 8), "bit(4)", "", false, "cannot hold"},
		{change.Geometry(0, wkb), "bytea", hex.EncodeToString(wkb), true, ""},
		{change.Geometry(4326, wkb), "bytea", "0101000020e6100000000000000000f03f0000000000000040", true, ""},
		{change.Value{Kind: change.KindArray, Elems: []change.Value{change.Int(1, 32), change.Null()}}, "integer[]", `{"1",NULL}`, false, ""},
		{change.Value{Kind: change.KindArray, Elems: []change.Value{change.String([]byte(`q"x\`))}}, "text[]", `{"q\"x\\"}`, false, ""},
		{change.Value{Kind: change.KindArray, Elems: []change.Value{change.Int(1, 32), change.String([]byte("a"))}}, "jsonb", `[1,"a"]`, false, ""},
		{change.Value{Kind: change.KindUUID, B: bytes.Repeat([]byte{0xab}, 16)}, "uuid", "abababab-abab-abab-abab-abababababab", false, ""},
		{change.Value{Kind: change.KindOther, B: []byte("1 day"), Names: []string{"interval"}}, "interval", "1 day", false, ""},
	} {
		ty := pt(tc.typ)
		var a arena
		b, bin, err := pgParam(&a, &tc.v, &ty)
		got := string(b)
		if bin {
			got = hex.EncodeToString(b)
		}
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v into %s: %q, %v; want an error saying %q", tc.v, tc.typ, got, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v into %s: %v", tc.v, tc.typ, err)
		case got != tc.want || bin != tc.bin:
			t.Errorf("%v into %s: %q (binary %v), want %q (binary %v)", tc.v, tc.typ, got, bin, tc.want, tc.bin)
		case tc.v.Kind != change.KindNull && b == nil:
			t.Errorf("%v into %s: nil (NULL) for a value", tc.v, tc.typ)
		}
	}
}

// TestMySQLArg checks the go-sql-driver argument of each kind of value in
// each MySQL type, and the values refused.
func TestMySQLArg(t *testing.T) {
	mt := func(text string) sqldb.Type { return sqldb.ParseType(sqldb.MySQL, text) }
	wkb := []byte{1, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, tc := range []struct {
		v    change.Value
		typ  string
		want any
		err  string
	}{
		{change.Int(-5, 32), "int", int64(-5), ""},
		{change.Uint(math.MaxUint64, 64), "bigint unsigned", uint64(math.MaxUint64), ""},
		{change.Bool(true), "tinyint(1)", int64(1), ""},
		{change.Float64(math.NaN()), "double", nil, "cannot hold NaN"},
		{change.Float64(1.5), "double", 1.5, ""},
		{change.Decimal([]byte("-Infinity")), "decimal(10,2)", nil, "cannot hold"},
		{change.Decimal([]byte("1.50")), "decimal(10,2)", []byte("1.50"), ""},
		{change.String(nil), "varchar(10)", []byte{}, ""},
		{change.Date(0, 0, 0), "date", []byte("0000-00-00"), ""},
		{change.Time(true, 838, 59, 59, 0, 0), "time", []byte("-838:59:59"), ""},
		{zonedTime(change.Time(false, 1, 2, 3, 0, 0), -28800), "time", nil, "zone"},
		{zonedTime(change.Time(false, 1, 2, 3, 0, 0), -28800), "varchar(32)", []byte("01:02:03-08:00"), ""},
		{change.Timestamp(0, 0, 0), "timestamp", []byte("0000-00-00 00:00:00"), ""},
		{ts("2024-01-02 01:04:05.678", 6, true), "datetime(6)", []byte("2024-01-02 01:04:05.678000"), ""},
		{zonedTime(change.TimestampInfinity(false), 0), "datetime(6)", nil, "cannot hold"},
		{change.Bit(5, 3), "varchar(3)", []byte("101"), ""},
		{change.Bit(5, 8), "bit(8)", uint64(5), ""},
		{change.Geometry(4326, wkb), "geometry", append([]byte{0xe6, 0x10, 0, 0}, wkb...), ""},
		{change.Value{Kind: change.KindArray, Elems: []change.Value{change.Decimal([]byte("NaN"))}}, "json", nil, "JSON cannot hold"},
		{change.Value{Kind: change.KindArray, Elems: []change.Value{change.Enum([]byte("sad"), 1), change.Null()}}, "json", []byte(`["sad",null]`), ""},
		{change.Value{Kind: change.KindUUID, B: bytes.Repeat([]byte{1}, 16)}, "binary(16)", bytes.Repeat([]byte{1}, 16), ""},
	} {
		ty := mt(tc.typ)
		var a arena
		got, err := mysqlArg(&a, &tc.v, &ty)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v into %s: %v, %v; want an error saying %q", tc.v, tc.typ, got, err, tc.err)
			}
		case err != nil:
			t.Errorf("%v into %s: %v", tc.v, tc.typ, err)
		default:
			gb, ok1 := got.([]byte)
			wb, ok2 := tc.want.([]byte)
			if ok1 && ok2 {
				if !bytes.Equal(gb, wb) || gb == nil {
					t.Errorf("%v into %s: %q, want %q", tc.v, tc.typ, gb, wb)
				}
			} else if got != tc.want {
				t.Errorf("%v into %s: %#v, want %#v", tc.v, tc.typ, got, tc.want)
			}
		}
	}
}

// TestArenaKeepsValues: values rendered earlier stay intact when later
// ones need a new chunk.
func TestArenaKeepsValues(t *testing.T) {
	var a arena
	ty := sqldb.ParseType(sqldb.Postgres, "text")
	first, _, _ := pgParam(&a, &change.Value{Kind: change.KindDate, I: 20240102}, &ty)
	big := change.String(bytes.Repeat([]byte("x"), 200<<10))
	pgParam(&a, &change.Value{Kind: change.KindOther, B: big.B}, &ty)
	if string(first) != "2024-01-02" {
		t.Errorf("an earlier value became %q", first)
	}
	if b := append(first, 'Z'); string(first) != "2024-01-02" || len(b) != 11 {
		t.Errorf("appending to a value wrote into the arena")
	}
}
