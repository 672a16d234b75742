package change

import (
	"strings"
	"testing"
)

func TestAppendKeyJSON(t *testing.T) {
	cols := []Column{{Name: "id", Key: true}, {Name: "v"}, {Name: "k2", Key: true}}
	for _, tt := range []struct {
		name string
		c    Change
		want string
	}{
		{"insert", Change{Op: OpInsert, Columns: cols, After: []Value{Int(42, 32), String([]byte("x")), String([]byte("a\"b"))}}, `{"id":42,"k2":"a\"b"}`},
		{"delete uses before", Change{Op: OpDelete, Columns: cols, Before: []Value{Int(7, 32), Null(), String([]byte("z"))}}, `{"id":7,"k2":"z"}`},
		{"update uses after", Change{Op: OpUpdate, Columns: cols, Before: []Value{Int(1, 32), Null(), String([]byte("z"))}, After: []Value{Int(2, 32), Null(), String([]byte("z"))}}, `{"id":2,"k2":"z"}`},
		{"no key columns", Change{Op: OpInsert, Columns: []Column{{Name: "v"}}, After: []Value{Int(1, 8)}}, ``},
		{"begin", Change{Op: OpBegin}, ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendKeyJSON([]byte("prefix:"), &tt.c))
			if got != "prefix:"+tt.want {
				t.Errorf("got %s, want prefix:%s", got, tt.want)
			}
			// The same object as the "key" member of the line.
			if tt.want != "" {
				line := string(AppendJSON(nil, &tt.c))
				if !strings.Contains(line, `"key":`+tt.want) {
					t.Errorf("line %s has no key %s", line, tt.want)
				}
			}
		})
	}
}

func TestAppendPosition(t *testing.T) {
	for _, p := range []Position{
		{},
		{Flavor: FlavorBinlog, File: "bin.000003", Offset: 1234, Index: 2, GTIDSet: "0-1-5"},
		{Flavor: FlavorLSN, Offset: 0x16B3748, Index: 7},
	} {
		if got := string(AppendPosition([]byte("x"), p)); got != "x"+p.String() {
			t.Errorf("AppendPosition(%v) = %q, want x%s", p, got, p.String())
		}
	}
}
