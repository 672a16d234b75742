package change

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// roundTrip encodes c, decodes the line, checks the result equals c and
// that encoding it again gives the same bytes. It returns the line.
func roundTrip(t *testing.T, c *Change) []byte {
	t.Helper()
	line := AppendJSON(nil, c)
	if bytes.ContainsAny(line, "\n\r") {
		t.Fatalf("line contains a line break: %s", line)
	}
	got, err := DecodeJSON(line)
	if err != nil {
		t.Fatalf("DecodeJSON(%s): %v", line, err)
	}
	if !EqualChange(c, &got) {
		t.Fatalf("round trip changed the change\n line: %s\n want: %+v\n  got: %+v", line, *c, got)
	}
	if again := AppendJSON(nil, &got); !bytes.Equal(again, line) {
		t.Fatalf("re-encoding differs\n first: %s\nsecond: %s", line, again)
	}
	return line
}

// fieldJSON returns the text of member name in the object that starts at
// the first occurrence of prefix in line.
func fieldJSON(t *testing.T, line []byte, prefix, name string) string {
	t.Helper()
	root, err := parseJSON(line)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range root.keys {
		if k != prefix {
			continue
		}
		obj := root.elems[i]
		for j, k2 := range obj.keys {
			if k2 == name {
				e := obj.elems[j]
				return string(line[e.start:e.end])
			}
		}
	}
	return ""
}

func TestValueRoundTrip(t *testing.T) {
	for _, tc := range valueCases() {
		t.Run(tc.name, func(t *testing.T) {
			cols := []Column{{Name: "id", Type: "int", Key: true}, {Name: "c", Type: tc.typ, Nullable: true}}
			// In a column of its own kind.
			ins := Change{Op: OpInsert, Columns: cols, After: []Value{Int(1, 32), tc.v}}
			line := roundTrip(t, &ins)
			if tc.want != "" {
				if got := fieldJSON(t, line, "after", "c"); got != tc.want {
					t.Errorf("written as %s, want %s", got, tc.want)
				}
			}
			// As the before image of an update whose after value has another kind.
			upd := Change{Op: OpUpdate, Columns: cols, Before: []Value{Int(1, 32), tc.v}, After: []Value{Int(1, 32), Int(7, 16)}}
			roundTrip(t, &upd)
			// Inside an array and a document (no column context).
			arr := Value{Kind: KindArray, Elems: []Value{tc.v, tc.v}}
			doc := Value{Kind: KindDocument, Names: []string{"a", "$kind"}, Elems: []Value{tc.v, arr}}
			nested := Change{Op: OpInsert, Columns: cols, After: []Value{Int(1, 32), doc}}
			roundTrip(t, &nested)
			// As a key column of a delete.
			del := Change{Op: OpDelete, Columns: []Column{{Name: "k", Type: tc.typ, Key: true}}, Before: []Value{tc.v}}
			roundTrip(t, &del)
			AppendText(nil, tc.v) // must not panic
		})
	}
}

