package format

import (
	"runtime"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// benchChanges is a transaction's worth of updates of a 10-column MySQL
// row of mixed types (the row of change's BenchmarkEncodeJSON), each an
// update with both images.
func benchChange() *change.Change {
	cols := []change.Column{
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
	row := func(status string, idx uint64, total string, updated int64) []change.Value {
		return []change.Value{
			change.Int(1234567, 64), change.Uint(98765, 32), change.Enum([]byte(status), idx), change.Decimal([]byte(total)),
			change.Float64(2.75), change.String([]byte("jane.doe@example.com")), change.Null(),
			change.DateTime(2024, 5, 6, 7, 8, 9, 123456000, 6), change.Timestamp(updated, 500000000, 3),
			change.JSON([]byte(`{"gift":true,"tags":["a","b"]}`)),
		}
	}
	return &change.Change{
		Op: change.OpUpdate, Source: "mysql", Namespace: change.Namespace{Database: "shop", Table: "orders"},
		Columns: cols, Before: row("new", 1, "19.90", 1714979289), After: row("paid", 2, "21.40", 1714979300),
		Tx:         change.Tx{ID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:77", Index: 3},
		Pos:        change.Position{Flavor: change.FlavorBinlog, File: "mysql-bin.000003", Offset: 1234, Index: 3, GTIDSet: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"},
		CommitTime: time.Date(2024, 5, 6, 7, 8, 20, 0, time.UTC),
		ReadTime:   time.Date(2024, 5, 6, 7, 8, 20, 35000000, time.UTC),
	}
}

// BenchmarkNative is the baseline: change.Encoder, what line sinks write
// for the default format, on the same change.
func BenchmarkNative(b *testing.B) {
	c := benchChange()
	var enc change.Encoder
	buf := enc.Append(nil, c)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		buf = enc.Append(buf[:0], c)
		cpu.n++
	}
	cpu.report(b)
}

// cpuMeter reports the CPU time of the benchmark's thread per operation,
// cpu-ns/op, which stays meaningful when other work competes for the
// machine's cores and inflates ns/op.
type cpuMeter struct {
	start  time.Duration
	ok     bool
	n      int
	unlock func()
}

func startCPU() *cpuMeter {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return &cpuMeter{start: start, ok: ok, unlock: runtime.UnlockOSThread}
}

func (m *cpuMeter) report(b *testing.B) {
	defer m.unlock()
	if end, ok := threadCPU(); m.ok && ok && m.n > 0 {
		b.ReportMetric(float64((end-m.start).Nanoseconds())/float64(m.n), "cpu-ns/op")
	}
}

// BenchmarkEncode encodes the update in each format through a reused
// Batch, as sinks do: ns/op and allocs/op are per change.
func BenchmarkEncode(b *testing.B) {
	for _, spec := range []string{"sluice", "debezium", "debezium?schemas=true", "maxwell", "canal-json", "cloudevents", "cloudevents?mode=binary"} {
		b.Run(spec, func(b *testing.B) {
			enc, err := New(spec, Target{Headers: true})
			if err != nil {
				b.Fatal(err)
			}
			c := benchChange()
			var batch Batch
			if err := enc.Encode(&batch, c); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(batch.Size()))
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				batch.Reset()
				if err := enc.Encode(&batch, c); err != nil {
					b.Fatal(err)
				}
				cpu.n++
			}
			cpu.report(b)
		})
	}
}

// TestEncodeAllocsKinds: the rows of every value kind encode without
// allocating once an encoder has seen them (types whose text Sluice parses
// — intervals, money, BC dates — may allocate; they are left out).
func TestEncodeAllocsKinds(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector makes sync.Pool drop items, so encoding/json.Valid allocates at random; make test runs this without it")
	}
	ex := examples()
	for _, spec := range []string{"sluice", "debezium", "debezium?schemas=true", "maxwell", "canal-json", "cloudevents", "cloudevents?mode=binary"} {
		enc, err := New(spec, Target{Headers: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"mysql-kinds", "insert", "update", "delete", "pg-update", "mongo-insert"} {
			if spec == "canal-json" && name == "mongo-insert" {
				continue // package canal lower-cases MongoDB's type names ("objectId")
			}
			c := ex[name]
			var b Batch
			run := func() {
				b.Reset()
				if err := enc.Encode(&b, &c); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if n := testing.AllocsPerRun(50, run); n != 0 {
				t.Errorf("%s %s: %.1f allocations per change", spec, name, n)
			}
		}
	}
}
