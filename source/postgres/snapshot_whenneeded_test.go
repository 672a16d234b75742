package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/source"
)

// TestSnapshotWhenNeeded: resuming from a position the slot has released
// fails with ErrPositionLost under snapshot=initial; under
// snapshot=when-needed the source snapshots the tables again instead
// (every row the table holds now, once, as reads, through a temporary
// slot, since the slot exists) and streams on from that snapshot's point.
func TestSnapshotWhenNeeded(t *testing.T) {
	exec(t, `CREATE TABLE wn (id int PRIMARY KEY, v int)`, `INSERT INTO wn SELECT g, g FROM generate_series(1, 20) g`)
	dropSlot(t, "wn")
	r := start(t, "slot=wn&publication=wn&create-publication=wn&snapshot=never&status-interval=200ms", change.Position{})
	exec(t, `INSERT INTO wn VALUES (21, 21)`, `DELETE FROM wn WHERE id = 3`, `INSERT INTO wn VALUES (22, 22)`)
	got := r.col.waitCommits(t, 3, r)
	released := got[0].Pos
	last := got[len(got)-1].Pos
	r.src.Ack(last)
	waitFlush(t, "wn", func(l uint64) bool { return l == last.Offset }, "reach the last commit")
	r.stop(t)

	src, err := Open(sourceURL("slot=wn&publication=wn&snapshot=initial"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := src.Stream(ctx, released, (&collector{}).emit); !errors.Is(err, source.ErrPositionLost) {
		t.Fatalf("snapshot=initial from a released position: %v, want ErrPositionLost", err)
	}

	if src, err = Open(sourceURL("slot=wn&publication=wn&snapshot=when-needed")); err != nil {
		t.Fatal(err)
	}
	r2 := startSource(t, src, released, &collector{})
	defer r2.stop(t)
	reads := func() []int64 {
		var keys []int64
		for _, c := range r2.col.all() {
			if c.Table == "wn" && c.Op == change.OpRead {
				keys = append(keys, c.After[0].I)
			}
		}
		return keys
	}
	for deadline := time.Now().Add(30 * time.Second); len(reads()) < 21; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot read %d rows, want 21 (stream: %v)", len(reads()), r2.err)
		}
	}
	exec(t, `INSERT INTO wn VALUES (23, 23)`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if slices.ContainsFunc(rows(r2.col.all(), "wn"), func(c change.Change) bool { return c.Op == change.OpInsert && c.After[0].I == 23 }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the insert after the snapshot did not arrive")
		}
	}
	var want []int64
	for k := int64(1); k <= 22; k++ {
		if k != 3 {
			want = append(want, k)
		}
	}
	if keys := reads(); !slices.Equal(keys, want) {
		t.Errorf("snapshot read keys %v, want 1 to 22 but 3", keys)
	}
	if rs := rows(r2.col.all(), "wn"); len(rs) != 1 {
		t.Errorf("row changes besides the snapshot: %d, want only the insert after it", len(rs))
	}
}
