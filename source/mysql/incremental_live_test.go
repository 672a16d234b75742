package mysql

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/internal/writeload"
	"github.com/sluice-cdc/sluice/snapshot"
)

// TestIncrementalSnapshot asks a running stream for an incremental
// snapshot of a table (a row in the signalling table, as `sluice
// snapshot` writes it) while writers update and delete the rows being
// read at 1,000 changes per second: the rows arrive as "read"
// changes marked incremental, the signalling table's rows never reach the
// output, the table rebuilt from the output equals SELECT, no row is read
// after its delete (unless inserted again) and no read carries a version
// older than one already delivered, and the writer's changes reach the
// output within 100 ms (p99) while the snapshot runs (without the race
// detector; with it, within 1 s).
func TestIncrementalSnapshot(t *testing.T) {
	srv := shared
	const rows = 40000
	exec(t, srv, "CREATE DATABASE inc", "CREATE TABLE inc.t (id INT PRIMARY KEY, v BIGINT NOT NULL, s VARCHAR(40))")
	for k := 0; k < rows; k += 2000 {
		var stmt []byte
		stmt = append(stmt, "INSERT INTO inc.t VALUES "...)
		for j := k; j < k+2000; j++ {
			if j > k {
				stmt = append(stmt, ',')
			}
			stmt = fmt.Appendf(stmt, "(%d, 0, 'row %d')", j, j)
		}
		exec(t, srv, string(stmt))
	}
	// The signalling table, and the replication user's INSERT on it.
	pool, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateSignalTable(context.Background(), pool, change.Namespace{Database: "sluice", Table: "signal"}); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		exec(t, srv, fmt.Sprintf("GRANT INSERT ON sluice.signal TO '%s'@'%s'", testenv.MariaDBReplUser, host))
	}

	cfg := testConfig(srv.Addr())
	cfg.ServerID = 7201
	cfg.Snapshot = snapshot.Options{ChunkRows: 500}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []change.Change
	var delivered writeload.Deliveries // writer version -> when delivered
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- src.Stream(ctx, currentPosition(t, srv), func(b []change.Change) error {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range b {
				c.Before, c.After = cloneValues(c.Before), cloneValues(c.After)
				got = append(got, c)
				if c.Op == change.OpUpdate && c.Table == "t" {
					delivered.Add(c.After[1].I, now)
				}
			}
			return nil
		})
	}()
	time.Sleep(500 * time.Millisecond) // the stream is running
	t.Logf("%v: loaded, streaming", time.Now().Format("15:04:05.000"))

	// The writers: updates (each a new version v), deletes and
	// re-inserts, 1,000 a second in all from four connections
	// (writeload.Start).
	writers := writeload.Start(ctx, 4, rows, 3, func(ctx context.Context, _ int, v int64, k int) error {
		var q string
		if v%5 == 0 {
			q = fmt.Sprintf("DELETE FROM inc.t WHERE id = %d", k)
		} else if v%5 == 1 {
			q = fmt.Sprintf("INSERT INTO inc.t VALUES (%d, %d, 'again') ON DUPLICATE KEY UPDATE v = %d", k, v, v)
		} else {
			q = fmt.Sprintf("UPDATE inc.t SET v = %d WHERE id = %d", v, k)
		}
		_, err := pool.ExecContext(ctx, q)
		return err
	})
	time.Sleep(time.Second) // the stream's latency without a snapshot: the baseline
	requested := time.Now()
	id, err := RequestSnapshot(ctx, cfg, []change.Namespace{{Database: "inc", Table: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	// The stream writes "done" into the signalling table when it is through.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		if err := pool.QueryRow("SELECT COUNT(*) FROM sluice.signal WHERE kind = ? AND body LIKE ?", snapshot.SignalDone, "%:"+id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the incremental snapshot did not finish")
		}
		select {
		case err := <-errc:
			t.Fatalf("stream ended: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	took := time.Since(began)
	if err := writers.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: done; catching up", time.Now().Format("15:04:05.000"))
	exec(t, srv, "CREATE TABLE inc.fin (id INT PRIMARY KEY)", "INSERT INTO inc.fin VALUES (1)")
	for {
		mu.Lock()
		done := slices.ContainsFunc(got, func(c change.Change) bool { return c.Table == "fin" && c.Op == change.OpInsert })
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%v: caught up", time.Now().Format("15:04:05.000"))
	cancel()
	<-errc
	t.Logf("%v: stopped", time.Now().Format("15:04:05.000"))

	// Rebuild; check order per key.
	rowsOut := map[string]string{}
	lastV := map[string]int64{}
	deleted := map[string]bool{}
	reads := 0
	for _, c := range got {
		if c.Database == "sluice" {
			t.Fatalf("a change of the signalling table reached the output: %s", c.Op)
		}
		if c.Table != "t" {
			continue
		}
		key := func(img []change.Value) string { return strconv.FormatInt(img[0].I, 10) }
		switch c.Op {
		case change.OpRead:
			reads++
			if c.Snapshot != change.SnapshotIncremental {
				t.Fatalf("read marked %v", c.Snapshot)
			}
			k := key(c.After)
			if deleted[k] {
				t.Errorf("row %s read after its delete: resurrected (at %s)", k, c.Pos)
			}
			if c.After[1].I < lastV[k] {
				t.Errorf("row %s read at version %d after version %d was delivered", k, c.After[1].I, lastV[k])
			}
			rowsOut[k] = rowText(c.Columns, c.After)
		case change.OpInsert, change.OpUpdate:
			k := key(c.After)
			delete(deleted, k)
			if c.Before != nil && key(c.Before) != k {
				delete(rowsOut, key(c.Before))
			}
			lastV[k] = c.After[1].I
			rowsOut[k] = rowText(c.Columns, c.After)
		case change.OpDelete:
			k := key(c.Before)
			deleted[k] = true
			delete(rowsOut, k)
		}
	}
	want := selectText(t, pool, "SELECT id, v, s FROM inc.t")
	if len(want) != len(rowsOut) {
		t.Errorf("rebuilt %d rows, SELECT has %d", len(rowsOut), len(want))
	}
	rebuilt := make(map[string]bool, len(rowsOut))
	for _, r := range rowsOut {
		rebuilt[r] = true
	}
	for _, w := range want {
		if !rebuilt[w] {
			t.Errorf("SELECT row %s not rebuilt", w)
			break
		}
	}
	// Latency of the writer's changes while the snapshot ran.
	writers.CheckLatency(t, &delivered, writeload.Snapshot{Requested: requested, Began: began, Took: took, Rows: rows, Reads: reads})
}

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
	srv := shared
	const rows = 6000
	exec(t, srv, "DROP DATABASE IF EXISTS incres", "CREATE DATABASE incres", "CREATE TABLE incres.t (id INT PRIMARY KEY, v BIGINT NOT NULL, s VARCHAR(40))",
		fmt.Sprintf("INSERT INTO incres.t SELECT seq, 0, CONCAT('row ', seq) FROM incres.seq_0_to_%d", rows-1))
	pool, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	signal := change.Namespace{Database: "incres", Table: "signal"}
	if err := CreateSignalTable(context.Background(), pool, signal); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		exec(t, srv, fmt.Sprintf("GRANT INSERT ON incres.signal TO '%s'@'%s'", testenv.MariaDBReplUser, host))
	}
	var logs testenv.Logs
	cfg := testConfig(srv.Addr())
	cfg.ServerID = 7202
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.Snapshot = snapshot.Options{ChunkRows: 100, Signal: "incres.signal"}

	// The writer: one change every 2 ms, versions rising.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wctx, stopWriter := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(7, 8))
		for v := int64(1); wctx.Err() == nil; v++ {
			k := rng.IntN(rows)
			q := fmt.Sprintf("UPDATE incres.t SET v = %d WHERE id = %d", v, k)
			switch v % 5 {
			case 0:
				q = fmt.Sprintf("DELETE FROM incres.t WHERE id = %d", k)
			case 1:
				q = fmt.Sprintf("INSERT INTO incres.t VALUES (%d, %d, 'again') ON DUPLICATE KEY UPDATE v = %d", k, v, v)
			}
			if _, err := pool.ExecContext(wctx, q); err != nil && wctx.Err() == nil {
				werr <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		werr <- nil
	}()

	// run streams from `from` until stop says so, and returns what it
	// delivered.
	run := func(from change.Position, stop func(got []change.Change) bool) []change.Change {
		t.Helper()
		src, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []change.Change
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		errc := make(chan error, 1)
		go func() {
			errc <- src.Stream(sctx, from, func(b []change.Change) error {
				mu.Lock()
				defer mu.Unlock()
				for _, c := range b {
					c.Before, c.After = cloneValues(c.Before), cloneValues(c.After)
					got = append(got, c)
				}
				return nil
			})
		}()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			mu.Lock()
			done := stop(got)
			mu.Unlock()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the stream did not get there in 2 minutes")
			}
			select {
			case err := <-errc:
				t.Fatalf("stream ended: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
		}
		scancel()
		<-errc
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
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

	start := currentPosition(t, srv)
	id, err := RequestSnapshot(ctx, cfg, []change.Namespace{{Database: "incres", Table: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	var out []change.Change // the output the runs leave, each cut where the next began
	from := start
	for i := 0; i < 2; i++ {
		got := run(from, func(got []change.Change) bool { return reads(got) >= 1500 })
		cut := restart(got)
		out = append(out, got[:cut+1]...)
		from = got[cut].Pos
		t.Logf("run %d: %d changes, %d reads; restarting after change %d (%s)", i+1, len(got), reads(got), cut, from)
	}
	// The last run: until the request is done, then the writer stops and
	// a last row marks the end.
	requestDone := func() bool {
		var n int
		if err := pool.QueryRow("SELECT COUNT(*) FROM incres.signal WHERE kind = ? AND body LIKE ?", snapshot.SignalDone, "%:"+id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	ended := false
	last := run(from, func(got []change.Change) bool {
		if !ended {
			if !requestDone() {
				return false
			}
			stopWriter()
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			exec(t, srv, "CREATE TABLE incres.fin (id INT PRIMARY KEY)", "INSERT INTO incres.fin VALUES (1)")
			ended = true
		}
		return slices.ContainsFunc(got, func(c change.Change) bool { return c.Table == "fin" && c.Op == change.OpInsert })
	})
	out = append(out, last...)
	if n := strings.Count(logs.String(), "incremental snapshot resumes"); n != 2 {
		t.Errorf("the log says %d times that the request resumed, want 2:\n%s", n, logs.String())
	}

	// Rebuild in order; no resurrection, no read older than a delivered
	// version.
	rebuilt := map[int64]string{}
	lastV := map[int64]int64{}
	deleted := map[int64]bool{}
	readKeys := map[int64]bool{}
	for _, c := range out {
		if c.Namespace == signal {
			t.Fatalf("a change of the signalling table reached the output: %s", c.Op)
		}
		if c.Table != "t" {
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
			rebuilt[k] = rowText(c.Columns, c.After)
		case change.OpInsert, change.OpUpdate:
			k := c.After[0].I
			delete(deleted, k)
			lastV[k] = c.After[1].I
			rebuilt[k] = rowText(c.Columns, c.After)
		case change.OpDelete:
			k := c.Before[0].I
			deleted[k] = true
			delete(rebuilt, k)
		}
	}
	want := selectText(t, pool, "SELECT id, v, s FROM incres.t")
	have := map[string]bool{}
	for _, r := range rebuilt {
		have[r] = true
	}
	if len(want) != len(rebuilt) {
		t.Errorf("rebuilt %d rows, SELECT has %d", len(rebuilt), len(want))
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("SELECT row %s not rebuilt", w)
			break
		}
	}
	if len(readKeys) < rows*9/10 {
		t.Errorf("only %d of %d keys read by the snapshot", len(readKeys), rows)
	}
	t.Logf("%d changes kept from 3 runs, %d keys read, %d rows rebuilt", len(out), len(readKeys), len(rebuilt))
}
