package snapshot

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func TestFilter(t *testing.T) {
	lsn := func(off uint64) change.Position { return change.Position{Flavor: change.FlavorLSN, Offset: off} }
	ns := func(table string) change.Namespace { return change.Namespace{Database: "d", Table: table} }
	key := func(k int64) []change.Value { return []change.Value{change.Int(k, 64)} }
	// Run 2 began at 200 in table b after key 50; run 3 at 300 in table c
	// (a table without a key, read again whole).
	windows := []Window{
		{At: lsn(200), Table: ns("b"), Key: key(50)},
		{At: lsn(300), Table: ns("c")},
	}
	cols := []change.Column{{Name: "v", Type: "text"}, {Name: "id", Type: "bigint", Key: true}}
	row := func(k int64) []change.Value { return []change.Value{change.String([]byte("x")), change.Int(k, 64)} }
	keys := func(change.Namespace) []string { return []string{"id"} }
	f := NewFilter(windows, keys, nil)
	type tc struct {
		name string
		c    change.Change
		drop bool
	}
	ch := func(op change.Op, table string, at uint64, before, after []change.Value) change.Change {
		return change.Change{Op: op, Namespace: ns(table), Columns: cols, Before: before, After: after, Pos: change.Position{Flavor: change.FlavorLSN, Offset: at, Index: 2}}
	}
	tests := []tc{
		{"table before the windows", ch(change.OpInsert, "a", 100, nil, row(99)), false},
		{"key read by run 1", ch(change.OpInsert, "b", 100, nil, row(50)), false},
		{"key read by run 2", ch(change.OpInsert, "b", 100, nil, row(51)), true},
		{"key read by run 2, change after its point", ch(change.OpInsert, "b", 200, nil, row(51)), false},
		{"delete of a key run 2 read", ch(change.OpDelete, "b", 150, row(70), nil), true},
		{"delete of a key run 1 read", ch(change.OpDelete, "b", 150, row(7), nil), false},
		{"update inside run 2's part", ch(change.OpUpdate, "b", 150, row(60), row(61)), true},
		{"update moving a row out of run 2's part", ch(change.OpUpdate, "b", 150, row(60), row(10)), false},
		{"update moving a row into run 2's part", ch(change.OpUpdate, "b", 150, row(10), row(60)), false},
		{"later table, before run 2", ch(change.OpInsert, "c", 150, nil, row(1)), true},
		{"keyless table of run 3, between the points", ch(change.OpInsert, "c", 250, nil, row(1)), true},
		{"table after run 3's", ch(change.OpDelete, "z", 299, row(1), nil), true},
		{"after every point", ch(change.OpDelete, "z", 300, row(1), nil), false},
		{"ddl", change.Change{Op: change.OpDDL, Namespace: ns("z"), SQL: "ALTER", Pos: lsn(120)}, false},
		{"commit", change.Change{Op: change.OpCommit, Pos: lsn(130)}, false},
	}
	for _, tt := range tests {
		out, err := f.Apply(context.Background(), []change.Change{tt.c})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if dropped := len(out) == 0; dropped != tt.drop {
			t.Errorf("%s: dropped %v, want %v", tt.name, dropped, tt.drop)
			continue
		}
		if len(out) == 1 {
			active := change.ComparePlace(placeOf(tt.c.Pos), lsn(300)) < 0
			if got := out[0].Pos.Snapshot; active != (got != "") {
				t.Errorf("%s: position progress %q (before the last point: %v)", tt.name, got, active)
			}
			if active {
				st, err := ParseState(out[0].Pos.Snapshot, change.FlavorLSN)
				if err != nil || len(st.Windows) != 2 || st.Table != (change.Namespace{}) {
					t.Errorf("%s: progress %q: %+v %v", tt.name, out[0].Pos.Snapshot, st, err)
				}
			}
		}
	}
	if NewFilter(nil, keys, nil) != nil {
		t.Error("no windows, yet a filter")
	}
	var nilF *Filter
	if out, err := nilF.Apply(context.Background(), []change.Change{tests[0].c}); err != nil || len(out) != 1 {
		t.Error("a nil Filter must pass everything")
	}
}

func TestFilterAsksTheDatabase(t *testing.T) {
	ns := change.Namespace{Database: "d", Table: "t"}
	cols := []change.Column{{Name: "k", Type: "varchar(10)", Key: true}}
	windows := []Window{{At: change.Position{Flavor: change.FlavorLSN, Offset: 200}, Table: ns, Key: []change.Value{change.String([]byte("m"))}}}
	asked := 0
	// A case-insensitive collation: "B" sorts before "m".
	order := func(_ context.Context, _ change.Namespace, a, b []change.Value) (int, error) {
		asked++
		la, lb := string(a[0].B), string(b[0].B)
		if la == "B" {
			la = "b"
		}
		switch {
		case la < lb:
			return -1, nil
		case la > lb:
			return 1, nil
		}
		return 0, nil
	}
	f := NewFilter(windows, func(change.Namespace) []string { return []string{"k"} }, order)
	c := change.Change{Op: change.OpInsert, Namespace: ns, Columns: cols, After: []change.Value{change.String([]byte("B"))}, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 100}}
	out, err := f.Apply(context.Background(), []change.Change{c})
	if err != nil || len(out) != 1 || asked != 1 {
		t.Errorf("B (before m under the collation) dropped or not asked: %d left, asked %d, %v", len(out), asked, err)
	}
	f = NewFilter(windows, func(change.Namespace) []string { return []string{"k"} }, func(context.Context, change.Namespace, []change.Value, []change.Value) (int, error) {
		return 0, errors.New("gone")
	})
	if _, err := f.Apply(context.Background(), []change.Change{c}); err == nil {
		t.Error("a failing comparison must fail the filter")
	}
}
