package change

import (
	"runtime"
	"testing"
	"time"
)

// benchChange is an update of a 10-column row of mixed types, as a MySQL
// source emits it.
func benchChange() *Change {
	cols := []Column{
		{Name: "id", Type: "bigint", Key: true},
		{Name: "customer_id", Type: "int unsigned"},
		{Name: "status", Type: "enum('new','paid','shipped')"},
		{Name: "total", Type: "decimal(12,2)"},
		{Name: "weight", Type: "double"},
		{Name: "email", Type: "varchar(255)", Nullable: true},
		{Name: "note", Type: "text", Nullable: true},
		{Name: "created_at", Type: "datetime(6)"},
		{Name: "updated_at", Type: "timestamp(3)"},
		{Name: "attrs", Type: "json", Nullable: true},
	}
	row := func(status string, idx uint64, total string, updated int64) []Value {
		return []Value{
			Int(1234567, 64), Uint(98765, 32), Enum([]byte(status), idx), Decimal([]byte(total)),
			Float64(2.75), String([]byte("jane.doe@example.com")), Null(),
			DateTime(2024, 5, 6, 7, 8, 9, 123456000, 6), Timestamp(updated, 500000000, 3),
			JSON([]byte(`{"gift":true,"tags":["a","b"]}`)),
		}
	}
	return &Change{
		Op: OpUpdate, Source: "mysql", Namespace: Namespace{Database: "shop", Table: "orders"},
		Columns: cols, Before: row("new", 1, "19.90", 1714979289), After: row("paid", 2, "21.40", 1714979300),
		Tx:         Tx{ID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:77", Index: 3},
		Pos:        Position{Flavor: FlavorBinlog, File: "mysql-bin.000003", Offset: 1234, Index: 3, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"},
		CommitTime: time.Date(2024, 5, 6, 7, 8, 20, 0, time.UTC),
		ReadTime:   time.Date(2024, 5, 6, 7, 8, 20, 35000000, time.UTC),
	}
}

// wideChange is an update of a 26-column row with one column of every
// common MySQL type, like the wide table of bench/cmd/binlogdecode: integers
// of every width, signed and unsigned, decimal, float and double, utf8mb4
// and latin1 text (decoded to UTF-8), a blob, every temporal type, year,
// enum, set, bit and json.
func wideChange() *Change {
	cols := []Column{
		{Name: "id", Type: "int", Key: true},
		{Name: "i8", Type: "tinyint", Nullable: true},
		{Name: "i16", Type: "smallint", Nullable: true},
		{Name: "i24", Type: "mediumint", Nullable: true},
		{Name: "i64", Type: "bigint", Nullable: true},
		{Name: "u8", Type: "tinyint unsigned", Nullable: true},
		{Name: "u16", Type: "smallint unsigned", Nullable: true},
		{Name: "u24", Type: "mediumint unsigned", Nullable: true},
		{Name: "u32", Type: "int unsigned", Nullable: true},
		{Name: "u64", Type: "bigint unsigned", Nullable: true},
		{Name: "dec12", Type: "decimal(12,2)", Nullable: true},
		{Name: "flt", Type: "float", Nullable: true},
		{Name: "dbl", Type: "double", Nullable: true},
		{Name: "vc", Type: "varchar(64)", Nullable: true},
		{Name: "lat", Type: "varchar(64)", Nullable: true},
		{Name: "tx", Type: "text", Nullable: true},
		{Name: "bl", Type: "blob", Nullable: true},
		{Name: "d", Type: "date", Nullable: true},
		{Name: "dt", Type: "datetime(6)", Nullable: true},
		{Name: "ts", Type: "timestamp(6)", Nullable: true},
		{Name: "tm", Type: "time", Nullable: true},
		{Name: "yr", Type: "year", Nullable: true},
		{Name: "e", Type: "enum('new','paid','shipped','done')", Nullable: true},
		{Name: "st", Type: "set('red','green','blue')", Nullable: true},
		{Name: "b", Type: "bit(8)", Nullable: true},
		{Name: "js", Type: "json", Nullable: true},
	}
	row := func(id int64, dbl float64, vc string, status string, idx uint64) []Value {
		return []Value{
			Int(id, 32), Int(-100, 8), Int(-30000, 16), Int(8000000, 24), Int(-9007199254740993, 64),
			Uint(200, 8), Uint(65000, 16), Uint(16000000, 24), Uint(4000000000, 32), Uint(18446744073709551000, 64),
			Decimal([]byte("12345.67")), Float32(3.25), Float64(dbl),
			String([]byte(vc)), String([]byte("café crème brûlée")),
			String([]byte("The quick brown fox jumps over the lazy dog, \"twice\".\nThen it sleeps.")),
			Bytes([]byte{0x00, 0x01, 0xfe, 0xff, 'b', 'l', 'o', 'b', 0x80, 0x7f, 0x10, 0x20}),
			Date(2024, 5, 6), DateTime(2024, 5, 6, 7, 8, 9, 123456000, 6), Timestamp(1714979289, 654321000, 6),
			Time(false, 13, 14, 15, 0, 0), Year(2024), Enum([]byte(status), idx), Set([]byte("red,blue"), 5),
			Bit(0xa5, 8), JSON([]byte(`{"gift":true,"tags":["a","b"],"n":12}`)),
		}
	}
	return &Change{
		Op: OpUpdate, Source: "mariadb", Namespace: Namespace{Database: "bench", Table: "wide"},
		Columns:    cols,
		Before:     row(424242, 141.414, "Grüße, 世界 — naïve café", "new", 1),
		After:      row(424242, 142.414, "Grüße, 世界 — naïve café+", "paid", 2),
		Tx:         Tx{ID: "0-1-4711", Index: 17},
		Pos:        Position{Flavor: FlavorBinlog, File: "mysql-bin.000001", Offset: 98765432, Index: 17, GTIDSet: "0-1-4711"},
		CommitTime: time.Date(2024, 5, 6, 7, 8, 20, 0, time.UTC),
		ReadTime:   time.Date(2024, 5, 6, 7, 8, 20, 35000000, time.UTC),
	}
}

// BenchmarkEncodeJSON also reports cpu-ns/op, the CPU time of the
// benchmark's thread per change, which stays meaningful when other work
// competes for the machine's cores and inflates ns/op.
func BenchmarkEncodeJSON(b *testing.B) { benchEncode(b, benchChange()) }

// BenchmarkEncodeJSONWide encodes the 26-column update of wideChange.
func BenchmarkEncodeJSONWide(b *testing.B) { benchEncode(b, wideChange()) }

func benchEncode(b *testing.B, c *Change) { benchAppend(b, c, AppendJSON) }

// benchAppend measures appending c with encode, reporting cpu-ns/op.
func benchAppend(b *testing.B, c *Change, encode func([]byte, *Change) []byte) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	buf := encode(nil, c)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	start, ok := threadCPU()
	n := 0
	for b.Loop() {
		buf = encode(buf[:0], c)
		n++
	}
	if end, ok2 := threadCPU(); ok && ok2 && n > 0 {
		b.ReportMetric(float64((end-start).Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	line := AppendJSON(nil, benchChange())
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEncodeJSONAllocs(t *testing.T) {
	c := benchChange()
	buf := AppendJSON(nil, c)
	roundTrip(t, c)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], c) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per call with a big enough buffer", n)
	}
}

func TestEncodeJSONWideAllocs(t *testing.T) {
	c := wideChange()
	buf := roundTrip(t, c)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], c) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per call on the wide row", n)
	}
}

func TestEncodeJSONAllocsAbsent(t *testing.T) {
	// A MINIMAL after image: absent columns are left out without allocating.
	c := benchChange()
	c.After = append([]Value(nil), c.After...)
	c.After[4], c.After[6], c.After[9] = Absent(), Absent(), Absent()
	buf := roundTrip(t, c)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], c) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per call with absent columns", n)
	}
}
