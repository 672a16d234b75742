package binlog

import (
	"math"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/change"
)

// benchEvent is a table map and a WRITE_ROWS_EVENT body of nrows equal rows.
type benchEvent struct {
	tmBody   []byte
	tm       *TableMap
	body     []byte
	nrows    int
	rowBytes int
}

// wideEvent has one column of most types: 20 columns, mixed charsets, JSON.
func wideEvent(tb testing.TB, nrows int) benchEvent {
	cols := []tcol{
		{TypeLong, nil, false}, {TypeLongLong, nil, false}, {TypeShort, nil, true}, {TypeTiny, nil, true},
		{TypeNewDecimal, []byte{12, 2}, true}, {TypeDouble, []byte{8}, true}, {TypeFloat, []byte{4}, true},
		{TypeVarchar, []byte{0xfc, 0x03}, true}, {TypeString, []byte{0xfe, 40}, true}, {TypeBlob, []byte{2}, true},
		{TypeBlob, []byte{2}, true}, {TypeDateTime2, []byte{6}, true}, {TypeTimestamp2, []byte{3}, true},
		{TypeDate, nil, true}, {TypeTime2, []byte{0}, true}, {TypeYear, nil, true},
		{TypeString, []byte{byte(TypeEnum), 1}, true}, {TypeString, []byte{byte(TypeSet), 1}, true},
		{TypeBit, []byte{0, 1}, true}, {TypeJSON, []byte{4}, true},
	}
	tmBody := buildTableMap(5, "bench", "wide", cols,
		testTLV(tmSignedness, []byte{0b01000000}),
		// char columns: varchar utf8mb4, char latin1, text utf8mb4, blob binary
		testTLV(tmColumnCharset, packedSeq(255, 8, 255, 63)),
		testTLV(tmEnumStrValue, strSeq([]string{"small", "medium", "large"})),
		testTLV(tmSetStrValue, strSeq([]string{"red", "green", "blue"})))
	row := image(
		leBytes(123456, 4), leBytes(math.MaxUint64-5, 8), leBytes(uint64(0x10000-300), 2), []byte{7},
		encodeDecimal("-1234567.89", 12, 2), leBytes(math.Float64bits(3.25), 8), leBytes(uint64(math.Float32bits(1.5)), 4),
		lenPrefixed(2, []byte("Grüße aus Köln 🐬 and some more ASCII text")), lenPrefixed(1, []byte("caf\xe9 cr\xe8me br\xfbl\xe9e")),
		lenPrefixed(2, []byte(strings.Repeat("lorem ipsum ", 10))), lenPrefixed(2, []byte{0, 1, 2, 3, 4, 5, 6, 7}),
		encodeDateTime2(2024, 2, 29, 13, 14, 15, 123456, 6), append(beBytes(1700000000, 4), fracEncode(123000, 3)...),
		leBytes(2024<<9|2<<5|29, 3), encodeTime2(false, 12, 34, 56, 0, 0), []byte{124},
		[]byte{2}, []byte{0b101}, []byte{0xa5},
		lenPrefixed(4, jsonDoc(map[string]any{"id": 1, "tags": []any{"a", "b"}, "price": 9.99, "ok": true})),
	)
	return makeBenchEvent(tb, tmBody, row, nrows)
}

// sbtestEvent has sysbench's sbtest shape: id, k, c CHAR(120), pad CHAR(60).
func sbtestEvent(tb testing.TB, nrows int) benchEvent {
	tmBody := buildTableMap(6, "sbtest", "sbtest1", []tcol{
		{TypeLong, nil, false}, {TypeLong, nil, false},
		{TypeString, []byte{0xee, 0xe0}, false}, {TypeString, []byte{0xfe, 0xf0}, false},
	}, testTLV(tmDefaultCharset, packedSeq(255)))
	c := strings.Repeat("83868641912-28773972837-", 5)[:119]
	pad := strings.Repeat("67847967377-", 5)[:59]
	row := image(leBytes(1000, 4), leBytes(49912, 4), lenPrefixed(2, []byte(c)), lenPrefixed(1, []byte(pad)))
	return makeBenchEvent(tb, tmBody, row, nrows)
}

