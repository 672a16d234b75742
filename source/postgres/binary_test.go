package postgres

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// TestBinaryMode streams with binary=true: every type whose binary form
// Sluice decodes arrives exactly as in text mode (the typeCases values,
// plus numerics, dates and timestamps around the binary encodings' edges);
// then a row with a value binary cannot reproduce (interval, kept as the
// server's text) makes the source continue in text mode from its last
// position, with nothing lost or delivered twice.
func TestBinaryMode(t *testing.T) {
	exec(t,
		`CREATE TYPE bmood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN bposint AS integer CHECK (VALUE > 0)`,
	)
	var cases []struct {
		typ, lit string
		want     change.Value
	}
	for _, c := range typeCases() {
		if c.want.Kind == change.KindOther || c.want.Kind == change.KindAbsent {
			continue // kept as the server's text: not in binary mode
		}
		c.typ = strings.NewReplacer("mood", "bmood", "posint", "bposint").Replace(c.typ)
		cases = append(cases, c)
	}
	pre2000 := time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	for _, c := range []struct {
		typ, lit string
		want     change.Value
	}{
		{"numeric", "0", change.Decimal([]byte("0"))},
		{"numeric", "'0.0001'", change.Decimal([]byte("0.0001"))},
		{"numeric", "10000", change.Decimal([]byte("10000"))},
		{"numeric", "'-0.5'", change.Decimal([]byte("-0.5"))},
		{"numeric", "'1e20'", change.Decimal([]byte("100000000000000000000"))},
		{"numeric", "'12345.678900'", change.Decimal([]byte("12345.678900"))},
		{"numeric(20,8)", "'-99999.00000001'", change.Decimal([]byte("-99999.00000001"))},
		{"numeric", "'0.000000000000000000001'", change.Decimal([]byte("0.000000000000000000001"))},
		{"real", "'NaN'", change.Float32(float32(math.NaN()))},
		{"double precision", "'-0'", change.Float64(math.Copysign(0, -1))},
		{"date", "'1999-12-31'", change.Date(1999, 12, 31)},
		{"date", "'0001-01-01'", change.Date(1, 1, 1)},
		{"timestamp", "'1999-12-31 23:59:59.5'", change.DateTime(1999, 12, 31, 23, 59, 59, 500000000, 6)},
		{"timestamp", "'1970-01-01 00:00:00.000001'", change.DateTime(1970, 1, 1, 0, 0, 0, 1000, 6)},
		{"timestamptz", "'1999-12-31 23:59:59.25+00'", withOff(change.Timestamp(pre2000, 250000000, 6), 0)},
		{"time", "'00:00:00'", change.Time(false, 0, 0, 0, 0, 6)},
		{"timetz", "'23:59:59.999999+14'", withOff(change.Time(false, 23, 59, 59, 999999000, 6), 50400)},
		{"bit(64)", "B'" + strings.Repeat("1", 64) + "'", change.Bit(math.MaxUint64, 64)},
		{"varbit", "B''", change.Bit(0, 0)},
		{`"char"`, "'é'::\"char\"", str(`\303`)},
		{"text[]", "'{}'", arr()},
		{"bigint[]", "'{{{1}},{{2}}}'", arr(arr(arr(change.Int(1, 64))), arr(arr(change.Int(2, 64))))},
		{"uuid[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}'", arr(change.Value{Kind: change.KindUUID, B: []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}}, change.Null())},
		{"timestamptz[]", "'{\"2024-01-02 01:04:05+00\"}'", arr(withOff(change.Timestamp(time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC).Unix(), 0, 6), 0))},
		// Before the common era: the server's text, written from the binary form.
		{"date", "'0044-03-15 BC'", oth("date", "0044-03-15 BC")},
		{"timestamp", "'0044-03-15 12:00:00.25 BC'", oth("timestamp without time zone", "0044-03-15 12:00:00.25 BC")},
		{"timestamp(0)", "'4713-11-24 23:59:59 BC'", oth("timestamp without time zone", "4713-11-24 23:59:59 BC")},
	} {
		cases = append(cases, c)
	}
	var cols, lits []string
	for i, c := range cases {
		cols = append(cols, fmt.Sprintf("c%d %s", i, c.typ))
		lits = append(lits, c.lit)
	}
	exec(t,
		fmt.Sprintf(`CREATE TABLE bin_ok (id int PRIMARY KEY, %s)`, strings.Join(cols, ", ")),
		`CREATE TABLE bin_other (id int PRIMARY KEY, iv interval, n numeric)`,
	)
	dropSlot(t, "bin")
	r := start(t, "slot=bin&publication=bin&create-publication=bin_ok,bin_other&binary=true", change.Position{})
	exec(t, fmt.Sprintf(`INSERT INTO bin_ok VALUES (1, %s)`, strings.Join(lits, ", ")))
	got := r.col.waitCommits(t, 1, r)
	if st := r.src.Stats(); !st.Binary {
		t.Fatalf("binary mode not in use: %+v", st)
	}
	ins := rows(got, "bin_ok")
	if len(ins) != 1 {
		t.Fatalf("%d bin_ok changes, want 1", len(ins))
	}
	for i, c := range cases {
		name := fmt.Sprintf("c%d", i)
		v := col(t, ins[0], ins[0].After, name)
		if !change.Equal(v, c.want) {
			t.Errorf("%s %s %s: got %+v (%q), want %+v", name, c.typ, c.lit, v, v.B, c.want)
		}
	}

	// An interval has no binary decoding: the source goes on in text mode.
	exec(t,
		`INSERT INTO bin_other VALUES (1, '1 day 02:00:00', 1.5)`,
		`INSERT INTO bin_ok (id) VALUES (2)`,
	)
	got = r.col.waitCommits(t, 3, r)
	if st := r.src.Stats(); st.Binary || st.Reconnects != 1 {
		t.Errorf("after the interval: Binary %v, %d reconnects; want text mode after one restart", st.Binary, st.Reconnects)
	}
	other := rows(got, "bin_other")
	if len(other) != 1 || !change.Equal(col(t, other[0], other[0].After, "iv"), oth("interval", "1 day 02:00:00")) {
		t.Fatalf("bin_other: %+v", other)
	}
	if ok := rows(got, "bin_ok"); len(ok) != 2 {
		t.Errorf("bin_ok: %d changes, want 2 (nothing twice)", len(ok))
	}
	for i := 1; i < len(got); i++ {
		if change.Compare(got[i-1].Pos, got[i].Pos) >= 0 {
			t.Errorf("position %s after %s", got[i].Pos, got[i-1].Pos)
		}
	}
}

