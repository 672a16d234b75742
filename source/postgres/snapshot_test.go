package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// TestSnapshotEveryType: the rows of a table holding every type, read by
// an initial snapshot, are exactly what the stream gives when the same
// values are inserted (same columns, same Kind and fields for every
// value); the snapshot comes first, numbered and marked, then the stream
// from the slot's consistent point; then a second source on the same slot
// (which exists now) snapshots through a temporary slot.
func TestSnapshotEveryType(t *testing.T) {
	exec(t, `CREATE SCHEMA snapt`,
		`CREATE TYPE snapt.mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN snapt.posint AS integer CHECK (VALUE > 0)`,
		`CREATE TYPE snapt.pair AS (a int, b text)`)
	cases := typeCases()
	var cols, lits, nulls []string
	for i, c := range cases {
		typ := c.typ
		switch typ {
		case "mood", "mood[]", "posint", "pair":
			typ = "snapt." + typ
		}
		cols = append(cols, fmt.Sprintf("c%d %s", i, typ))
		lits = append(lits, c.lit)
		nulls = append(nulls, "NULL")
	}
	for _, table := range []string{"read_t", "stream_t"} {
		exec(t, fmt.Sprintf(`CREATE TABLE snapt.%s (id int PRIMARY KEY, %s)`, table, strings.Join(cols, ", ")))
	}
	insert := func(table string) []string {
		return []string{
			fmt.Sprintf(`INSERT INTO snapt.%s VALUES (1, %s)`, table, strings.Join(lits, ", ")),
			fmt.Sprintf(`INSERT INTO snapt.%s VALUES (2, %s)`, table, strings.Join(nulls, ", ")),
		}
	}
	exec(t, insert("read_t")...)
	dropSlot(t, "snapt")
	params := "slot=snapt&publication=snapt&create-publication=snapt.read_t,snapt.stream_t&snapshot=initial&snapshot-chunk=1"
	server(t)
	src, err := Open(sourceURL(params))
	if err != nil {
		t.Fatal(err)
	}
	r := startSource(t, src, change.Position{}, &collector{})
	waitRows := func(table string, n int) []change.Change {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var got []change.Change
			for _, c := range r.col.all() {
				if c.Table == table && (c.Op == change.OpRead || c.Op == change.OpInsert) {
					got = append(got, c)
				}
			}
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d rows of %s", len(got), n, table)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	reads := waitRows("read_t", 2)
	exec(t, insert("stream_t")...)
	inserts := waitRows("stream_t", 2)
	r.stop(t)
	for i, rd := range reads {
		in := inserts[i]
		if rd.Op != change.OpRead || rd.Pos.Row != uint64(i+1) || in.Op != change.OpInsert {
			t.Fatalf("row %d: %s row=%d, then %s", i, rd.Op, rd.Pos.Row, in.Op)
		}
		if want := []change.SnapshotMark{change.SnapshotFirst, change.SnapshotLast}[i]; rd.Snapshot != want {
			t.Errorf("row %d marked %v, want %v", i, rd.Snapshot, want)
		}
		for j := range rd.Columns {
			if rd.Columns[j] != in.Columns[j] {
				t.Errorf("column %d: snapshot %+v, stream %+v", j, rd.Columns[j], in.Columns[j])
			}
		}
		for j := range rd.After {
			if !change.Equal(rd.After[j], in.After[j]) {
				t.Errorf("row %d column %s: snapshot %+v (%s), stream %+v (%s)", i, rd.Columns[j].Name,
					rd.After[j], change.AppendText(nil, rd.After[j]), in.After[j], change.AppendText(nil, in.After[j]))
			}
		}
	}
	all := r.col.all()
	for i := 1; i < len(all); i++ {
		if change.Compare(all[i-1].Pos, all[i].Pos) >= 0 {
			t.Fatalf("positions out of order at %d: %s then %s", i, all[i-1].Pos, all[i].Pos)
		}
	}

	// The slot exists now: a new snapshot (a new stream on it) reads
	// through a temporary slot's snapshot and starts the stream there.
	src2, err := Open(sourceURL(params))
	if err != nil {
		t.Fatal(err)
	}
	r2 := startSource(t, src2, change.Position{}, &collector{})
	again := func() int {
		n := 0
		for _, c := range r2.col.all() {
			if c.Op == change.OpRead {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for again() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("second snapshot: %d rows", again())
		}
		time.Sleep(20 * time.Millisecond)
	}
	r2.stop(t)
	if n := queryText(t, `SELECT count(*)::text FROM pg_replication_slots WHERE slot_name LIKE 'sluice_snapshot_%'`); n != "0" {
		t.Errorf("%s temporary snapshot slots left", n)
	}
}