func makeBenchEvent(tb testing.TB, tmBody, row []byte, nrows int) benchEvent {
	tm, err := DecodeTableMap(tmBody, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var data []byte
	for i := 0; i < nrows; i++ {
		data = append(data, row...)
	}
	n := tm.ColumnCount()
	return benchEvent{tmBody: tmBody, tm: tm, body: buildRowsBody(WriteRowsEventV2, tm.TableID, n, [][]byte{allPresent(n)}, nil, data), nrows: nrows, rowBytes: len(row)}
}

// decodeAll decodes every row of the event, reusing r and dst.
func (e benchEvent) decodeAll(tb testing.TB, r *RowsReader, dst []change.Value) []change.Value {
	if err := r.Reset(WriteRowsEventV2, e.body, nil, func(uint64) *TableMap { return e.tm }); err != nil {
		tb.Fatal(err)
	}
	var err error
	for r.Next() {
		if dst, err = r.After(dst[:0]); err != nil {
			tb.Fatal(err)
		}
	}
	if r.Err() != nil {
		tb.Fatal(r.Err())
	}
	return dst
}

func TestDecodeRowsZeroAllocs(t *testing.T) {
	for _, e := range []benchEvent{wideEvent(t, 50), sbtestEvent(t, 50)} {
		r := &RowsReader{}
		dst := e.decodeAll(t, r, nil) // warm up the arena and decoders
		if e.tm.ColumnCount() == 20 && string(dst[8].B) != "café crème brûlée" {
			t.Fatalf("latin1 column: %q", dst[8].B)
		}
		allocs := testing.AllocsPerRun(20, func() { dst = e.decodeAll(t, r, dst) })
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per event of %d rows, want 0", e.tm.Table, allocs, e.nrows)
		}
	}
}

// BenchmarkDecodeRows decodes rows one op per row (reader and destination
// reused): ns/op is ns/row, allocs/op is allocs/row.
func BenchmarkDecodeRows(b *testing.B) {
	for _, tc := range []struct {
		name string
		ev   func(testing.TB, int) benchEvent
	}{{"wide", wideEvent}, {"sbtest", sbtestEvent}} {
		b.Run(tc.name, func(b *testing.B) {
			e := tc.ev(b, 1000)
			r := &RowsReader{}
			dst := e.decodeAll(b, r, nil)
			lookup := func(uint64) *TableMap { return e.tm }
			if err := r.Reset(WriteRowsEventV2, e.body, nil, lookup); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(e.rowBytes))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			var err error
			for i := 0; i < b.N; i++ {
				if !r.Next() {
					_ = r.Reset(WriteRowsEventV2, e.body, nil, lookup)
					r.Next()
				}
				if dst, err = r.After(dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per row: wall time is unreliable on a shared machine.
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/row")
		})
	}
}

// BenchmarkDecodeRowsGoMySQL decodes the same events with go-mysql v1.13.0
// (the test-only oracle) for comparison: one op is one 1000-row event;
// ns/row is reported as a metric.
func BenchmarkDecodeRowsGoMySQL(b *testing.B) {
	raw := func(t EventType, body []byte) []byte {
		h := Header{Type: t, ServerID: 1, EventSize: uint32(HeaderLenV4 + len(body))}
		return append(h.Append(nil), body...)
	}
	for _, tc := range []struct {
		name string
		ev   func(testing.TB, int) benchEvent
	}{{"wide", wideEvent}, {"sbtest", sbtestEvent}} {
		b.Run(tc.name, func(b *testing.B) {
			e := tc.ev(b, 1000)
			p := replication.NewBinlogParser()
			if _, err := p.Parse(raw(FormatDescriptionEvent, NewFormatDescription("8.0.40", ChecksumOff).AppendBody(nil))); err != nil {
				b.Fatal(err)
			}
			if _, err := p.Parse(raw(TableMapEvent, e.tmBody)); err != nil {
				b.Fatal(err)
			}
			body := append([]byte(nil), e.body...)
			body[6] = 0 // no STMT_END_F: go-mysql would forget the table map after the first parse
			rows := raw(WriteRowsEventV2, body)
			b.SetBytes(int64(e.rowBytes * e.nrows))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := p.Parse(rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*e.nrows), "ns/row")
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N*e.nrows), "cpu-ns/row")
		})
	}
}
