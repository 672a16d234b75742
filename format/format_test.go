package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

func TestParse(t *testing.T) {
	tests := []struct {
		text, name, err string
	}{
		{"", "sluice", ""},
		{"sluice", "sluice", ""},
		{" SLUICE ", "sluice", ""},
		{"debezum", "", `format "debezum": unknown format (known: sluice`},
		{"sluice?x=1", "", "format sluice: takes no parameters"},
		{"?x=1", "", "options without a format name"},
		{"sluice?%zz", "", `format sluice: options "%zz"`},
	}
	for _, tt := range tests {
		s, err := Parse(tt.text)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) = %v, want error containing %q", tt.text, err, tt.err)
			}
			continue
		}
		if err != nil || s.Name() != tt.name {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.text, s.Name(), err, tt.name)
		}
	}
	if (Spec{}).Name() != Default || (Spec{}).String() != Default {
		t.Errorf("zero Spec is %q", (Spec{}).String())
	}
	if names := Names(); names[0] != Default {
		t.Errorf("Names() = %v: the default comes first", names)
	}
	for _, n := range Names() {
		if Summary(n) == "" {
			t.Errorf("format %s has no summary", n)
		}
	}
}

// sample is a transaction of a MySQL table: begin, insert, update, delete,
// commit.
func sample() []change.Change {
	cols := []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "name", Type: "varchar(10)", Nullable: true}}
	pos := func(off, idx uint64) change.Position {
		return change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: off, Index: idx}
	}
	ts := time.Unix(1700000000, 0).UTC()
	ns := change.Namespace{Database: "db", Table: "t"}
	return []change.Change{
		{Op: change.OpBegin, Source: "mysql", Tx: change.Tx{ID: "g:1"}, Pos: pos(4, 0), CommitTime: ts},
		{Op: change.OpInsert, Source: "mysql", Namespace: ns, Columns: cols, CommitTime: ts,
			After: []change.Value{change.Int(1, 32), change.String([]byte("a"))}, Tx: change.Tx{ID: "g:1"}, Pos: pos(100, 0)},
		{Op: change.OpUpdate, Source: "mysql", Namespace: ns, Columns: cols, CommitTime: ts,
			Before: []change.Value{change.Int(1, 32), change.String([]byte("a"))}, After: []change.Value{change.Int(1, 32), change.String([]byte("b"))},
			Tx: change.Tx{ID: "g:1", Index: 1}, Pos: pos(200, 0)},
		{Op: change.OpDelete, Source: "mysql", Namespace: ns, Columns: cols, CommitTime: ts,
			Before: []change.Value{change.Int(1, 32), change.String([]byte("b"))}, Tx: change.Tx{ID: "g:1", Index: 2, Last: true}, Pos: pos(300, 0)},
		{Op: change.OpCommit, Source: "mysql", Tx: change.Tx{ID: "g:1", Index: 3}, Pos: pos(400, 0), CommitTime: ts},
	}
}

