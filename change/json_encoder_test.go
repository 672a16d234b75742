package change

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// encoderCases is a sequence of changes that exercises the Encoder's cache:
// every golden change and value case, changes of one table whose value
// kinds change from one change to the next, and wide rows.
func encoderCases() []Change {
	var cs []Change
	cs = append(cs, goldenChanges()...)
	for _, tc := range valueCases() {
		cols := []Column{{Name: "c", Type: tc.typ, Key: true}}
		cs = append(cs,
			Change{Op: OpUpdate, Columns: cols, Before: []Value{tc.v}, After: []Value{{Kind: KindArray, Elems: []Value{tc.v}}}},
			Change{Op: OpInsert, Columns: cols, After: []Value{tc.v}},
			Change{Op: OpInsert, Columns: cols, After: []Value{Null()}},
			Change{Op: OpInsert, Columns: cols, After: []Value{tc.v}},
		)
	}
	bench, wide := benchChange(), wideChange()
	cs = append(cs, *bench, *wide, *bench)
	// Same Columns, values that change kind, absent and NULL columns.
	c := *bench
	c.After = append([]Value(nil), c.After...)
	c.After[4], c.After[6], c.After[9] = Absent(), String([]byte("note")), Null()
	cs = append(cs, c)
	c.Before = nil
	c.After = append([]Value(nil), c.After...)
	c.After[3] = Int(5, 64)
	cs = append(cs, c, *bench)
	// Images longer than Columns, and repeated keys.
	d := *bench
	d.Columns = d.Columns[:4]
	cs = append(cs, d, *bench)
	e := *bench
	e.Columns = append([]Column(nil), e.Columns...)
	e.Columns[1].Name, e.Columns[2].Name = "@3", ""
	e.After = append([]Value(nil), e.After...)
	e.After[1] = Absent()
	cs = append(cs, e, e, *bench)
	// Positions that share their part before the row and snapshot texts,
	// and ones that do not; read times that are one instant in two zones,
	// and ones that are not.
	read := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.UTC)
	for i, p := range []Position{
		{Flavor: FlavorLSN, Offset: 0x1694570, Row: 1, Snapshot: "t=public.t,k=1"},
		{Flavor: FlavorLSN, Offset: 0x1694570, Row: 2, Snapshot: `t=public.t,k="a;b\"c"`},
		{Flavor: FlavorLSN, Offset: 0x1694570, Row: 3},
		{Flavor: FlavorLSN, Offset: 0x1694571, Row: 3, Snapshot: "t=public.t,k=3"},
		{Flavor: FlavorBinlog, File: "mariadb-bin.000001", Offset: 330, GTIDSet: "0-1-5", Row: 4, Snapshot: "t=b.t,k=4"},
		{Flavor: FlavorBinlog, File: "mariadb-bin.000001", Offset: 330, GTIDSet: "0-1-6", Row: 5, Snapshot: "t=b.t,k=5"},
		{Flavor: FlavorBinlog, File: "mariadb-bin.000001", Offset: 330, Index: 2},
		{Row: 7, Snapshot: "t=x.y"},
		{Row: 8},
		{Flavor: FlavorMongo, Offset: 1 << 32, Token: `{"_data":"8263"}`, Row: 9, Snapshot: "t=db.c,k=9"},
	} {
		r := *bench
		r.Op, r.Before, r.Pos = OpRead, nil, p
		r.ReadTime = read
		switch i % 3 {
		case 1:
			r.ReadTime = read.In(time.FixedZone("x", 3600))
		case 2:
			read = read.Add(time.Microsecond)
			r.ReadTime = read
		}
		cs = append(cs, r)
	}
	return cs
}

func TestEncoderMatchesAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		cs   []Change
	}{
		{"in order", encoderCases()},
		{"each twice", func() []Change {
			var out []Change
			for _, c := range encoderCases() {
				out = append(out, c, c)
			}
			return out
		}()},
		{"reversed", func() []Change {
			cs := encoderCases()
			for i, j := 0, len(cs)-1; i < j; i, j = i+1, j-1 {
				cs[i], cs[j] = cs[j], cs[i]
			}
			return cs
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Encoder
			var buf []byte
			for i := range tt.cs {
				want := AppendJSON(nil, &tt.cs[i])
				buf = e.Append(buf[:0], &tt.cs[i])
				if !bytes.Equal(buf, want) {
					t.Fatalf("change %d: Encoder.Append wrote\n%s\nAppendJSON wrote\n%s", i, buf, want)
				}
			}
		})
	}
}

func TestEncoderColumnsChangedInPlace(t *testing.T) {
	c := benchChange()
	c.Columns = append([]Column(nil), c.Columns...)
	var e Encoder
	buf := e.Append(nil, c)
	for i, edit := range []func(*Column){
		func(col *Column) { col.Name = "renamed" },
		func(col *Column) { col.Type = "enum('paid','new')" },
		func(col *Column) { col.Nullable = !col.Nullable },
		func(col *Column) { col.Key = !col.Key },
		func(col *Column) { col.Name = "" },
	} {
		edit(&c.Columns[2])
		want := AppendJSON(nil, c)
		if buf = e.Append(buf[:0], c); !bytes.Equal(buf, want) {
			t.Fatalf("edit %d: Encoder.Append wrote\n%s\nAppendJSON wrote\n%s", i, buf, want)
		}
	}
}

func TestEncoderAllocs(t *testing.T) {
	for _, c := range []*Change{benchChange(), wideChange()} {
		var e Encoder
		buf := e.Append(nil, c)
		if n := testing.AllocsPerRun(100, func() { buf = e.Append(buf[:0], c) }); n != 0 {
			t.Errorf("Encoder.Append allocates %v times per call with a big enough buffer", n)
		}
	}
}

// FuzzEncoder checks that an Encoder, reused across changes, writes what
// AppendJSON writes for whatever DecodeJSON accepts, and for the same
// change with its images swapped (same columns, other values).
func FuzzEncoder(f *testing.F) {
	for _, c := range encoderCases() {
		f.Add(AppendJSON(nil, &c))
	}
	var e Encoder
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := DecodeJSON(line)
		if err != nil {
			return
		}
		swapped := c
		swapped.Before, swapped.After = c.After, c.Before
		for _, x := range []*Change{&c, &swapped, &c} {
			want := AppendJSON(nil, x)
			if got := e.Append(nil, x); !bytes.Equal(got, want) {
				t.Fatalf("Encoder.Append wrote\n%s\nAppendJSON wrote\n%s", got, want)
			}
		}
	})
}

// BenchmarkEncoderJSON encodes the change of BenchmarkEncodeJSON with an
// Encoder that has seen its columns.
func BenchmarkEncoderJSON(b *testing.B) { benchEncoder(b, benchChange()) }

// BenchmarkEncoderJSONWide encodes the wide row with an Encoder.
func BenchmarkEncoderJSONWide(b *testing.B) { benchEncoder(b, wideChange()) }

func benchEncoder(b *testing.B, c *Change) {
	var e Encoder
	benchAppend(b, c, e.Append)
}

