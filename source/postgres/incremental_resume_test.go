package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestIncrementalSnapshotResumes stops a stream in the middle of an
// incremental snapshot request, twice, and restarts it from a position it
// delivered earlier than its last (as a pipeline restarts from its last
// checkpoint after SIGKILL), while a writer updates, deletes and
// re-inserts the rows being read: the log says the request resumed, the
// request finishes, and the output of the runs — each up to where the
// next one started — rebuilds the table as SELECT shows it, with no row
// read after its delete and no read older than a version delivered
// before it.
func TestIncrementalSnapshotResumes(t *testing.T) {
	const rows = 6000
	exec(t, `CREATE TABLE incres (id int PRIMARY KEY, v bigint NOT NULL, s text)`,
		fmt.Sprintf(`INSERT INTO incres SELECT g, 0, 'row ' || g FROM generate_series(0, %d) g`, rows-1),
		`CREATE TABLE incres_mark (id int PRIMARY KEY)`)
	dropSlot(t, "incres")
	var logs testenv.Logs
	cfg, err := ParseURL(sourceURL("slot=incres&publication=incres_pub&create-publication=public.incres,public.incres_mark&snapshot=never&signal-table=public.incres_signal"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Snapshot.ChunkRows = 100
	cfg.Logger = logs.Logger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// run streams from `from` until stop says so and returns what it
	// delivered.
	run := func(from change.Position, stop func(got []change.Change) bool) []change.Change {
		t.Helper()
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		col := &collector{}
		r := startSource(t, src, from, col)
		defer r.stop(t)
		for deadline := time.Now().Add(2 * time.Minute); !stop(col.all()); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the stream did not get there in 2 minutes")
			}
			select {
			case <-r.done:
				t.Fatalf("stream ended: %v", r.err)
			default:
			}
		}
		r.stop(t)
		return col.all()
	}
	has := func(table string, id int64) func([]change.Change) bool {
		return func(got []change.Change) bool {
			return slices.ContainsFunc(got, func(c change.Change) bool {
				return c.Table == table && c.Op == change.OpInsert && c.After[0].I == id
			})
		}
	}
	reads := func(got []change.Change) int {
		n := 0
		for _, c := range got {
			if c.Op == change.OpRead {
				n++
			}
		}
		return n
	}
	// A restart point: the position of a read about two thirds into what
	// a run delivered, as an older checkpoint than its last change.
	restart := func(got []change.Change) int {
		var at []int
		for i, c := range got {
			if c.Op == change.OpRead {
				at = append(at, i)
			}
		}
		return at[len(at)*2/3]
	}

	// The writer: one change every 2 ms, versions rising.
	wctx, stopWriter := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() {
		wconn, err := pg.Connect(wctx, "postgres")
		if err != nil {
			werr <- err
			return
		}
		defer wconn.Close(context.Background())
		rng := rand.New(rand.NewPCG(9, 10))
		for v := int64(1); wctx.Err() == nil; v++ {
			k := rng.IntN(rows)
			q := fmt.Sprintf("UPDATE incres SET v = %d WHERE id = %d", v, k)
			switch v % 5 {
			case 0:
				q = fmt.Sprintf("DELETE FROM incres WHERE id = %d", k)
			case 1:
				q = fmt.Sprintf("INSERT INTO incres VALUES (%d, %d, 'again') ON CONFLICT (id) DO UPDATE SET v = %d", k, v, v)
			}
			if _, err := wconn.Exec(wctx, q); err != nil && wctx.Err() == nil {
				werr <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		werr <- nil
	}()

	// The first run creates the slot; the request comes once it streams.
	var out []change.Change
	var id string
	first := run(change.Position{}, func(got []change.Change) bool {
		if id == "" {
			exec(t, `INSERT INTO incres_mark VALUES (1)`)
			if !has("incres_mark", 1)(got) {
				time.Sleep(100 * time.Millisecond)
				exec(t, `DELETE FROM incres_mark`)
				return false
			}
			var err error
			if id, err = RequestSnapshot(ctx, cfg, []change.Namespace{{Database: "public", Table: "incres"}}); err != nil {
				t.Fatal(err)
			}
		}
		return reads(got) >= 1500
	})

	got := first
	for i := 0; ; i++ {
		cut := restart(got)
		out = append(out, got[:cut+1]...)
		from := got[cut].Pos
		t.Logf("run %d: %d changes, %d reads; restarting after change %d (%s)", i+1, len(got), reads(got), cut, from)
		if i == 1 {
			// The last run: until the request is done, then the writer
			// stops and a last row marks the end.
			ended := false
			got = run(from, func(got []change.Change) bool {
				if !ended {
					done, err := RequestDone(ctx, cfg, id)
					if err != nil {
						t.Fatal(err)
					}
					if !done {
						return false
					}
					stopWriter()
					if err := <-werr; err != nil {
						t.Fatal(err)
					}
					exec(t, `INSERT INTO incres_mark VALUES (2)`)
					ended = true
				}
				return has("incres_mark", 2)(got)
			})
			out = append(out, got...)
			break
		}
		got = run(from, func(got []change.Change) bool { return reads(got) >= 1500 })
	}
	if n := strings.Count(logs.String(), "incremental snapshot resumes"); n != 2 {
		t.Errorf("the log says %d times that the request resumed, want 2:\n%s", n, logs.String())
	}

	rebuilt := map[int64]int64{}
	lastV := map[int64]int64{}
	deleted := map[int64]bool{}
	readKeys := map[int64]bool{}
	for _, c := range out {
		if c.Table == "incres_signal" {
			t.Fatalf("a change of the signalling table reached the output: %s", c.Op)
		}
		if c.Table != "incres" {
			continue
		}
		switch c.Op {
		case change.OpRead:
			k := c.After[0].I
			readKeys[k] = true
			if deleted[k] {
				t.Errorf("row %d read after its delete (at %s)", k, c.Pos)
			}
			if c.After[1].I < lastV[k] {
				t.Errorf("row %d read at version %d after version %d was delivered", k, c.After[1].I, lastV[k])
			}
			rebuilt[k] = c.After[1].I
		case change.OpInsert, change.OpUpdate:
			k := c.After[0].I
			delete(deleted, k)
			lastV[k] = c.After[1].I
			rebuilt[k] = c.After[1].I
		case change.OpDelete:
			k := c.Before[0].I
			deleted[k] = true
			delete(rebuilt, k)
		}
	}
	rs, err := conn.Query(ctx, `SELECT id, v FROM incres`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{}
	for rs.Next() {
		var k, v int64
		if err := rs.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	rs.Close()
	if len(want) != len(rebuilt) {
		t.Errorf("rebuilt %d rows, SELECT has %d", len(rebuilt), len(want))
	}
	for k, v := range want {
		if got, ok := rebuilt[k]; !ok || got != v {
			t.Errorf("row %d: rebuilt v=%d (%v), SELECT v=%d", k, got, ok, v)
			break
		}
	}
	if len(readKeys) < rows*9/10 {
		t.Errorf("only %d of %d keys read by the snapshot", len(readKeys), rows)
	}
	t.Logf("%d changes kept from 3 runs, %d keys read, %d rows rebuilt", len(out), len(readKeys), len(rebuilt))
}