// FuzzDecodeBinary feeds arbitrary bytes to the binary decoder of every
// built-in type (and an array of arrays): it must return a value or an
// error, never panic or read out of bounds.
func FuzzDecodeBinary(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 0, 0, 0, 3, 0, 1, 0x13, 0x88})                                                                // numeric 1.5000
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 7, 255, 255, 255, 255}) // int4[] {7,NULL}
	f.Add([]byte{0, 0, 0, 9, 0xff, 0x80})                                                                                  // bit(9)
	f.Add([]byte{1, '{', '}'})                                                                                             // jsonb
	f.Add([]byte{0x80, 0, 0, 1})                                                                                           // the earliest date: BC text
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 1})                                                                               // the earliest timestamp: BC text
	types := builtinTypes()
	nested := &pgType{OID: 1, Name: "int[][]", Class: classArray, Elem: types[1007], Delim: ','}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range types {
			_, _ = decodeBinary(typ, -1, data)
			checkDecodeFast(t, typ, data)
		}
		_, _ = decodeBinary(nested, -1, data)
	})
}

// checkDecodeFast checks that decodeFast, where it decodes data of typ in
// either format, gives what decodeBinary or decodeText gives.
func checkDecodeFast(t *testing.T, typ *pgType, data []byte) {
	for _, format := range []int16{0, 1} {
		var got change.Value
		if !decodeFast(typ, format, data, &got) {
			continue
		}
		want, err := decodeText(typ, -1, data)
		if format == 1 {
			want, err = decodeBinary(typ, -1, data)
		}
		if err != nil || !change.Equal(got, want) || got.Size != want.Size {
			t.Errorf("%s (format %d) % x: decodeFast %+v; the general decoder %+v, %v", typ.Name, format, data, got, want, err)
		}
	}
}

// TestDecodeFast runs checkDecodeFast on every built-in type with values
// of the lengths its fast paths take and others.
func TestDecodeFast(t *testing.T) {
	n := 0
	for _, typ := range builtinTypes() {
		for _, data := range [][]byte{{}, {0x80}, {0xff, 0xfe}, {0, 0, 0, 7}, {0x80, 0, 0, 0}, {1, 2, 3, 4, 5, 6, 7, 8}, []byte("hello"), {0xff}} {
			checkDecodeFast(t, typ, data)
			var v change.Value
			if decodeFast(typ, 1, data, &v) || decodeFast(typ, 0, data, &v) {
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("decodeFast took nothing")
	}
}

// TestDecodeBinaryBadInput: damaged binary values give an error naming the
// type and what is wrong, never a value.
func TestDecodeBinaryBadInput(t *testing.T) {
	types := builtinTypes()
	tests := []struct {
		oid  uint32
		data []byte
		want string
	}{
		{23, []byte{0, 0, 1}, "binary: want 4 bytes"},
		{1700, []byte{0, 2, 0, 0, 0, 0, 0, 1, 0, 1}, "binary: numeric digits truncated"},
		{1700, []byte{0, 0, 0, 0, 0x12, 0x34, 0, 0}, "numeric sign 0x1234"},
		{3802, []byte{2, '{', '}'}, "binary: unknown jsonb version"},
		{1560, []byte{0, 0, 0, 9, 0xff}, "binary: bit length does not match the bytes"},
		{1083, []byte{0x7f, 0, 0, 0, 0, 0, 0, 0}, "time out of range"},
		{1007, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0x7f, 0, 0, 0, 0, 0, 0, 1}, "more elements than bytes"},
		{1007, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1}, "element truncated"},
	}
	for _, tt := range tests {
		v, err := decodeBinary(types[tt.oid], -1, tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), types[tt.oid].Name+" value") {
			t.Errorf("%s % x: got %+v, %v; want an error containing %q", types[tt.oid].Name, tt.data, v, err, tt.want)
		}
	}
}
