package mysql

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func TestEnumMembers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"('a','b','c')", []string{"a", "b", "c"}},
		{"('it''s','x,y','')", []string{"it's", "x,y", ""}},
		{"('ç', 'back\\\\slash')", []string{"ç", "back\\slash"}},
		{"", nil},
	} {
		var got []string
		for _, m := range enumMembers(tc.in) {
			got = append(got, string(m))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("enumMembers(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAppendInet6(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"::", "::"},
		{"::1", "::1"},
		{"::ffff:10.1.2.3", "::ffff:10.1.2.3"},
		{"::10.1.2.3", "::10.1.2.3"},
		{"2001:db8::ff00:42:8329", "2001:db8::ff00:42:8329"},
		{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
		{"fe80::1:2", "fe80::1:2"},
	} {
		a := netip.MustParseAddr(tc.in).As16()
		if got := string(appendInet6(nil, a)); got != tc.want {
			t.Errorf("appendInet6(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestColFixNoAllocs checks that the fixes write into the row byte store
// and allocate nothing per value.
func TestColFixNoAllocs(t *testing.T) {
	def := &tableDef{Columns: []colDef{{Name: "s", Type: "set('x','y','z')"}, {Name: "i", Type: "inet6"}, {Name: "u", Type: "uuid"}, {Name: "f", Type: "inet4"}}}
	fixes := columnFixes(def, 4, false)
	if len(fixes) != 4 {
		t.Fatalf("fixes: %+v", fixes)
	}
	var buf rowBuffers
	addr := netip.MustParseAddr("2001:db8::1").As16()
	want := []string{"x,z", "2001:db8::1", "00112233-4455-6677-8899-aabbccddeeff", "10.1.2.3"}
	row := func() []change.Value {
		return []change.Value{change.Set(nil, 5), change.Bytes(addr[:]),
			change.Bytes([]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}), change.Bytes([]byte{10, 1, 2, 3})}
	}
	vals := row()
	for i := range fixes {
		fixes[i].apply(&vals[fixes[i].col], &buf)
	}
	for i, v := range vals {
		if g := string(change.AppendText(nil, v)); g != want[i] {
			t.Errorf("column %d: %q, want %q", i, g, want[i])
		}
	}
	buf.bytes = make([]byte, 0, 1<<20)
	allocs := testing.AllocsPerRun(100, func() {
		vals := [4]change.Value{change.Set(nil, 5), change.Bytes(addr[:]), change.Bytes(addr[:]), change.Bytes(addr[:4])}
		for i := range fixes {
			fixes[i].apply(&vals[fixes[i].col], &buf)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per row", allocs)
	}
}