// TestPlainPrefix puts every byte value at every position of plain text
// and checks plainPrefix against the jsonPlain table, byte by byte.
func TestPlainPrefix(t *testing.T) {
	naive := func(s []byte) int {
		for i, c := range s {
			if jsonPlain[c] == 0 {
				return i
			}
		}
		return len(s)
	}
	for n := 0; n <= 19; n++ {
		for pos := 0; pos < max(n, 1); pos++ {
			for c := 0; c < 256; c++ {
				s := bytes.Repeat([]byte("a~ }"), 5)[:n]
				if pos < n {
					s[pos] = byte(c)
				}
				if got, want := plainPrefix(s), naive(s); got != want {
					t.Fatalf("plainPrefix(%q) = %d, want %d", s, got, want)
				}
				if got, want := plainPrefix(string(s)), naive(s); got != want {
					t.Fatalf("plainPrefix(string %q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}

// TestUnixDateClock checks the encoder's own calendar arithmetic against
// package time over years 1 to 9999, including the edges and leap days.
func TestUnixDateClock(t *testing.T) {
	secs := []int64{minTextUnix, minTextUnix + 1, -1, 0, 1, 86399, 86400, 951782400, 951868799,
		4107542400, 1714979289, maxTextUnix - 1, maxTextUnix}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		secs = append(secs, minTextUnix+rng.Int64N(maxTextUnix-minTextUnix+1))
	}
	for d := int64(-800000); d < 800000; d += 37 {
		secs = append(secs, d*86400+d%86400)
	}
	for _, s := range secs {
		if s < minTextUnix || s > maxTextUnix {
			continue
		}
		want := time.Unix(s, 0).UTC().Format("2006-01-02T15:04:05")
		if got := string(appendUnixDateClock(nil, s, 'T')); got != want {
			t.Fatalf("appendUnixDateClock(%d) = %s, want %s", s, got, want)
		}
	}
}

// TestAppendFrac checks the digit-pair fraction against zero-padded
// division for every size.
func TestAppendFrac(t *testing.T) {
	for _, nanos := range []uint64{0, 1, 9, 10, 123456789, 999999999, 500000000, 1e9, 12345678901} {
		for size := uint8(0); size <= 10; size++ {
			want := ""
			if size > 0 {
				sz := min(size, 9)
				want = "." + fmt.Sprintf("%0*d", sz, nanos/pow10[9-sz])
			}
			if got := string(appendFrac(nil, nanos, size)); got != want {
				t.Errorf("appendFrac(%d, %d) = %q, want %q", nanos, size, got, want)
			}
		}
	}
}

// TestEncoderAppendKeyed: AppendKeyed writes what Append writes, and the
// span it reports is the line's "key" member.
func TestEncoderAppendKeyed(t *testing.T) {
	var e, plain Encoder
	prefix := []byte("prefix:")
	for i, c := range encoderCases() {
		out, start, end := e.AppendKeyed(append([]byte(nil), prefix...), &c)
		want := plain.Append(append([]byte(nil), prefix...), &c)
		if !bytes.Equal(out, want) {
			t.Fatalf("case %d: AppendKeyed wrote\n%s\nAppend\n%s", i, out, want)
		}
		line := out[len(prefix):]
		idx := bytes.Index(line, []byte(`,"key":{`))
		switch {
		case idx < 0 && start != end:
			t.Fatalf("case %d: no key member but span %d:%d in %s", i, start, end, out)
		case idx < 0:
			continue
		case start != len(prefix)+idx+len(`,"key":`):
			t.Fatalf("case %d: key starts at %d, want %d: %s", i, start, len(prefix)+idx+len(`,"key":`), out)
		}
		key := out[start:end]
		if key[0] != '{' || key[len(key)-1] != '}' || !bytes.HasPrefix(out[end:], []byte(",")) && !bytes.HasPrefix(out[end:], []byte("}")) {
			t.Fatalf("case %d: key span %q is not the member's object", i, key)
		}
		if !json.Valid(key) {
			t.Fatalf("case %d: key span %q is not JSON", i, key)
		}
	}
}

// snapshotRowChange is a row of an initial snapshot of a narrow table (the
// table t of bench/cmd/snapbench): int key, bigint, decimal, varchar,
// datetime(6) and a 60-byte text, at a position carrying the row number
// and the snapshot's progress.
func snapshotRowChange() *Change {
	cols := []Column{
		{Name: "id", Type: "int", Key: true},
		{Name: "n", Type: "bigint"},
		{Name: "price", Type: "decimal(12,2)"},
		{Name: "name", Type: "varchar(40)"},
		{Name: "at", Type: "datetime(6)"},
		{Name: "body", Type: "text"},
	}
	return &Change{
		Op: OpRead, Source: "mariadb", Namespace: Namespace{Database: "bench", Table: "t"}, Columns: cols,
		After: []Value{Int(1234567, 32), Int(9876543210, 64), Decimal([]byte("1234.56")), String([]byte("name-1234567")),
			DateTime(2024, 5, 6, 7, 8, 9, 123456000, 6), String([]byte("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))},
		Pos: Position{Flavor: FlavorBinlog, File: "mariadb-bin.000001", Offset: 330, GTIDSet: "0-1-12",
			Row: 1234567, Snapshot: "t=bench.t,k=1234567"},
		Snapshot:   SnapshotOn,
		CommitTime: time.Date(2024, 5, 6, 7, 8, 20, 0, time.UTC),
	}
}

// BenchmarkEncoderJSONSnapshotRow encodes a snapshot's row of a narrow
// table with an Encoder.
func BenchmarkEncoderJSONSnapshotRow(b *testing.B) { benchEncoder(b, snapshotRowChange()) }

// TestEncoderContextsPerRow encodes rows of the same Columns whose values
// change kind, Size and zone from row to row (NULL, absent, unchanged,
// ENUM and SET texts of the type or not, values of another Size), in
// before and after images, with the value bytes overwritten in place
// between rows: an Encoder reuses a column's context only while it holds,
// so it writes what AppendJSON writes for every row.
func TestEncoderContextsPerRow(t *testing.T) {
	cols := []Column{
		{Name: "id", Type: "int", Key: true},
		{Name: "e", Type: "enum('new','paid')"},
		{Name: "s", Type: "set('a','b','c')"},
		{Name: "ts", Type: "timestamp(3)"},
		{Name: "d", Type: "decimal(5,1)"},
		{Name: "v", Type: "varchar(9)", Nullable: true},
	}
	text := make([]byte, 4)
	choices := [][]func() Value{
		{func() Value { return Int(7, 32) }, func() Value { return Int(8, 64) }, func() Value { return Uint(9, 32) }},
		{func() Value { copy(text, "paid"); return Enum(text[:4], 2) }, func() Value { copy(text, "new"); return Enum(text[:3], 1) },
			func() Value { copy(text, "odd"); return Enum(text[:3], 5) }, Null, Unchanged},
		{func() Value { return Set([]byte("a,c"), 5) }, func() Value { return Set([]byte("b"), 2) }, func() Value { return Set([]byte("x"), 1) }, Absent},
		{func() Value { return Timestamp(1714979289, 500000000, 3) }, func() Value { v := Timestamp(1714979289, 0, 3); v.Zoned, v.Off = true, 3600; return v },
			func() Value { return Timestamp(1714979289, 123456000, 6) }, Null},
		{func() Value { return Decimal([]byte("12.5")) }, func() Value { return String([]byte("12.5")) }, func() Value { return Decimal([]byte("\xff")) }},
		{func() Value { return String([]byte("héllo")) }, func() Value { return Bytes([]byte{0, 0xff}) }, func() Value { return String([]byte("\xff\xfe")) },
			Null, Absent, Unchanged},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var bufs [2][6][]byte
	for k := range bufs {
		for i := range bufs[k] {
			bufs[k][i] = make([]byte, 0, 16)
		}
	}
	var e Encoder
	var buf []byte
	for row := range 3000 {
		c := Change{Op: OpUpdate, Namespace: Namespace{Database: "d", Table: "t"}, Columns: cols,
			Pos: Position{Flavor: FlavorLSN, Offset: uint64(row + 1)}}
		image := func(k int) []Value {
			vs := make([]Value, len(cols))
			for i := range vs {
				vs[i] = choices[i][rng.IntN(len(choices[i]))]()
				if vs[i].B != nil {
					// The image's bytes live in buffers every row
					// overwrites, as a source's reused buffers do.
					vs[i].B = append(bufs[k][i][:0], vs[i].B...)
				}
			}
			return vs
		}
		switch rng.IntN(3) {
		case 0:
			c.Op, c.After = OpInsert, image(1)
		case 1:
			c.Op, c.Before = OpDelete, image(0)
		default:
			c.Before, c.After = image(0), image(1)
		}
		want := AppendJSON(nil, &c)
		if buf = e.Append(buf[:0], &c); !bytes.Equal(buf, want) {
			t.Fatalf("row %d: Encoder.Append wrote\n%s\nAppendJSON wrote\n%s", row, buf, want)
		}
	}
}
