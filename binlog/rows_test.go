package binlog

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// testTable is id INT, name VARCHAR(20) utf8mb4, price DECIMAL(12,2), doc JSON.
func testTable(t *testing.T) *TableMap {
	t.Helper()
	tm, err := DecodeTableMap(buildTableMap(42, "shop", "items", []tcol{
		{TypeLong, nil, false},
		{TypeVarchar, []byte{80, 0}, true},
		{TypeNewDecimal, []byte{12, 2}, true},
		{TypeJSON, []byte{4}, true},
	}, testTLV(tmDefaultCharset, packedSeq(255)), testTLV(tmColumnName, strSeq([]string{"id", "name", "price", "doc"})[1:]),
		testTLV(tmSimplePrimaryKey, packedSeq(0))), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func rowValues(id int, name string, price string, doc any) [][]byte {
	vals := [][]byte{leBytes(uint64(id), 4), nil, nil, nil}
	if name != "" {
		vals[1] = lenPrefixed(1, []byte(name))
	}
	if price != "" {
		vals[2] = encodeDecimal(price, 12, 2)
	}
	if doc != nil {
		vals[3] = lenPrefixed(4, jsonDoc(doc))
	}
	return vals
}

func texts(vs []change.Value) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte('|')
		}
		switch v.Kind {
		case change.KindAbsent:
			b.WriteString("-")
		case change.KindNull:
			b.WriteString("NULL")
		case change.KindInt:
			b.WriteString(itoa(v.I))
		default:
			b.Write(v.B)
		}
	}
	return b.String()
}

