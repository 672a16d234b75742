package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/writeload"
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

// TestIncrementalSnapshot asks a running stream for an incremental
// snapshot of a table (a row in the signalling table, as `sluice snapshot`
// writes it) while writers update, delete and re-insert the rows being
// read at 1,000 changes per second: the table rebuilt from the
// output equals SELECT, no row is read after its delete (unless inserted
// again), no read is older than a version already delivered, the
// signalling table's rows never reach the output, and the writer's changes
// reach the output within 100 ms (p99) meanwhile (without the race
// detector; with it, within 1 s).
func TestIncrementalSnapshot(t *testing.T) {
	const rows = 20000
	exec(t, `CREATE TABLE inc_t (id int PRIMARY KEY, v bigint NOT NULL, s text)`,
		fmt.Sprintf(`INSERT INTO inc_t SELECT g, 0, 'row ' || g FROM generate_series(0, %d) g`, rows-1))
	dropSlot(t, "inc")
	params := "slot=inc&publication=inc_all"
	server(t)
	cfg, err := ParseURL(sourceURL(params))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Snapshot.ChunkRows = 500
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var delivered writeload.Deliveries // writer version -> when delivered
	col := &collector{fail: func(b []change.Change) error {
		now := time.Now()
		for _, c := range b {
			if c.Op == change.OpUpdate && c.Table == "inc_t" {
				delivered.Add(c.After[1].I, now)
			}
		}
		return nil
	}}
	r := startSource(t, src, change.Position{}, col)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// The writers: updates (each a new version v), deletes and
	// re-inserts, 1,000 a second in all from four connections
	// (writeload.Start).
	const writers = 4
	var wconns [writers]*pgx.Conn
	for w := range wconns {
		if wconns[w], err = pg.Connect(ctx, "postgres"); err != nil {
			t.Fatal(err)
		}
		defer wconns[w].Close(context.Background())
	}
	ws := writeload.Start(ctx, writers, rows, 5, func(ctx context.Context, w int, v int64, k int) error {
		var q string
		switch v % 5 {
		case 0:
			q = fmt.Sprintf("DELETE FROM inc_t WHERE id = %d", k)
		case 1:
			q = fmt.Sprintf("INSERT INTO inc_t VALUES (%d, %d, 'again') ON CONFLICT (id) DO UPDATE SET v = %d", k, v, v)
		default:
			q = fmt.Sprintf("UPDATE inc_t SET v = %d WHERE id = %d", v, k)
		}
		_, err := wconns[w].Exec(ctx, q)
		return err
	})
	time.Sleep(time.Second) // the stream's latency without a snapshot: the baseline
	requested := time.Now()
	id, err := RequestSnapshot(ctx, cfg, []change.Namespace{{Database: "public", Table: "inc_t"}})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		done, err := RequestDone(ctx, cfg, id)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the incremental snapshot did not finish")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(began)
	if err := ws.Stop(); err != nil {
		t.Fatal(err)
	}
	exec(t, `CREATE TABLE inc_fin (id int PRIMARY KEY)`, `INSERT INTO inc_fin VALUES (1)`)
	for !slices.ContainsFunc(col.all(), func(c change.Change) bool { return c.Table == "inc_fin" && c.Op == change.OpInsert }) {
		time.Sleep(20 * time.Millisecond)
	}
	r.stop(t)

	out := map[int64]int64{} // id -> v
	lastV := map[int64]int64{}
	deleted := map[int64]bool{}
	reads := 0
	for _, c := range col.all() {
		if c.Table == "sluice_signal" {
			t.Fatalf("a change of the signalling table reached the output: %s", c.Op)
		}
		if c.Table != "inc_t" {
			continue
		}
		switch c.Op {
		case change.OpRead:
			reads++
			k := c.After[0].I
			if deleted[k] {
				t.Errorf("row %d read after its delete: resurrected (at %s)", k, c.Pos)
			}
			if c.After[1].I < lastV[k] || c.Snapshot != change.SnapshotIncremental {
				t.Errorf("row %d read at version %d (mark %v) after version %d was delivered", k, c.After[1].I, c.Snapshot, lastV[k])
			}
			out[k] = c.After[1].I
		case change.OpInsert, change.OpUpdate:
			k := c.After[0].I
			delete(deleted, k)
			lastV[k] = c.After[1].I
			out[k] = c.After[1].I
		case change.OpDelete:
			k := c.Before[0].I
			deleted[k] = true
			delete(out, k)
		}
	}
	rs, err := conn.Query(ctx, `SELECT id, v FROM inc_t`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{}
	for rs.Next() {
		var k, v int64
		if err := rs.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		want[int64(k)] = v
	}
	rs.Close()
	if len(want) != len(out) {
		t.Errorf("rebuilt %d rows, SELECT has %d", len(out), len(want))
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("row %d: rebuilt v=%d, SELECT v=%d", k, out[k], v)
			break
		}
	}
	ws.CheckLatency(t, &delivered, writeload.Snapshot{Requested: requested, Began: began, Took: took, Rows: rows, Reads: reads})
}
