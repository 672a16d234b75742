package mysql

import (
	"net/netip"
	"reflect"
	"testing"
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
