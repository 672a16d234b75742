package postgres

import (
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

// TestBasicInsertUpdateDelete checks transaction framing, positions and
// the three row operations on a table with a primary key.
func TestBasicInsertUpdateDelete(t *testing.T) {
	exec(t, `CREATE TABLE basic (id int PRIMARY KEY, name text NOT NULL, n bigint)`)
	dropSlot(t, "basic")
	r := start(t, "slot=basic&publication=basic&create-publication=basic", change.Position{})
	exec(t,
		`INSERT INTO basic VALUES (1, 'one', 10), (2, 'two', NULL)`,
		`UPDATE basic SET n = 11 WHERE id = 1`,
		`DELETE FROM basic WHERE id = 2`,
	)
	got := r.col.waitCommits(t, 3, r)
	var ops []change.Op
	for _, c := range got {
		ops = append(ops, c.Op)
	}
	want := []change.Op{change.OpBegin, change.OpInsert, change.OpInsert, change.OpCommit,
		change.OpBegin, change.OpUpdate, change.OpCommit, change.OpBegin, change.OpDelete, change.OpCommit}
	if len(ops) != len(want) {
		t.Fatalf("ops = %v, want %v", ops, want)
	}
	for i := range ops {
		if ops[i] != want[i] {
			t.Fatalf("ops = %v, want %v", ops, want)
		}
	}
	ins := got[1]
	if ins.Database != "public" || ins.Table != "basic" || len(ins.Columns) != 3 {
		t.Fatalf("insert namespace/columns: %+v", ins)
	}
	if !ins.Columns[0].Key || ins.Columns[1].Key || ins.Columns[1].Nullable || !ins.Columns[2].Nullable || ins.Columns[2].Type != "bigint" {
		t.Errorf("columns = %+v", ins.Columns)
	}
	if !change.Equal(ins.After[0], change.Int(1, 32)) || !change.Equal(ins.After[1], change.String([]byte("one"))) ||
		!change.Equal(ins.After[2], change.Int(10, 64)) {
		t.Errorf("insert after = %+v", ins.After)
	}
	if !got[2].After[2].IsNull() || !got[2].Tx.Last || got[1].Tx.Last {
		t.Errorf("second insert: %+v", got[2])
	}
	upd := got[5]
	if upd.Before != nil || !change.Equal(upd.After[2], change.Int(11, 64)) {
		t.Errorf("update: before %+v after %+v", upd.Before, upd.After)
	}
	del := got[8]
	if !change.Equal(del.Before[0], change.Int(2, 32)) || del.Before[1].Present() || del.After != nil {
		t.Errorf("delete before = %+v", del.Before)
	}
	// Positions strictly increase; a transaction's changes share its LSN.
	for i := 1; i < len(got); i++ {
		if change.Compare(got[i-1].Pos, got[i].Pos) >= 0 {
			t.Fatalf("position %d %v not after %v", i, got[i].Pos, got[i-1].Pos)
		}
	}
	if got[0].Pos.Offset != got[1].Pos.Offset || got[0].Pos.Index != 1 || got[1].Pos.Index != 2 || got[3].Pos.Index != 0 {
		t.Errorf("positions: %v %v %v", got[0].Pos, got[1].Pos, got[3].Pos)
	}
	if got[1].Tx.ID == "" || got[1].Tx.ID != got[3].Tx.ID || got[1].CommitTime.IsZero() {
		t.Errorf("tx: %+v commit time %v", got[1].Tx, got[1].CommitTime)
	}
}
