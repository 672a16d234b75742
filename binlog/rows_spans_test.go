package binlog

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
)

// spanWalk is what one walk of a rows event found: per row the row span
// and the decoded images, then the error.
type spanWalk struct {
	spans  [][3]int
	images []string
	err    string
}

// walkRows walks the rows of body with Next (span=false) or NextSpan and
// decodes each row's images after the walk step.
func walkRows(t testing.TB, typ EventType, body []byte, fde *FormatDescription, tables func(uint64) *TableMap, span bool) spanWalk {
	t.Helper()
	var w spanWalk
	r, err := NewRowsReader(typ, body, fde, tables)
	if err != nil {
		w.err = err.Error()
		return w
	}
	var before, after []change.Value
	for {
		ok := false
		if span {
			ok = r.NextSpan()
		} else {
			ok = r.Next()
		}
		if !ok {
			break
		}
		s, m, e := r.RowSpan()
		w.spans = append(w.spans, [3]int{s, m, e})
		for i := 0; i < r.Images(); i++ {
			is, ie, ok := r.ImageSpan(i)
			if !ok || is < s || ie > e || (i == 0 && (is != s || ie != m)) || (i == 1 && (is != m || ie != e)) {
				t.Fatalf("row %d: ImageSpan(%d) = %d, %d, %v within RowSpan %d, %d, %d", r.Row(), i, is, ie, ok, s, m, e)
			}
		}
		if _, _, ok := r.ImageSpan(r.Images()); ok {
			t.Fatalf("row %d: ImageSpan(%d) of a %d-image row is ok", r.Row(), r.Images(), r.Images())
		}
		before, err = r.Before(before[:0])
		bs := fmt.Sprint(before, err)
		after, err = r.After(after[:0])
		w.images = append(w.images, bs+" / "+fmt.Sprint(after, err))
	}
	if err := r.Err(); err != nil {
		w.err = err.Error()
	}
	return w
}

func (w spanWalk) equal(o spanWalk) bool {
	if w.err != o.err || len(w.spans) != len(o.spans) || len(w.images) != len(o.images) {
		return false
	}
	for i := range w.spans {
		if w.spans[i] != o.spans[i] || w.images[i] != o.images[i] {
			return false
		}
	}
	return true
}

func TestRowSpans(t *testing.T) {
	tm := testTable(t)
	tables := func(id uint64) *TableMap {
		if id == 42 {
			return tm
		}
		return nil
	}
	all := allPresent(4)
	row1 := image(rowValues(1, "apple", "1.50", map[string]any{"a": 1})...)
	row2 := image(rowValues(-2, "", "-0.99", nil)...)
	two := append(append([]byte{}, row1...), row2...)
	keyOnly, noKey := []byte{0b0001}, []byte{0b1010}
	minimal := append(image(leBytes(1, 4)), image(lenPrefixed(1, []byte("pear")), nil)...)
	compressed, err := AppendMariaDBCompressed(nil, two)
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 := len(row1), len(row2)
	lk := len(image(leBytes(1, 4)))
	for _, tc := range []struct {
		name  string
		typ   EventType
		maps  [][]byte
		extra []byte
		data  []byte
		rows  []byte // the rows data RowsData must return
		want  [][3]int
		err   bool
	}{
		{"insert v2", WriteRowsEventV2, [][]byte{all}, nil, two, two, [][3]int{{0, l1, l1}, {l1, l1 + l2, l1 + l2}}, false},
		{"insert v1", WriteRowsEventV1, [][]byte{all}, nil, two, two, [][3]int{{0, l1, l1}, {l1, l1 + l2, l1 + l2}}, false},
		{"delete with extra data", DeleteRowsEventV2, [][]byte{all}, []byte{1, 7, 0}, row2, row2, [][3]int{{0, l2, l2}}, false},
		{"update", UpdateRowsEventV2, [][]byte{all, all}, nil, two, two, [][3]int{{0, l1, l1 + l2}}, false},
		{"update MINIMAL", UpdateRowsEventV2, [][]byte{keyOnly, noKey}, nil, minimal, minimal, [][3]int{{0, lk, len(minimal)}}, false},
		{"MariaDB compressed", MariaWriteRowsCompressedEvent, [][]byte{all}, nil, compressed, two, [][3]int{{0, l1, l1}, {l1, l1 + l2, l1 + l2}}, false},
		{"second row cut short", WriteRowsEventV2, [][]byte{all}, nil, two[:len(two)-3], two[:len(two)-3], [][3]int{{0, l1, l1}}, true},
		{"length prefix past the end", WriteRowsEventV2, [][]byte{all}, nil, append(append([]byte{}, row1...), 0, 1, 0, 0, 0, 9), nil, [][3]int{{0, l1, l1}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := buildRowsBody(tc.typ, 42, 4, tc.maps, tc.extra, tc.data)
			for _, span := range []bool{false, true} {
				r, err := NewRowsReader(tc.typ, body, nil, tables)
				if err != nil {
					t.Fatal(err)
				}
				if s, m, e := r.RowSpan(); s != 0 || m != 0 || e != 0 {
					t.Errorf("RowSpan before the first row = %d, %d, %d", s, m, e)
				}
				if tc.rows != nil && !bytes.Equal(r.RowsData(), tc.rows) {
					t.Errorf("RowsData = %x, want %x", r.RowsData(), tc.rows)
				}
				if off := r.RowsOffset(); !bytes.Equal(body[off:], tc.data) {
					t.Errorf("RowsOffset %d: body after it is %x, want %x", off, body[off:], tc.data)
				}
				w := walkRows(t, tc.typ, body, nil, tables, span)
				if fmt.Sprint(w.spans) != fmt.Sprint(tc.want) || (w.err != "") != tc.err {
					t.Errorf("NextSpan=%v: spans %v, error %q; want %v, error %v", span, w.spans, w.err, tc.want, tc.err)
				}
			}
			if a, b := walkRows(t, tc.typ, body, nil, tables, false), walkRows(t, tc.typ, body, nil, tables, true); !a.equal(b) {
				t.Errorf("Next and NextSpan differ:\n%+v\n%+v", a, b)
			}
		})
	}
}

