package snapshot

import (
	"math"
	"reflect"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func keyValues() [][]change.Value {
	return [][]change.Value{
		{change.Int(-42, 32)},
		{change.Int(math.MinInt64, 64), change.Uint(math.MaxUint64, 64)},
		{change.String([]byte("déjà vu, 1/2 ~ (x) . %41"))},
		{change.String([]byte{}), change.Bytes(nil), change.Bytes([]byte{0, 0xff, '/', ','})},
		{change.Decimal([]byte("-12.50")), change.Float64(math.Copysign(0, -1)), change.Float32(1.5), change.Float64(math.NaN())},
		{change.Date(2024, 2, 29), change.Time(true, 838, 59, 59, 0, 0), change.DateTime(9999, 12, 31, 23, 59, 59, 999999000, 6)},
		{change.Timestamp(1700000000, 123000000, 3), {Kind: change.KindTimestamp, I: 5, Off: -28800, Zoned: true, Size: 6}},
		{change.Enum([]byte("b"), 2), change.Bit(5, 3), change.Year(2155), {Kind: change.KindUUID, B: make([]byte, 16)}},
		{{Kind: change.KindObjectID, B: []byte{0x65, 0xa1, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
		{{Kind: change.KindDocument, Names: []string{"a", "", "k", "x~y(z)"}, Elems: []change.Value{
			change.Int(1, 32), {Kind: change.KindArray, Elems: []change.Value{}}, {Kind: change.KindArray, Elems: []change.Value{change.String([]byte("k")), change.Null()}},
			{Kind: change.KindDocument, Names: []string{}, Elems: []change.Value{}}}}},
		{{Kind: change.KindOther, B: []byte("[1,2)"), Names: []string{"int4range"}}},
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, key := range keyValues() {
		text := string(AppendKey(nil, key))
		back, err := ParseKey(text)
		if err != nil {
			t.Errorf("ParseKey(%q): %v", text, err)
			continue
		}
		if len(back) != len(key) {
			t.Errorf("ParseKey(%q): %d values, want %d", text, len(back), len(key))
			continue
		}
		for i := range key {
			if !change.Equal(back[i], key[i]) || (key[i].B == nil) != (back[i].B == nil) ||
				(key[i].Elems == nil) != (back[i].Elems == nil) || (key[i].Names == nil) != (back[i].Names == nil) {
				t.Errorf("ParseKey(%q)[%d] = %+v, want %+v", text, i, back[i], key[i])
			}
		}
		for _, c := range text {
			if c == ',' || c == '=' || c == ';' || c == '#' || c == ' ' || c > 0x7e {
				t.Errorf("key text %q holds %q, which progress or position text would have to escape", text, c)
			}
		}
	}
	if got := string(AppendKey(nil, []change.Value{change.Int(42, 32)})); got != "int.s32.i42" {
		t.Errorf("AppendKey(Int(42,32)) = %q", got)
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, bad := range []string{"", "nokind", "int.q1", "int.s300", "int.ix", "string.b%4", "string.b%zz", "int/", "document.e(int", "document.e(int~)",
		"document.m(a)", "document.m(na", "int.s32.i1x", "/int"} {
		if k, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) = %v, want an error", bad, k)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, key := range keyValues() {
		f.Add(string(AppendKey(nil, key)))
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseKey(s)
		if err != nil {
			return
		}
		again, err := ParseKey(string(AppendKey(nil, key)))
		if err != nil || len(again) != len(key) {
			t.Fatalf("re-parse of %q: %v", s, err)
		}
		for i := range key {
			if !change.Equal(again[i], key[i]) {
				t.Fatalf("%q: value %d changed: %+v vs %+v", s, i, again[i], key[i])
			}
		}
	})
}

func TestStateText(t *testing.T) {
	states := []State{
		{},
		{Table: change.Namespace{Database: "shop", Table: "orders"}, Key: []change.Value{change.Int(42, 32)}},
		{Table: change.Namespace{Database: "odd.db", Table: "a,b=c~d"}},
		{Table: change.Namespace{Database: "s", Table: "t"}, Key: []change.Value{change.String([]byte("x")), change.Int(1, 64)}, Runs: 3},
		{Incremental: "req 7", Table: change.Namespace{Database: "public", Table: "orders"}, Key: []change.Value{change.Int(1, 32)},
			Queue: []change.Namespace{{Database: "public", Table: "items"}, {Database: "x.y", Table: "z"}}},
	}
	for _, s := range states {
		text := s.String()
		back, err := ParseState(text)
		if err != nil {
			t.Errorf("ParseState(%q): %v", text, err)
			continue
		}
		if again := back.String(); again != text {
			t.Errorf("state %q reads back as %q", text, again)
		}
		if back.IsZero() != (text == "") {
			t.Errorf("state %q: IsZero %v", text, back.IsZero())
		}
		p := change.Position{Flavor: change.FlavorBinlog, File: "b.000001", Offset: 4, Row: 9, Snapshot: text}
		if pp, err := change.ParsePosition(p.String()); err != nil || pp != p {
			t.Errorf("position with progress %q does not round-trip: %v", text, err)
		}
	}
	if got := states[1].String(); got != "t=shop.orders,k=int.s32.i42" {
		t.Errorf("progress text %q", got)
	}
	for _, bad := range []string{"t", "t=nodot", "t=a.b,t=a.c", "k=int.i1", "x=1", "r=-1", "r=x", "t=a.b,k=", "q=a", "inc=%zz"} {
		if s, err := ParseState(bad); err == nil {
			t.Errorf("ParseState(%q) = %+v, want an error", bad, s)
		}
	}
}

// TestAppendKeyInt: the fast path for an int key writes what the general
// one does, and reads back.
func TestAppendKeyInt(t *testing.T) {
	for _, tt := range []struct {
		v    change.Value
		want string
	}{
		{change.Int(5, 32), "int.s32.i5"},
		{change.Int(2147483647, 32), "int.s32.i2147483647"},
		{change.Int(-5, 32), "int.s32.i-5"},
		{change.Int(0, 32), "int.s32"},
		{change.Int(7, 64), "int.s64.i7"},
	} {
		got := string(AppendKey(nil, []change.Value{tt.v}))
		if got != tt.want {
			t.Errorf("%v: %q, want %q", tt.v, got, tt.want)
		}
		back, err := ParseKey(got)
		if err != nil || len(back) != 1 || !reflect.DeepEqual(back[0], tt.v) {
			t.Errorf("%q read back as %v, %v", got, back, err)
		}
	}
}