func TestSluiceIsAppendJSON(t *testing.T) {
	enc, err := New("", Target{})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	cs := sample()
	for i := range cs {
		if err := enc.Encode(&b, &cs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != len(cs) {
		t.Fatalf("%d messages for %d changes", b.Len(), len(cs))
	}
	for i, m := range b.Messages {
		if want := change.AppendJSON(nil, &cs[i]); !bytes.Equal(m.Value, want) {
			t.Errorf("change %d: value\n%s\nwant\n%s", i, m.Value, want)
		}
		wantKey := ""
		if cs[i].Table != "" {
			wantKey = `{"id":1}`
		}
		if string(m.Key) != wantKey || m.Headers != nil || m.Topic != "" {
			t.Errorf("change %d: key %q headers %v topic %q; want key %q", i, m.Key, m.Headers, m.Topic, wantKey)
		}
	}
	lines := AppendLines(nil, &b)
	var want []byte
	for i := range cs {
		want = append(change.AppendJSON(want, &cs[i]), '\n')
	}
	if !bytes.Equal(lines, want) {
		t.Errorf("AppendLines:\n%s\nwant\n%s", lines, want)
	}
}

func TestBatch(t *testing.T) {
	var b Batch
	// Messages keep their bytes while the buffer grows under them.
	var want []string
	for i := range 1000 {
		hdrs := len(b.hdrs)
		start := len(b.buf)
		b.buf = append(b.buf, strings.Repeat("x", i%37)...)
		b.buf = append(b.buf, byte('a'+i%26))
		b.hdrs = append(b.hdrs, Header{Key: "h", Value: b.buf[start : start+1]})
		b.add(pending{key: none, value: span{start, len(b.buf)}, hdrs: hdrs})
		want = append(want, string(b.buf[start:]))
		if i%10 == 9 {
			// An encoder that fails rolls back what it added, even when it
			// dropped the buffer on its way out.
			m := b.mark()
			from := len(b.buf)
			b.buf = append(b.buf, "junk"...)
			b.hdrs = append(b.hdrs, Header{Key: "junk"})
			b.addValue(span{from, len(b.buf)})
			b.buf = nil
			b.rollback(m)
		}
	}
	if b.Len() != len(want) {
		t.Fatalf("%d messages, want %d", b.Len(), len(want))
	}
	for i, m := range b.Messages {
		if string(m.Value) != want[i] || m.Key != nil || len(m.Headers) != 1 || m.Headers[0].Key != "h" {
			t.Fatalf("message %d: %q key %q headers %v, want %q", i, m.Value, m.Key, m.Headers, want[i])
		}
		// A message's slices cannot grow into its neighbour's bytes.
		if cap(m.Value) != len(m.Value) || cap(m.Headers) != len(m.Headers) {
			t.Fatalf("message %d: value cap %d len %d, headers cap %d len %d", i, cap(m.Value), len(m.Value), cap(m.Headers), len(m.Headers))
		}
	}
	if b.Size() != len(b.buf) {
		t.Errorf("Size %d", b.Size())
	}
	b.Reset()
	if b.Len() != 0 || b.Size() != 0 || len(b.hdrs) != 0 {
		t.Errorf("after Reset: %d messages, %d bytes", b.Len(), b.Size())
	}
	// A tombstone's value is nil, and AppendLines leaves it out.
	b.buf = append(b.buf, "v"...)
	b.add(pending{key: span{0, 1}, value: none})
	b.addValue(span{0, 1})
	if b.Messages[0].Value != nil || string(b.Messages[0].Key) != "v" {
		t.Errorf("tombstone %+v", b.Messages[0])
	}
	if got := AppendLines(nil, &b); string(got) != "v\n" {
		t.Errorf("AppendLines = %q", got)
	}
}

func TestEncodeAllocs(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector makes sync.Pool drop items, so encoding/json.Valid allocates at random; make test runs this without it")
	}
	for _, name := range Names() {
		enc, err := New(name, Target{Headers: true})
		if err != nil {
			t.Fatal(err)
		}
		cs := sample()
		var b Batch
		run := func() {
			b.Reset()
			for i := range cs {
				if err := enc.Encode(&b, &cs[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("%s: %.1f allocations per transaction in steady state", name, n)
		}
	}
}

func TestWKT(t *testing.T) {
	le := func(parts ...any) []byte {
		var b []byte
		for _, p := range parts {
			switch v := p.(type) {
			case int:
				b = binary.LittleEndian.AppendUint32(b, uint32(v))
			case float64:
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			case byte:
				b = append(b, v)
			}
		}
		return b
	}
	var o byte = 1
	tests := []struct {
		wkb  []byte
		want string
	}{
		{le(o, 1, 1.5, -2.25), "POINT (1.5 -2.25)"},
		{le(o, 2, 2, 0.0, 0.0, 1.0, 1.0), "LINESTRING (0 0, 1 1)"},
		{le(o, 3, 1, 5, 0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0, 0.0, 0.0), "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"},
		{le(o, 4, 2, o, 1, 0.0, 0.0, o, 1, 1e-7, 3.0), "MULTIPOINT ((0 0), (0.0000001 3))"},
		{le(o, 5, 2, o, 2, 2, 0.0, 0.0, 1.0, 1.0, o, 2, 2, 2.0, 2.0, 3.0, 3.0), "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))"},
		{le(o, 6, 1, o, 3, 1, 4, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0), "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))"},
		{le(o, 7, 2, o, 1, 1.0, 1.0, o, 2, 2, 0.0, 0.0, 1.0, 1.0), "GEOMETRYCOLLECTION (POINT (1 1), LINESTRING (0 0, 1 1))"},
		{le(o, 7, 0), "GEOMETRYCOLLECTION EMPTY"},
		{append([]byte{0, 0, 0, 0, 1}, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, math.Float64bits(-180)), math.Float64bits(90))...), "POINT (-180 90)"},
		{le(o, 1, 1.5), ""},         // truncated
		{le(o, 1001, 1.5), ""},      // 3D
		{le(o, 1, 1.0, 2.0, 3), ""}, // trailing bytes
	}
	for _, tt := range tests {
		if got := string(appendWKT(nil, tt.wkb)); got != tt.want {
			t.Errorf("appendWKT(%x) = %q, want %q", tt.wkb, got, tt.want)
		}
	}
}

func TestErrInvalid(t *testing.T) {
	for _, text := range []string{"nope", "sluice?x=1", "?a=b", "debezium?decimal.handling.mode=exact", "debezium?topic.prefix=", "maxwell?kafka_key_format=list", "sluice?%zz"} {
		if _, err := Parse(text); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", text, err)
		}
	}
	if _, err := New("cloudevents?mode=binary", Target{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "mode=structured") {
		t.Errorf("binary mode without headers: %v", err)
	}
	if _, err := New("cloudevents?mode=binary", Target{Headers: true}); err != nil {
		t.Errorf("binary mode with headers: %v", err)
	}
	s, err := Parse("debezium?provide.transaction.metadata=true")
	if err != nil || !s.NeedsBeginCommit() || s.Name() != "debezium" {
		t.Errorf("transaction metadata: %v, NeedsBeginCommit %v", err, s.NeedsBeginCommit())
	}
	if s, _ := Parse("debezium"); s.NeedsBeginCommit() {
		t.Error("debezium without transaction metadata needs no begin/commit")
	}
}

// TestValuesAreJSONLines: every format writes every example change as
// messages whose values and keys are valid JSON on one line, in every
// mode that changes how values are written.
func TestValuesAreJSONLines(t *testing.T) {
	specs := []string{"sluice", "debezium", "debezium?schemas=true", "debezium?decimal.handling.mode=string&binary.handling.mode=hex&time.precision.mode=connect",
		"debezium?decimal.handling.mode=double&bigint.unsigned.handling.mode=precise&interval.handling.mode=string&binary.handling.mode=base64-url-safe",
		"debezium?provide.transaction.metadata=true&schemas=true", "maxwell?output_ddl=true&output_xoffset=true&output_primary_keys=true&output_primary_key_columns=true&output_server_id=true&kafka_key_format=array",
		"maxwell?output_nulls=false", "canal-json", "cloudevents", "cloudevents?mode=binary&source=urn:x&type.prefix=t."}
	ex := examples()
	var names []string
	for n := range ex {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, spec := range specs {
		enc, err := New(spec, Target{Headers: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			c := ex[n]
			var b Batch
			if err := enc.Encode(&b, &c); err != nil {
				if n == "statement" {
					continue
				}
				t.Errorf("%s %s: %v", spec, n, err)
				continue
			}
			for _, m := range b.Messages {
				for what, data := range map[string][]byte{"value": m.Value, "key": m.Key} {
					if data == nil {
						continue
					}
					if !json.Valid(data) || bytes.ContainsAny(data, "\n\r") {
						t.Errorf("%s %s: %s is not one line of JSON: %s", spec, n, what, data)
					}
				}
			}
		}
	}
}

// TestStrict: with strict=true each format refuses the first value its
// form cannot carry exactly, naming the table, column and value, and
// leaves the batch as it was.
func TestStrict(t *testing.T) {
	ex := examples()
	bad := ex["insert"]
	bad.After = append([]change.Value(nil), bad.After...)
	bad.After[4] = change.String([]byte("caf\xe9"))
	tests := []struct {
		spec, change, want string
	}{
		{"debezium?strict=true", "mysql-kinds", "column bu (bigint unsigned): value 18446744073709551615: above the INT64 range"},
		{"debezium?strict=true&bigint.unsigned.handling.mode=precise", "mysql-kinds", "column dz (date): value 0000-00-00: a zero or invalid date"},
		{"debezium?strict=true", "pg-kinds", "column nan (numeric): value NaN: decimal.handling.mode=precise has no NaN"},
		{"debezium?strict=true&decimal.handling.mode=string", "pg-kinds", "column dinf (date): value infinity"},
		{"maxwell?strict=true", "pg-kinds", "column nan (numeric): value NaN"},
		{"canal-json?strict=true", "bad", "column note (text): value caf\xe9: not UTF-8"},
	}
	for _, tt := range tests {
		enc, err := New(tt.spec, Target{})
		if err != nil {
			t.Fatal(err)
		}
		c := ex[tt.change]
		if tt.change == "bad" {
			c = bad
		}
		var b Batch
		b.buf = append(b.buf, "kept"...)
		b.addValue(span{0, 4})
		err = enc.Encode(&b, &c)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), c.Database+"."+c.Table) {
			t.Errorf("%s %s: %v, want an error containing %q", tt.spec, tt.change, err, tt.want)
		}
		if b.Len() != 1 || string(b.Messages[0].Value) != "kept" || b.Size() != 4 {
			t.Errorf("%s: a refused change left %d messages, %d bytes", tt.spec, b.Len(), b.Size())
		}
		// Without strict the same change is written.
		plain, _ := New(strings.Replace(strings.Replace(tt.spec, "strict=true&", "", 1), "?strict=true", "", 1), Target{})
		if err := plain.Encode(&b, &c); err != nil {
			t.Errorf("%s without strict: %v", tt.spec, err)
		}
	}
}
