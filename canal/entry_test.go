package canal

import (
	"bytes"
	"testing"
	"time"

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
	got, ok := enc.appendEntry(nil, &read)
	want, _ := enc.appendEntry(nil, &ins)
	if !ok || !bytes.Equal(got, want) {
		t.Errorf("read entry differs from the insert entry:\n%x\n%x", got, want)
	}
	if read.Op != change.OpRead {
		t.Error("appendEntry changed the caller's change")
	}
}