// TestNextSpanCorpus walks every rows event of the corpus with Next and
// with NextSpan: the same rows, spans, values and errors.
func TestNextSpanCorpus(t *testing.T) {
	rows := 0
	for _, name := range rowsCorpusFiles {
		evs, _ := readRowsCorpus(t, binlogcorpus.Path(t, name))
		tables := map[uint64]*TableMap{}
		lookup := func(id uint64) *TableMap { return tables[id] }
		for _, ev := range evs {
			switch {
			case ev.typ == TableMapEvent:
				tm, err := DecodeTableMap(ev.body, ev.fde)
				if err == nil {
					tables[tm.TableID] = tm
				}
			case IsRowsEvent(ev.typ):
				a := walkRows(t, ev.typ, ev.body, ev.fde, lookup, false)
				b := walkRows(t, ev.typ, ev.body, ev.fde, lookup, true)
				if !a.equal(b) {
					t.Errorf("%s at %d (%s): Next and NextSpan differ:\n%+v\n%+v", name, ev.off, ev.typ, a, b)
				}
				rows += len(a.spans)
			}
		}
	}
	if rows == 0 {
		t.Fatal("no corpus rows")
	}
	t.Logf("%d rows walked both ways", rows)
}

// FuzzRowsSpans: on arbitrary rows events NextSpan finds the same rows,
// spans, values and errors as Next, and never panics.
func FuzzRowsSpans(f *testing.F) {
	for _, s := range rowsFuzzSeeds(f) {
		f.Add(s[0], s[1][0], s[2])
	}
	f.Fuzz(func(t *testing.T, tmBody []byte, typ byte, body []byte) {
		tm, err := DecodeTableMapPostHeader(tmBody, 8, false)
		if err != nil {
			return
		}
		tables := func(uint64) *TableMap { return tm }
		a := walkRows(t, EventType(typ), body, nil, tables, false)
		b := walkRows(t, EventType(typ), body, nil, tables, true)
		if !a.equal(b) {
			t.Fatalf("Next and NextSpan differ:\n%+v\n%+v", a, b)
		}
	})
}

// BenchmarkRowSpans compares walking the corpus rows with Next and with
// NextSpan (spans only, no values decoded).
func BenchmarkRowSpans(b *testing.B) {
	type event struct {
		typ  EventType
		body []byte
		fde  *FormatDescription
		tm   *TableMap
	}
	var evs []event
	for _, name := range rowsCorpusFiles {
		all, _ := readRowsCorpus(b, binlogcorpus.Path(b, name))
		tables := map[uint64]*TableMap{}
		for _, ev := range all {
			switch {
			case ev.typ == TableMapEvent:
				if tm, err := DecodeTableMap(ev.body, ev.fde); err == nil {
					tables[tm.TableID] = tm
				}
			case IsRowsEvent(ev.typ):
				if r, err := NewRowsReader(ev.typ, ev.body, ev.fde, func(id uint64) *TableMap { return tables[id] }); err == nil {
					evs = append(evs, event{ev.typ, ev.body, ev.fde, r.Table})
				}
			}
		}
	}
	for _, mode := range []string{"Next", "NextSpan"} {
		b.Run(mode, func(b *testing.B) {
			var r RowsReader
			rows := 0
			for b.Loop() {
				for i := range evs {
					e := &evs[i]
					if r.Reset(e.typ, e.body, e.fde, func(uint64) *TableMap { return e.tm }) != nil {
						continue
					}
					if mode == "Next" {
						for r.Next() {
							rows++
						}
					} else {
						for r.NextSpan() {
							rows++
						}
					}
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