func TestImages(t *testing.T) {
	cols := []Column{{Name: "a"}, {Name: ""}, {Name: "c"}, {Name: "\xff"}}
	tests := []struct {
		name  string
		c     Change
		after string
	}{
		{"null unchanged absent", Change{Op: OpUpdate, Columns: cols,
			Before: []Value{Int(1, 64), Null(), Absent(), String([]byte("x"))},
			After:  []Value{Null(), Unchanged(), Absent(), Absent()}},
			`{"a":null,"@2":{"$kind":"unchanged"}}`},
		{"all absent", Change{Op: OpUpdate, Columns: cols, Before: make([]Value, 4), After: make([]Value, 4)}, `{}`},
		{"duplicate names", Change{Op: OpInsert, Columns: []Column{{Name: "x"}, {Name: "x"}, {Name: "@2"}, {Name: "y"}, {}},
			After: []Value{Absent(), Int(1, 64), Absent(), Int(2, 64), Absent()}},
			`{"x":{"$kind":"absent"},"x":1,"y":2}`},
		{"at-name clash", Change{Op: OpInsert, Columns: []Column{{Name: "@2"}, {Name: ""}},
			After: []Value{Absent(), Int(5, 8)}},
			`{"@2":{"$kind":"absent"},"@2":5}`},
		{"more values than columns", Change{Op: OpInsert, Columns: []Column{{Name: "a"}}, After: []Value{Int(1, 64), Int(2, 64)}}, `{"a":1,"@2":2}`},
		{"no columns", Change{Op: OpInsert, After: []Value{Bool(true)}}, `{"@1":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := roundTrip(t, &tt.c)
			root, _ := parseJSON(line)
			for i, k := range root.keys {
				if k == "after" {
					if got := string(line[root.elems[i].start:root.elems[i].end]); got != tt.after {
						t.Errorf("after = %s, want %s", got, tt.after)
					}
				}
			}
		})
	}
}

func TestChangeFields(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	for _, op := range []Op{OpInsert, OpUpdate, OpDelete, OpTruncate, OpDDL, OpBegin, OpCommit, OpHeartbeat, OpStatement, 0, 77} {
		c := Change{Op: op, Source: "postgres", Namespace: Namespace{"public", "t\"1"}, SQL: "ALTER TABLE t ADD c int -- é\n",
			Tx: Tx{ID: "xid:\xff", Index: math.MaxUint64}, CommitTime: ts, ReadTime: ts.Add(time.Millisecond),
			Pos: Position{Flavor: FlavorMongo, Offset: 7, Token: `{"_data":"82\\"}`}}
		line := roundTrip(t, &c)
		if !strings.HasPrefix(string(line), `{"op":"`+op.String()+`"`) {
			t.Errorf("line does not start with the op: %s", line)
		}
		if got := fieldJSON(t, line, "tx", "id"); got != `{"b64":"eGlkOv8="}` {
			t.Errorf("tx id written as %s", got)
		}
	}
	c := Change{Op: OpCommit, CommitTime: time.Unix(0, 1)}
	line := roundTrip(t, &c)
	if want := `{"op":"commit","ts":"1970-01-01T00:00:00.000000001Z"}`; string(line) != want {
		t.Errorf("got %s, want %s", line, want)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	bad := []string{
		``, `[]`, `{}`, `{"op":"nope"}`, `{"op":1}`, `{"op":"insert"} x`, `{"op":"insert","ts":"yesterday"}`,
		`{"op":"insert","pos":"x:1"}`, `{"op":"insert","tx":[]}`, `{"op":"insert","tx":{"index":-1}}`,
		`{"op":"insert","after":{"a":1}}`,
		`{"op":"insert","after":{"b":1,"a":2},"cols":[{"name":"a","kind":"int"},{"name":"b","kind":"int"}]}`,
		`{"op":"insert","after":{"a":1.5},"cols":[{"name":"a","kind":"int"}]}`,
		`{"op":"insert","after":{"a":1},"cols":[{"name":"a"}]}`,
		`{"op":"insert","after":{"a":1},"cols":[{"name":"a","kind":"int","size":256}]}`,
		`{"op":"insert","after":{"a":"2024-13-01 00:00:00"},"cols":[{"name":"a","kind":"timestamp"}]}`,
		`{"op":"insert","after":{"a":"2024-01-01"},"cols":[{"name":"a","kind":"datetime"}]}`,
		`{"op":"insert","after":{"a":"12:00:00.1234567890"},"cols":[{"name":"a","kind":"time"}]}`,
		`{"op":"insert","after":{"a":"0000-00-00 00:00:00.1"},"cols":[{"name":"a","kind":"timestamp"}]}`,
		`{"op":"insert","after":{"a":"!"},"cols":[{"name":"a","kind":"bytes"}]}`,
		`{"op":"insert","after":{"a":"x"},"cols":[{"name":"a","kind":"uuid"}]}`,
		`{"op":"insert","after":{"a":"x"},"cols":[{"name":"a","kind":"other"}]}`,
		`{"op":"insert","after":{"a":{"srid":1}},"cols":[{"name":"a","kind":"geometry"}]}`,
		`{"op":"insert","after":{"a":[1e39]},"cols":[{"name":"a","kind":"vector"}]}`,
		`{"op":"insert","after":{"a":{"$kind":"int","v":1,"i":1}},"cols":[{"name":"a"}]}`,
		`{"op":"insert","after":{"a":{"$kind":"int","i":1,"i":2}},"cols":[{"name":"a"}]}`,
		`{"op":"insert","after":{"a":{"$kind":"int","what":1}},"cols":[{"name":"a"}]}`,
		`{"op":"insert","after":{"a":{"$kind":"string","text":"a","b64":"YQ=="}},"cols":[{"name":"a"}]}`,
		`{"op":"insert","after":{"a":{"$kind":"null","v":null}},"cols":[{"name":"a"}]}`,
		`{"op":"insert","after":{"a":[1e999]},"cols":[{"name":"a","kind":"array"}]}`,
		`{"op":"insert","after":{"a":[99999999999999999999]},"cols":[{"name":"a","kind":"array"}]}`,
		"{\"op\":\"insert\",\"source\":\"\xff\"}",
		`{"op":"insert","source":"\x"}`,
		`{"op":"insert","source":"` + "\x01" + `"}`,
		`{"op":"insert","source":{"b64":"!"}}`,
		strings.Repeat("[", maxParseDepth+5),
	}
	for _, line := range bad {
		if c, err := DecodeJSON([]byte(line)); err == nil {
			t.Errorf("DecodeJSON(%q) = %+v, want an error", line, c)
		}
	}
}

func TestDecodeJSONLenient(t *testing.T) {
	// Inputs the encoder would not write but that mean one thing.
	tests := []struct {
		line string
		want Value
	}{
		{`{"op":"insert","after":{"a":"\ud83d\ude00\ud800"},"cols":[{"name":"a","kind":"string"}],"extra":1}`, String([]byte("😀\uFFFD"))},
		{`{"op":"insert","after":{"a":"2024-01-02 03:04:05.5"},"cols":[{"name":"a","kind":"datetime","size":6}]}`, DateTime(2024, 1, 2, 3, 4, 5, 500000000, 6)},
		{`{"op":"insert","after":{"a":"1970-01-01 00:00:00"},"cols":[{"name":"a","kind":"timestamp"}]}`, Timestamp(0, 0, 0)},
		{`{"op":"insert","after":{"a":{"$kind":"int","size":8,"i":5}},"cols":[{"name":"a","kind":"int","size":8}]}`, Int(5, 8)},
		{`{"op":"insert","after":{"a":[1,2.0,-0]},"cols":[{"name":"a","kind":"array"}]}`, Value{Kind: KindArray, Elems: []Value{Int(1, 64), Float64(2), Int(0, 64)}}},
	}
	for _, tt := range tests {
		c, err := DecodeJSON([]byte(tt.line))
		if err != nil || len(c.After) != 1 || !Equal(c.After[0], tt.want) {
			t.Errorf("DecodeJSON(%s) = %+v, %v; want %+v", tt.line, c.After, err, tt.want)
		}
	}
}

// goldenChanges is one change per op, as a MySQL or PostgreSQL source would emit them.
func goldenChanges() []Change {
	commit := time.Date(2024, 5, 6, 7, 8, 9, 120000000, time.UTC)
	read := commit.Add(35 * time.Millisecond)
	cols := []Column{
		{Name: "id", Type: "bigint unsigned", Key: true},
		{Name: "status", Type: "enum('new','paid','shipped')", Nullable: true},
		{Name: "total", Type: "decimal(12,2)"},
		{Name: "placed_at", Type: "datetime(6)"},
		{Name: "note", Type: "text", Nullable: true},
	}
	gtid := "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"
	pos := func(off, idx uint64) Position {
		return Position{Flavor: FlavorBinlog, File: "mysql-bin.000003", Offset: off, Index: idx, GTIDSet: gtid}
	}
	tx := Tx{ID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:77"}
	row := func(status string, idx uint64, total string, note Value) []Value {
		return []Value{Uint(42, 64), Enum([]byte(status), idx), Decimal([]byte(total)), DateTime(2024, 5, 6, 7, 8, 1, 250000000, 6), note}
	}
	base := Change{Source: "mysql", Namespace: Namespace{"shop", "orders"}, CommitTime: commit, ReadTime: read}
	ins, upd, del := base, base, base
	ins.Op, ins.Columns, ins.After, ins.Tx, ins.Pos = OpInsert, cols, row("new", 1, "19.90", Null()), Tx{ID: tx.ID, Index: 0}, pos(1234, 0)
	upd.Op, upd.Columns, upd.Before, upd.After, upd.Tx, upd.Pos = OpUpdate, cols, row("new", 1, "19.90", Null()), row("paid", 2, "19.90", String([]byte("paid by card"))), Tx{ID: tx.ID, Index: 1}, pos(1234, 1)
	del.Op, del.Columns, del.Before, del.Tx, del.Pos = OpDelete, cols, row("paid", 2, "19.90", String([]byte("paid by card"))), Tx{ID: tx.ID, Index: 2, Last: true}, pos(1234, 2)
	pgCols := []Column{{Name: "id", Type: "integer", Key: true}, {Name: "doc", Type: "jsonb"}, {Name: "body", Type: "text"}}
	pg := Change{Op: OpUpdate, Source: "postgres", Namespace: Namespace{"public", "notes"}, Columns: pgCols,
		After:      []Value{Int(7, 32), JSON([]byte(`{"tags": ["a", "b"]}`)), Unchanged()},
		Tx:         Tx{ID: "771", Index: 0, Last: true},
		Pos:        Position{Flavor: FlavorLSN, Offset: 0x16B3748},
		CommitTime: commit, ReadTime: read}
	return []Change{
		{Op: OpBegin, Source: "mysql", Tx: tx, Pos: pos(1100, 0), CommitTime: commit, ReadTime: read},
		ins, upd, del,
		{Op: OpCommit, Source: "mysql", Tx: Tx{ID: tx.ID, Index: 3}, Pos: pos(1500, 0), CommitTime: commit, ReadTime: read},
		{Op: OpTruncate, Source: "postgres", Namespace: Namespace{"public", "events"}, Tx: Tx{ID: "770", Last: true},
			Pos: Position{Flavor: FlavorLSN, Offset: 0x16B3000}, CommitTime: commit, ReadTime: read},
		{Op: OpDDL, Source: "mysql", Namespace: Namespace{"shop", "orders"}, SQL: "ALTER TABLE orders ADD COLUMN note text",
			Pos: pos(2000, 0), CommitTime: commit, ReadTime: read},
		{Op: OpStatement, Source: "mariadb", Namespace: Namespace{Database: "shop"}, SQL: "UPDATE orders SET status = 'paid' WHERE id = 42",
			Tx: Tx{ID: "0-1-78", Last: true}, Pos: Position{Flavor: FlavorBinlog, File: "mariadb-bin.000003", Offset: 2300, Index: 1, GTIDSet: "0-1-77"},
			CommitTime: commit, ReadTime: read},
		pg,
		{Op: OpHeartbeat, Source: "mongodb", Pos: Position{Flavor: FlavorMongo, Offset: 1714979289<<32 | 3, Token: "8266389D59000000032B0229296E04"}, ReadTime: read},
		{Op: OpRead, Source: "postgres", Namespace: Namespace{"public", "notes"}, Columns: pgCols,
			After:    []Value{Int(7, 32), JSON([]byte(`{"tags": ["a"]}`)), String([]byte("first note"))},
			Snapshot: SnapshotFirst,
			Pos:      Position{Flavor: FlavorLSN, Offset: 0x16B2F00, Row: 1, Snapshot: "t=public.notes,k=7"},
			ReadTime: read},
	}
}

func TestGolden(t *testing.T) {
	for _, c := range goldenChanges() {
		roundTrip(t, &c)
	}
	var all []byte
	for _, c := range goldenChanges() {
		all = AppendJSON(all, &c)
		all = append(all, '\n')
	}
	path := filepath.Join("testdata", "golden.jsonl")
	if *update {
		if err := os.WriteFile(path, all, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(all, want) {
		t.Errorf("output differs from %s (run go test -update after checking the change)\n got:\n%s\nwant:\n%s", path, all, want)
	}
	// Every golden line decodes, and re-encodes to itself.
	for _, line := range bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n")) {
		c, err := DecodeJSON(line)
		if err != nil {
			t.Fatalf("DecodeJSON(%s): %v", line, err)
		}
		if again := AppendJSON(nil, &c); !bytes.Equal(again, line) {
			t.Errorf("golden line does not re-encode to itself:\n%s\n%s", line, again)
		}
	}
}

// TestFormatDoc keeps docs/format.md honest: its examples are the golden
// lines and its table names every kind.
func TestFormatDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "format.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenChanges() {
		if line := AppendJSON(nil, &c); !bytes.Contains(doc, line) {
			t.Errorf("docs/format.md lacks the %s example:\n%s", c.Op, line)
		}
	}
	for k := Kind(0); k < kindCount; k++ {
		if !bytes.Contains(doc, []byte("`"+k.String()+"`")) {
			t.Errorf("docs/format.md does not mention kind %s", k)
		}
	}
}

func TestWideImages(t *testing.T) {
	// Many columns, most absent: with unique keys absent ones are left out;
	// with repeated keys past the pairwise limit every absent one is written.
	for _, repeat := range []bool{false, true} {
		n := 5000
		cols := make([]Column, n)
		img := make([]Value, n)
		for i := range cols {
			cols[i].Name = "c" + strconv.Itoa(i)
			if repeat && i%2 == 0 {
				cols[i].Name = "same"
			}
		}
		img[n-1] = Int(1, 64)
		c := Change{Op: OpInsert, Columns: cols, After: img}
		line := roundTrip(t, &c)
		absent := bytes.Count(line, []byte(`{"$kind":"absent"}`))
		if want := map[bool]int{false: 0, true: n - 1}[repeat]; absent != want {
			t.Errorf("repeat=%v: %d absent markers, want %d", repeat, absent, want)
		}
	}
}

func TestColumnContext(t *testing.T) {
	tests := []struct {
		name string
		c    Change
		want string // the line from "before" on
	}{
		{"postgres enum", Change{Op: OpUpdate, Columns: []Column{{Name: "m", Type: "mood"}},
			Before: []Value{Enum([]byte("sad"), 1)}, After: []Value{Enum([]byte("happy"), 3)}},
			`"before":{"m":"sad"},"after":{"m":"happy"},"cols":[{"name":"m","type":"mood","kind":"enum","enum":{"happy":3,"sad":1}}]}`},
		{"same enum text, other index", Change{Op: OpUpdate, Columns: []Column{{Name: "m", Type: "mood"}},
			Before: []Value{Enum([]byte("x"), 1)}, After: []Value{Enum([]byte("x"), 2)}},
			`"before":{"m":{"$kind":"enum","u":1,"text":"x"}},"after":{"m":"x"},"cols":[{"name":"m","type":"mood","kind":"enum","enum":{"x":2}}]}`},
		{"mysql enum with members", Change{Op: OpInsert, Columns: []Column{{Name: "m", Type: "enum('a','b')"}},
			After: []Value{Enum([]byte("b"), 2)}},
			`"after":{"m":"b"},"cols":[{"name":"m","type":"enum('a','b')","kind":"enum"}]}`},
		{"zoned infinity", Change{Op: OpUpdate, Columns: []Column{{Name: "t", Type: "timestamptz"}},
			Before: []Value{{Kind: KindTimestamp, I: math.MinInt64, Size: 6, Zoned: true}}, After: []Value{{Kind: KindTimestamp, I: 0, Size: 6, Zoned: true, Off: 7200}}},
			`"before":{"t":"-infinity"},"after":{"t":"1970-01-01 02:00:00.000000+02:00"},"cols":[{"name":"t","type":"timestamptz","kind":"timestamp","size":6,"zoned":true}]}`},
		{"unzoned infinity in a zoned column", Change{Op: OpUpdate, Columns: []Column{{Name: "t"}},
			Before: []Value{TimestampInfinity(true)}, After: []Value{{Kind: KindTimestamp, Zoned: true}}},
			`"before":{"t":{"$kind":"timestamp","v":"infinity"}},"after":{"t":"1970-01-01 00:00:00+00:00"},"cols":[{"name":"t","kind":"timestamp","zoned":true}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := string(roundTrip(t, &tt.c))
			if !strings.HasSuffix(line, tt.want) {
				t.Errorf("got  %s\nwant …%s", line, tt.want)
			}
		})
	}
}