func itoa(i int64) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func readAll(t *testing.T, r *RowsReader) (befores, afters []string) {
	t.Helper()
	var b, a []change.Value
	var err error
	for r.Next() {
		if b, err = r.Before(b[:0]); err != nil {
			t.Fatalf("before: %v", err)
		}
		if a, err = r.After(a[:0]); err != nil {
			t.Fatalf("after: %v", err)
		}
		if b != nil {
			befores = append(befores, texts(b))
		}
		if a != nil {
			afters = append(afters, texts(a))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return befores, afters
}

func TestRowsEventKinds(t *testing.T) {
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
	for _, typ := range []EventType{WriteRowsEventV2, WriteRowsEventV1} {
		body := buildRowsBody(typ, 42, 4, [][]byte{all}, nil, append(append([]byte{}, row1...), row2...))
		r, err := NewRowsReader(typ, body, nil, tables)
		if err != nil {
			t.Fatal(err)
		}
		b, a := readAll(t, r)
		want := []string{`1|apple|1.50|{"a": 1}`, `-2|NULL|-0.99|NULL`}
		if b != nil || strings.Join(a, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: before %q after %q", typ, b, a)
		}
		if r.Kind != RowsInsert || r.TableID != 42 || r.Flags != 1 {
			t.Errorf("%s: header %+v", typ, r)
		}
	}
	// MySQL 5.1.0-5.1.15 rows (as in the corpus's ver_5_1-wl2325_r.001:
	// the record's null bytes, then every column's value) are refused, not
	// misread as v1 rows.
	pre := buildRowsBody(PreGAWriteRowsEvent, 42, 4, [][]byte{all}, nil, row1)
	if _, err := NewRowsReader(PreGAWriteRowsEvent, pre, nil, tables); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "5.1.15") {
		t.Errorf("pre-GA rows: %v, want ErrUnsupported naming MySQL 5.1.15", err)
	}
	// DELETE v2 with extra data (partition info) kept verbatim.
	body := buildRowsBody(DeleteRowsEventV2, 42, 4, [][]byte{all}, []byte{1, 7, 0}, row1)
	r, err := NewRowsReader(DeleteRowsEventV2, body, nil, tables)
	if err != nil {
		t.Fatal(err)
	}
	b, a := readAll(t, r)
	if a != nil || len(b) != 1 || b[0] != `1|apple|1.50|{"a": 1}` || string(r.Extra) != "\x01\x07\x00" {
		t.Errorf("delete: %q %q extra %v", b, a, r.Extra)
	}
	if id, src, ok := r.PartitionID(); !ok || id != 7 || src != 7 {
		t.Errorf("partition %d %d %v", id, src, ok)
	}
	// NDB info first, then an update's partition pair.
	body = buildRowsBody(UpdateRowsEventV2, 42, 4, [][]byte{all, all}, []byte{0, 4, 0, 9, 9, 1, 3, 0, 5, 0}, append(append([]byte{}, row1...), row1...))
	if r, err = NewRowsReader(UpdateRowsEventV2, body, nil, tables); err != nil {
		t.Fatal(err)
	}
	if id, src, ok := r.PartitionID(); !ok || id != 3 || src != 5 {
		t.Errorf("update partition %d %d %v", id, src, ok)
	}
	// UPDATE with a MINIMAL before image (key only) and a partial after image.
	keyOnly := []byte{0b0001}
	noKey := []byte{0b1010}
	data := append(image(leBytes(1, 4)), image(lenPrefixed(1, []byte("pear")), nil)...)
	data = append(data, append(image(leBytes(2, 4)), image(lenPrefixed(1, []byte("fig")), lenPrefixed(4, jsonDoc([]any{1})))...)...)
	body = buildRowsBody(UpdateRowsEventV2, 42, 4, [][]byte{keyOnly, noKey}, nil, data)
	r, err = NewRowsReader(UpdateRowsEventV2, body, nil, tables)
	if err != nil {
		t.Fatal(err)
	}
	b, a = readAll(t, r)
	if strings.Join(b, ",") != "1|-|-|-,2|-|-|-" || strings.Join(a, ",") != "-|pear|-|NULL,-|fig|-|[1]" {
		t.Errorf("update: %q %q", b, a)
	}
}

func TestRowsMariaDBCompressed(t *testing.T) {
	tm := testTable(t)
	tables := func(uint64) *TableMap { return tm }
	all := allPresent(4)
	rows := append(image(rowValues(7, "kiwi", "3.00", nil)...), image(rowValues(8, "lime", "4.00", true)...)...)
	compressed, err := AppendMariaDBCompressed(nil, rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []EventType{MariaWriteRowsCompressedEventV1, MariaWriteRowsCompressedEvent} {
		body := buildRowsBody(typ, 42, 4, [][]byte{all}, nil, compressed)
		r, err := NewRowsReader(typ, body, nil, tables)
		if err != nil {
			t.Fatal(err)
		}
		_, a := readAll(t, r)
		if strings.Join(a, ",") != "7|kiwi|3.00|NULL,8|lime|4.00|true" {
			t.Errorf("%s: %q", typ, a)
		}
	}
	body := buildRowsBody(MariaDeleteRowsCompressedEvent, 42, 4, [][]byte{all}, nil, []byte{0x81, 5, 1, 2})
	if _, err := NewRowsReader(MariaDeleteRowsCompressedEvent, body, nil, tables); !errors.Is(err, ErrCompressed) {
		t.Errorf("bad compressed data: %v", err)
	}
}

func TestRowsErrorsAreLocated(t *testing.T) {
	tm := testTable(t)
	tables := func(uint64) *TableMap { return tm }
	all := allPresent(4)
	good := image(rowValues(1, "a", "1.00", nil)...)
	bad := image(rowValues(2, "b", "2.00", nil)...)
	bad = bad[:len(bad)-2] // the DECIMAL(12,2) of row 2 is cut short
	body := buildRowsBody(UpdateRowsEventV2, 42, 4, [][]byte{all, all}, nil, append(append(append([]byte{}, good...), good...), bad...))
	r, err := NewRowsReader(UpdateRowsEventV2, body, nil, tables)
	if err != nil {
		t.Fatal(err)
	}
	r.SetLocation("bin.000003", 1234)
	n := 0
	for r.Next() {
		n++
	}
	err = r.Err()
	want := "binlog: bin.000003@1234 UPDATE_ROWS_EVENT row 2 col 3 DECIMAL(12,2): truncated"
	var be *Error
	if n != 1 || err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &be) || be.Row != 2 || be.Col != 3 || !errors.Is(err, ErrTruncated) {
		t.Errorf("rows %d, err %v", n, err)
	}
	// Unknown table, wrong column count, non-rows type.
	if _, err := NewRowsReader(WriteRowsEventV2, buildRowsBody(WriteRowsEventV2, 9, 4, [][]byte{all}, nil, good), nil, func(uint64) *TableMap { return nil }); !errors.Is(err, ErrNoTableMap) {
		t.Errorf("missing table: %v", err)
	}
	if _, err := NewRowsReader(WriteRowsEventV2, buildRowsBody(WriteRowsEventV2, 42, 3, [][]byte{{7}}, nil, good), nil, tables); !errors.Is(err, ErrMalformed) {
		t.Errorf("column count: %v", err)
	}
	if _, err := NewRowsReader(QueryEvent, nil, nil, tables); !errors.Is(err, ErrUnsupported) {
		t.Errorf("query event: %v", err)
	}
	// The dummy event that frees table maps has no table and no rows.
	r, err = NewRowsReader(WriteRowsEventV2, buildRowsBody(WriteRowsEventV2, 0xffffff, 1, [][]byte{{1}}, nil, nil), nil, func(uint64) *TableMap { return nil })
	if err != nil || r.Next() || r.Err() != nil {
		t.Errorf("dummy event: %v", err)
	}
	// Every cut of a valid event fails cleanly or yields fewer rows; never panics.
	full := buildRowsBody(UpdateRowsEventV2, 42, 4, [][]byte{all, all}, nil, append(append([]byte{}, good...), good...))
	for cut := 0; cut < len(full); cut++ {
		r, err := NewRowsReader(UpdateRowsEventV2, full[:cut], nil, tables)
		if err != nil {
			continue
		}
		for r.Next() {
			_, _ = r.Before(nil)
			_, _ = r.After(nil)
		}
		if r.Err() == nil && cut > 20 {
			t.Errorf("cut at %d: no error", cut)
		}
	}
}

// partialEvent builds a PARTIAL_UPDATE_ROWS_EVENT for testTable whose after
// image carries the given diffs for the doc column.
func partialEvent(beforeDoc any, diffs ...[]byte) []byte {
	all := allPresent(4)
	before := image(rowValues(1, "x", "1.00", beforeDoc)...)
	var vec []byte
	for _, d := range diffs {
		vec = append(vec, d...)
	}
	after := []byte{1, 0b1} // value options PARTIAL_JSON, the one JSON column is partial
	after = append(after, image(leBytes(1, 4), lenPrefixed(1, []byte("x")), encodeDecimal("1.00", 12, 2), lenPrefixed(4, vec))...)
	return buildRowsBody(PartialUpdateRowsEvent, 42, 4, [][]byte{all, all}, nil, append(before, after...))
}

func diff(op byte, path string, value any) []byte {
	b := testPacked([]byte{op}, uint64(len(path)))
	b = append(b, path...)
	if op == jsonDiffRemove {
		return b
	}
	doc := jsonDoc(value)
	return append(testPacked(b, uint64(len(doc))), doc...)
}

func TestPartialJSONApplied(t *testing.T) {
	tm := testTable(t)
	tables := func(uint64) *TableMap { return tm }
	doc := map[string]any{"name": "Joe", "age": 25, "tags": []any{"a", "b", "c"}, "addr": map[string]any{"city": "Oslo"}}
	tests := []struct {
		name  string
		diffs [][]byte
		want  string
	}{
		{"replace member", [][]byte{diff(jsonDiffReplace, "$.age", 26)},
			`{"age": 26, "addr": {"city": "Oslo"}, "name": "Joe", "tags": ["a", "b", "c"]}`},
		{"several diffs", [][]byte{diff(jsonDiffReplace, "$.name", "Sue"), diff(jsonDiffRemove, "$.tags[1]", nil), diff(jsonDiffInsert, "$.addr.zip", "0150")},
			`{"age": 25, "addr": {"zip": "0150", "city": "Oslo"}, "name": "Sue", "tags": ["a", "c"]}`},
		{"array insert and last", [][]byte{diff(jsonDiffInsert, "$.tags[0]", 0), diff(jsonDiffReplace, "$.tags[last]", "z"), diff(jsonDiffInsert, "$.tags[99]", nil)},
			`{"age": 25, "addr": {"city": "Oslo"}, "name": "Joe", "tags": [0, "a", "b", "z", null]}`},
		{"quoted key and last-1", [][]byte{diff(jsonDiffInsert, `$."a b"`, 1.5), diff(jsonDiffRemove, "$.tags[last-1]", nil)},
			`{"a b": 1.5, "age": 25, "addr": {"city": "Oslo"}, "name": "Joe", "tags": ["a", "c"]}`},
		{"replace whole document", [][]byte{diff(jsonDiffReplace, "$", []any{true})}, `[true]`},
		{"remove member", [][]byte{diff(jsonDiffRemove, "$.addr", nil)}, `{"age": 25, "name": "Joe", "tags": ["a", "b", "c"]}`},
	}
	for _, tc := range tests {
		r, err := NewRowsReader(PartialUpdateRowsEvent, partialEvent(doc, tc.diffs...), nil, tables)
		if err != nil {
			t.Fatal(err)
		}
		b, a := readAll(t, r)
		if len(a) != 1 || !strings.HasSuffix(a[0], "|"+tc.want) {
			t.Errorf("%s: got %q", tc.name, a)
		}
		if len(b) != 1 || !strings.HasSuffix(b[0], `|{"age": 25, "addr": {"city": "Oslo"}, "name": "Joe", "tags": ["a", "b", "c"]}`) {
			t.Errorf("%s: before %q", tc.name, b)
		}
	}
	bad := [][]byte{
		diff(jsonDiffReplace, "$.missing", 1),
		diff(jsonDiffRemove, "$.tags[7]", nil),
		diff(jsonDiffReplace, "$.age.x", 1),
		diff(jsonDiffReplace, "age", 1),
		{3, 1, '$'},
		diff(jsonDiffReplace, "$.age", 1)[:5],
	}
	for i, d := range bad {
		r, err := NewRowsReader(PartialUpdateRowsEvent, partialEvent(doc, d), nil, tables)
		if err != nil {
			t.Fatal(err)
		}
		r.Next()
		if _, err := r.After(nil); !errors.Is(err, errBadJSONDiff) && !errors.Is(err, errBadJSON) {
			t.Errorf("bad diff %d: %v", i, err)
		}
	}
}

func TestRowsResetEventLocatesErrors(t *testing.T) {
	body := buildRowsBody(WriteRowsEventV2, 7, 1, [][]byte{{1}}, nil, []byte{0, 1, 2, 3, 4})
	noTables := func(uint64) *TableMap { return nil }
	for _, tc := range []struct {
		name string
		ev   Event
		want string
	}{
		{"outer", Event{Source: "bin.000002", Offset: 880, Header: Header{Type: WriteRowsEventV2}, Body: body},
			"binlog: bin.000002@880 WRITE_ROWS_EVENT"},
		{"nested", Event{Source: "bin.000002", Offset: 880, Nested: true, PayloadOffset: 61, Header: Header{Type: WriteRowsEventV2}, Body: body},
			"binlog: bin.000002@880 WRITE_ROWS_EVENT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r RowsReader
			err := r.ResetEvent(&tc.ev, noTables)
			var be *Error
			if !errors.As(err, &be) || !errors.Is(err, ErrNoTableMap) || be.Source != tc.ev.Source || be.Offset != tc.ev.Offset {
				t.Fatalf("err %v, want ErrNoTableMap at %s@%d", err, tc.ev.Source, tc.ev.Offset)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err %q, want prefix %q", err, tc.want)
			}
			if got := strings.Contains(err.Error(), "payload byte 61: "); got != tc.ev.Nested {
				t.Errorf("err %q: names the payload byte %v, want %v", err, got, tc.ev.Nested)
			}
			// Reset after ResetEvent forgets the location.
			err = r.Reset(WriteRowsEventV2, body, nil, noTables)
			if !errors.As(err, &be) || be.Source != "" || strings.Contains(err.Error(), "payload byte") {
				t.Errorf("Reset: err %v still located", err)
			}
		})
	}
}
