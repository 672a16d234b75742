package binlog

import (
	"testing"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/binlogcorpus"
)

// rowsFuzzSeeds returns (table map body, rows event type, rows body) triples
// from the corpus files that hold rows.
func rowsFuzzSeeds(f *testing.F) (seeds [][3][]byte) {
	for _, name := range rowsCorpusFiles {
		evs, _ := readRowsCorpus(f, binlogcorpus.Path(f, name))
		var tm []byte
		for _, ev := range evs {
			switch {
			case ev.typ == TableMapEvent:
				tm = ev.body
			case IsRowsEvent(ev.typ) && tm != nil:
				seeds = append(seeds, [3][]byte{tm, {byte(ev.typ)}, ev.body})
			}
		}
	}
	return seeds
}

// FuzzTableMap decodes arbitrary TABLE_MAP bodies: no panic, and a decoded
// map is self-consistent.
func FuzzTableMap(f *testing.F) {
	for _, s := range rowsFuzzSeeds(f) {
		f.Add(s[0], false)
	}
	f.Add(buildTableMap(1, "d", "t", []tcol{{TypeNewDecimal, []byte{65, 30}, true}, {TypeString, []byte{byte(TypeSet), 8}, true}},
		testTLV(tmSetStrValue, strSeq([]string{"a", "b"})), testTLV(tmColumnCharset, packedSeq(33))), true)
	f.Add(tableMapWithoutMetadata(1, "d", "t", TypeLong, TypeVarchar, TypeString, TypeBlob, TypeNewDecimal), false)
	f.Fuzz(func(t *testing.T, body []byte, mariaDB bool) {
		tm, err := DecodeTableMapPostHeader(body, 8, mariaDB)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		if len(tm.Columns) != tm.ColumnCount() {
			t.Fatalf("%d columns described, %d decoded", len(tm.Columns), tm.ColumnCount())
		}
		for i, c := range tm.Columns {
			if c.Type == "" || !utf8.ValidString(c.Type) {
				t.Fatalf("column %d: %+v", i, c)
			}
		}
		for _, k := range tm.PrimaryKey {
			if k < 0 || k >= tm.ColumnCount() {
				t.Fatalf("primary key column %d of %d", k, tm.ColumnCount())
			}
		}
	})
}

// FuzzRows decodes arbitrary rows events against an arbitrary TABLE_MAP:
// no panic, errors are located *Error values, and every decoded image has
// one value per column.
func FuzzRows(f *testing.F) {
	for _, s := range rowsFuzzSeeds(f) {
		f.Add(s[0], s[1][0], s[2])
	}
	tm := buildTableMap(42, "shop", "items", []tcol{{TypeLong, nil, false}, {TypeVarchar, []byte{80, 0}, true},
		{TypeNewDecimal, []byte{12, 2}, true}, {TypeJSON, []byte{4}, true}})
	f.Add(tm, byte(PartialUpdateRowsEvent), partialEvent(map[string]any{"a": []any{1, "x"}}, diff(jsonDiffInsert, "$.a[1]", 2.5)))
	f.Add(tableMapWithoutMetadata(42, "d", "t", TypeLong, TypeVarchar, TypeString, TypeBlob), byte(WriteRowsEventV1),
		buildRowsBody(WriteRowsEventV1, 42, 4, [][]byte{{0x07}}, nil, image(leBytes(1, 4), lenPrefixed(1, []byte("ab")), lenPrefixed(1, nil))))
	f.Fuzz(func(t *testing.T, tmBody []byte, typ byte, body []byte) {
		tm, err := DecodeTableMapPostHeader(tmBody, 8, false)
		if err != nil {
			return
		}
		tables := func(uint64) *TableMap { return tm }
		r, err := NewRowsReader(EventType(typ), body, nil, tables)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		var before, after []change.Value
		for r.Next() {
			if before, err = r.Before(before[:0]); err == nil && before != nil && len(before) != tm.ColumnCount() {
				t.Fatalf("before image has %d values for %d columns", len(before), tm.ColumnCount())
			}
			if after, err = r.After(after[:0]); err == nil && after != nil && len(after) != tm.ColumnCount() {
				t.Fatalf("after image has %d values for %d columns", len(after), tm.ColumnCount())
			}
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error is %T, want *Error", err)
				}
			}
		}
	})
}
