package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	var mu sync.Mutex
	delivered := map[int64]time.Time{}
	col := &collector{fail: func(b []change.Change) error {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range b {
			if c.Op == change.OpUpdate && c.Table == "inc_t" {
				delivered[c.After[1].I] = now
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
	// The writers: 1,000 changes a second in all, four connections, one
	// change every 4 ms each (one cannot keep that pace on a loaded
	// machine), each owning the keys equal to its number modulo 4.
	const writers = 4
	committed := map[int64]time.Time{}
	var wmu sync.Mutex
	var version atomic.Int64 // the last version written
	wctx, stopWriter := context.WithCancel(ctx)
	werr := make(chan error, writers)
	for w := range writers {
		go func() {
			wconn, err := pg.Connect(wctx, "postgres")
			if err != nil {
				werr <- err
				return
			}
			defer wconn.Close(context.Background())
			rng := rand.New(rand.NewPCG(5, uint64(w)))
			next := time.Now().Add(time.Duration(w) * time.Millisecond)
			for wctx.Err() == nil {
				select {
				case <-time.After(time.Until(next)):
				case <-wctx.Done():
					continue
				}
				// One change every 4 ms per writer; one that fell behind
				// does not catch up in a burst.
				if next = next.Add(writers * time.Millisecond); next.Before(time.Now()) {
					next = time.Now()
				}
				v := version.Add(1)
				k := rng.IntN(rows/writers)*writers + w
				var q string
				switch v % 5 {
				case 0:
					q = fmt.Sprintf("DELETE FROM inc_t WHERE id = %d", k)
				case 1:
					q = fmt.Sprintf("INSERT INTO inc_t VALUES (%d, %d, 'again') ON CONFLICT (id) DO UPDATE SET v = %d", k, v, v)
				default:
					q = fmt.Sprintf("UPDATE inc_t SET v = %d WHERE id = %d", v, k)
				}
				if _, err := wconn.Exec(wctx, q); err != nil && wctx.Err() == nil {
					werr <- err
					return
				}
				wmu.Lock()
				committed[v] = time.Now()
				wmu.Unlock()
			}
			werr <- nil
		}()
	}
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
	stopWriter()
	for range writers {
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
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
	var lat, base []time.Duration
	wmu.Lock()
	mu.Lock()
	wrote := 0 // changes the writers committed while the snapshot ran
	for v, at := range committed {
		during := at.After(began) && at.Before(began.Add(took))
		if during {
			wrote++
		}
		d, ok := delivered[v]
		switch {
		case !ok:
		case during:
			lat = append(lat, d.Sub(at))
		case at.Before(requested):
			base = append(base, d.Sub(at))
		}
	}
	mu.Unlock()
	wmu.Unlock()
	slices.Sort(lat)
	slices.Sort(base)
	if len(lat) < 20 || len(base) < 20 {
		t.Fatalf("only %d changes measured during the snapshot (%v), %d before it", len(lat), took, len(base))
	}
	p99, base99 := lat[len(lat)*99/100], base[len(base)*99/100]
	t.Logf("incremental snapshot of %d rows in %v: %d rows read, %d changes written meanwhile (%.0f/s), %d updates measured; stream latency p50 %v p99 %v (before the snapshot: p99 %v of %d)",
		rows, took.Round(time.Millisecond), reads, wrote, float64(wrote)/took.Seconds(), len(lat), lat[len(lat)/2], p99, base99, len(base))
	// The goal is p99 under 100 ms. On a machine so loaded that the
	// stream's p99 is over 50 ms before the snapshot, the bound is twice
	// that p99 plus 50 ms: the snapshot may not more than double the
	// stream's latency. The race detector makes the source several times
	// slower (p99 of 26–230 ms at a load of 6–16 on 2 cores): with it the
	// test only checks that the stream keeps flowing (under 1 s); make
	// test runs it without the race detector too.
	limit := 100 * time.Millisecond
	if base99 > 50*time.Millisecond {
		limit = 2*base99 + 50*time.Millisecond
	}
	if raceDetector {
		limit = max(limit, time.Second)
	}
	if p99 > limit {
		t.Errorf("p99 latency of the stream during the incremental snapshot %v (before it %v), want under %v", p99, base99, limit)
	}
}
