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

// BenchmarkEncodeJSON also reports cpu-ns/op, the CPU time of the
// benchmark's thread per change, which stays meaningful when other work
// competes for the machine's cores and inflates ns/op.
func BenchmarkEncodeJSON(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := benchChange()
	buf := AppendJSON(nil, c)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	start, ok := threadCPU()
	n := 0
	for b.Loop() {
		buf = AppendJSON(buf[:0], c)
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
