package canal

import (
	"bytes"
	"slices"
	"strconv"
	"testing"
	"time"

	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/change"
)

// TestReadIsInsert: a snapshot's row becomes the entry of an insert of the
// same row (Canal has no snapshot event).
func TestReadIsInsert(t *testing.T) {
	cols := []change.Column{{Name: "id", Type: "int(11)", Key: true}, {Name: "name", Type: "varchar(64)", Nullable: true}}
	read := change.Change{Op: change.OpRead, Source: "mariadb", Namespace: change.Namespace{Database: "b", Table: "t"},
		Columns: cols, After: []change.Value{change.Int(7, 32), change.String([]byte("seven"))}, Snapshot: change.SnapshotFirst,
		Pos:      change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000001", Offset: 329, Row: 1, Snapshot: "t=b.t,k=7"},
		ReadTime: time.Unix(1700000000, 0)}
	ins := read
	ins.Op = change.OpInsert
	enc := newEntryEncoder(time.UTC)
	reads := []change.Change{read}
	got, n, ok := enc.appendEntry(nil, reads)
	want, _, _ := enc.appendEntry(nil, []change.Change{ins})
	if !ok || n != 1 || !bytes.Equal(got, want) {
		t.Errorf("read entry differs from the insert entry:\n%x\n%x", got, want)
	}
	if reads[0].Op != change.OpRead {
		t.Error("appendEntry changed the caller's change")
	}
}

// TestRowsShareEntries: consecutive row changes of one table, event type
// and transaction share an entry (rowsCount, a position per row, the
// header's the last row's) up to entryBytes; anything else starts a new one.
func TestRowsShareEntries(t *testing.T) {
	cols := []change.Column{{Name: "id", Type: "int(11)", Key: true}, {Name: "name", Type: "varchar(64)"}}
	row := func(op change.Op, table string, tx string, id int, width int) change.Change {
		c := change.Change{Op: op, Source: "mariadb", Namespace: change.Namespace{Database: "b", Table: table}, Columns: cols,
			Tx: change.Tx{ID: tx}, CommitTime: time.Unix(1700000000, 0),
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000001", Offset: 329, Index: uint64(id)}}
		img := []change.Value{change.Int(int64(id), 32), change.String(bytes.Repeat([]byte("x"), width))}
		switch op {
		case change.OpDelete:
			c.Before = img
		case change.OpUpdate:
			c.Before, c.After = img, img
		default:
			c.After = img
		}
		return c
	}
	ins := func(table string, id int) change.Change { return row(change.OpInsert, table, "0-1-7", id, 8) }
	for _, tc := range []struct {
		name string
		cs   []change.Change
		want []int // rows of each entry
	}{
		{"one table", []change.Change{ins("t", 1), ins("t", 2), ins("t", 3)}, []int{3}},
		{"two tables", []change.Change{ins("t", 1), ins("t", 2), ins("u", 3), ins("t", 4)}, []int{2, 1, 1}},
		{"event types", []change.Change{ins("t", 1), row(change.OpUpdate, "t", "0-1-7", 2, 8), row(change.OpUpdate, "t", "0-1-7", 3, 8),
			row(change.OpDelete, "t", "0-1-7", 4, 8)}, []int{1, 2, 1}},
		{"transactions", []change.Change{ins("t", 1), row(change.OpInsert, "t", "0-1-8", 2, 8)}, []int{1, 1}},
		{"snapshot reads", []change.Change{row(change.OpRead, "t", "", 1, 8), row(change.OpRead, "t", "", 2, 8), ins("t", 3)}, []int{2, 1}},
		{"size", slices.Collect(func(yield func(change.Change) bool) {
			for i := range 12 {
				if !yield(row(change.OpInsert, "t", "0-1-7", i+1, 6000)) {
					return
				}
			}
		}), []int{6, 6}},
		{"begin and end", []change.Change{{Op: change.OpBegin, Tx: change.Tx{ID: "0-1-7"}, Pos: change.Position{Flavor: change.FlavorBinlog, Offset: 1}},
			ins("t", 2), ins("t", 3), {Op: change.OpCommit, Tx: change.Tx{ID: "0-1-7"}, Pos: change.Position{Flavor: change.FlavorBinlog, Offset: 9}}}, []int{1, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := newEntryEncoder(time.UTC)
			var got []int
			for cs := tc.cs; len(cs) > 0; {
				b, n, ok := enc.appendEntry(nil, cs)
				if !ok {
					t.Fatalf("no entry for %v", cs[0].Op)
				}
				var e pbe.Entry
				if err := proto.Unmarshal(b, &e); err != nil {
					t.Fatal(err)
				}
				props := map[string]string{}
				for _, p := range e.GetHeader().GetProps() {
					props[p.GetKey()] = p.GetValue()
				}
				if props["position"] != cs[n-1].Pos.String() {
					t.Errorf("entry position %q, want the last change's %s", props["position"], cs[n-1].Pos)
				}
				if e.GetEntryType() == pbe.EntryType_ROWDATA {
					var rc pbe.RowChange
					if err := proto.Unmarshal(e.GetStoreValue(), &rc); err != nil {
						t.Fatal(err)
					}
					if len(rc.GetRowDatas()) != n || props["rowsCount"] != strconv.Itoa(n) || int(e.GetHeader().GetEventLength()) != len(e.GetStoreValue()) {
						t.Errorf("entry of %d changes: %d rows, rowsCount %q", n, len(rc.GetRowDatas()), props["rowsCount"])
					}
					for i, rd := range rc.GetRowDatas() {
						if len(rd.GetProps()) != 1 || rd.GetProps()[0].GetKey() != "position" || rd.GetProps()[0].GetValue() != cs[i].Pos.String() {
							t.Errorf("row %d props %v, want position %s", i, rd.GetProps(), cs[i].Pos)
						}
					}
				}
				got = append(got, n)
				cs = cs[n:]
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("entries of %v changes, want %v", got, tc.want)
			}
		})
	}
}
