package format

import (
	"bytes"
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
		m := b.mark()
		start := len(b.buf)
		b.buf = append(b.buf, strings.Repeat("x", i%37)...)
		b.buf = append(b.buf, byte('a'+i%26))
		b.hdrs = append(b.hdrs, Header{Key: "h", Value: b.buf[start : start+1]})
		b.add(pending{key: none, value: span{start, len(b.buf)}, hdrs: m.hdrs})
		want = append(want, string(b.buf[start:]))
		if i%10 == 9 {
			// An encoder that fails rolls back what it added.
			m := b.mark()
			b.buf = append(b.buf, "junk"...)
			b.hdrs = append(b.hdrs, Header{Key: "junk"})
			b.addValue(span{m.buf, len(b.buf)})
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
