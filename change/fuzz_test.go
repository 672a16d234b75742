package change

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecodeJSON checks that DecodeJSON never panics, and that whatever it
// accepts encodes to a line that decodes to the same change and re-encodes
// to the same bytes.
func FuzzDecodeJSON(f *testing.F) {
	for _, c := range goldenChanges() {
		f.Add(AppendJSON(nil, &c))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := DecodeJSON(line)
		if err != nil {
			return
		}
		enc := AppendJSON(nil, &c)
		c2, err := DecodeJSON(enc)
		if err != nil {
			t.Fatalf("re-encoded line does not decode: %v\n in: %q\nout: %q", err, line, enc)
		}
		if !EqualChange(&c, &c2) {
			t.Fatalf("decode→encode→decode changed the change\n in: %q\nout: %q\n c1: %+v\n c2: %+v", line, enc, c, c2)
		}
		if enc2 := AppendJSON(nil, &c2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzParsePosition checks that ParsePosition never panics and that what it
// accepts prints as text that parses back to the same Position.
func FuzzParsePosition(f *testing.F) {
	f.Add("binlog:mysql-bin.000003:1234#5;gtid=a:1-5,%0Ab:1")
	f.Add("lsn:0/16B3748#2")
	f.Add("mongo:1700000000.5#1;token=%7B%7D")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			return
		}
		back, err := ParsePosition(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePosition(%q) = %+v; its text %q reads back as %+v, %v", s, p, p.String(), back, err)
		}
	})
}

// TestWriteFuzzSeeds keeps the committed seed corpus of FuzzDecodeJSON in
// step with the value cases: go test -run TestWriteFuzzSeeds -update.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeJSON")
	if !*update {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) < len(valueCases()) {
			t.Fatalf("seed corpus %s missing or short (%v); run with -update", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, line []byte) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(line)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range valueCases() {
		cols := []Column{{Name: "c", Type: tc.typ, Key: true}}
		c := Change{Op: OpUpdate, Columns: cols, Before: []Value{tc.v},
			After: []Value{{Kind: KindArray, Elems: []Value{tc.v}}}}
		write(fmt.Sprintf("value-%03d", i), AppendJSON(nil, &c))
	}
	for i, c := range goldenChanges() {
		write(fmt.Sprintf("golden-%02d", i), AppendJSON(nil, &c))
	}
}

// FuzzValueRoundTrip builds arbitrary Values (any kind, any field values,
// consistent or not) and checks that they survive AppendJSON and DecodeJSON
// exactly, in a column, inside an array and as a document field.
func FuzzValueRoundTrip(f *testing.F) {
	f.Add(uint8(KindTimestamp), uint8(6), false, int32(3600), true, int64(1700000000), uint64(5000), 0.0, []byte("x"), "timestamp", "a,b")
	f.Add(uint8(KindEnum), uint8(0), false, int32(0), false, int64(0), uint64(2), 0.0, []byte("b"), "enum('a','b')", "")
	f.Add(uint8(KindTime), uint8(9), true, int32(-1), true, int64(8385959), uint64(999999999), 0.0, []byte(nil), "", "")
	f.Add(uint8(KindFloat), uint8(32), false, int32(0), false, int64(0), uint64(0), 0.1, []byte(nil), "", "")
	f.Add(uint8(KindDocument), uint8(0), false, int32(0), false, int64(1), uint64(0), 0.0, []byte("{}"), "", "$kind,x")
	f.Fuzz(func(t *testing.T, kind, size uint8, neg bool, off int32, zoned bool, i int64, u uint64, fl float64, b []byte, typ, names string) {
		v := Value{Kind: Kind(kind % uint8(kindCount+2)), Size: size, Neg: neg, Off: off, Zoned: zoned, I: i, U: u, F: fl, B: b}
		if names != "" {
			v.Names = strings.Split(names, ",")
		}
		if v.Kind == KindArray || v.Kind == KindDocument {
			inner := v
			inner.Kind = Kind(size % uint8(kindCount))
			v.Elems = []Value{inner, Int(i, 64)}
			v.Names = v.Names[:min(len(v.Names), 2)]
		}
		arr := Value{Kind: KindArray, Elems: []Value{v}}
		doc := Value{Kind: KindDocument, Names: []string{names}, Elems: []Value{v}}
		// Column c holds v after and a variant of v before (another index,
		// bitmap or integer), in a column of v's type; columns a and d hold
		// v after an array and a document.
		w := v
		w.U ^= uint64(size & 1)
		c := Change{Op: OpUpdate, Columns: []Column{{Name: "c", Type: typ}, {Name: "a"}, {Name: "d"}},
			Before: []Value{w, arr, doc}, After: []Value{v, v, v}}
		line := AppendJSON(nil, &c)
		got, err := DecodeJSON(line)
		if err != nil {
			t.Fatalf("DecodeJSON(%s): %v", line, err)
		}
		if !EqualChange(&c, &got) {
			t.Fatalf("round trip changed the change\nline: %s\nwant: %+v\n got: %+v", line, c, got)
		}
		AppendText(nil, v)
	})
}
