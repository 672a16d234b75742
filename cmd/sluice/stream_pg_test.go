package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
)

// TestStreamPostgresEndToEnd runs "sluice stream postgres://…" against a
// real server through the registered postgres source: it stops the stream
// as a signal would, writes more rows, restarts, and checks the file holds
// every change exactly once, in order, and that the slot advanced.
func TestStreamPostgresEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := pg.Exec(ctx, "postgres",
		`CREATE TABLE items (id int PRIMARY KEY, name text)`,
		`CREATE TABLE noise (id int PRIMARY KEY)`,
		`CREATE PUBLICATION e2e FOR ALL TABLES`,
		`SELECT pg_create_logical_replication_slot('e2e', 'pgoutput')`,
		`BEGIN; INSERT INTO items VALUES (1, 'a'), (2, 'b'); INSERT INTO noise VALUES (1); INSERT INTO items VALUES (3, 'c'); COMMIT`,
		`UPDATE items SET name = 'B' WHERE id = 2`,
		`INSERT INTO noise VALUES (2)`,
	)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	srcURL := pg.DSN("postgres") + "&slot=e2e&publication=e2e"

	// streamUntil runs the command until the file has want lines, then
	// cancels it like SIGINT does.
	streamUntil := func(want int, also func() bool) string {
		t.Helper()
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		var logs bytes.Buffer
		done := make(chan error, 1)
		go func() {
			e := &env{Stdout: &bytes.Buffer{}, Stderr: &logs}
			done <- streamWith(runCtx, e, []string{srcURL, "--to", "file://" + out, "--state", state, "--snapshot", "never",
				"--begin-commit", "--include", `public\.items`, "--checkpoint-interval", "0"}, source.Default(), sinks.Builtin())
		}()
		for n := 0; n < want || (also != nil && !also()); {
			select {
			case err := <-done:
				t.Fatalf("stream ended early: %v\n%s", err, logs.String())
			case <-time.After(20 * time.Millisecond):
			}
			data, _ := os.ReadFile(out)
			n = bytes.Count(data, []byte("\n"))
			if ctx.Err() != nil {
				t.Fatalf("file has %d lines, want %d:\n%s\n%s", n, want, data, logs.String())
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Fatalf("stream after cancel: %v\n%s", err, logs.String())
		}
		if strings.Contains(logs.String(), testenv.PostgresPassword) {
			t.Errorf("logs show the password:\n%s", logs.String())
		}
		return logs.String()
	}

	// First run: begin, 3 inserts, commit; begin, update, commit. The noise
	// table is filtered out, and its own transaction shows nothing.
	streamUntil(8, nil)
	saved1 := loadState(t, state)
	if err := pg.Exec(ctx, "postgres", `INSERT INTO items VALUES (4, 'd')`, `DELETE FROM items WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	// The second run tells the slot (Ack) what the first one saved, so the
	// server may release the WAL before it: wait for the slot to get there.
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	slotCaughtUp := func() bool {
		var flushed string
		if err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'e2e'`).Scan(&flushed); err != nil {
			t.Fatal(err)
		}
		_, flushPos, err := source.ParseFrom(flushed)
		if err != nil {
			t.Fatal(err)
		}
		return flushPos.Offset >= saved1.Offset
	}
	streamUntil(14, slotCaughtUp)

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	seen := map[change.Position]bool{}
	var last change.Position
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		c, err := change.DecodeJSON([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if seen[c.Pos] {
			t.Errorf("line %d: position %s delivered twice", i+1, c.Pos)
		}
		if i > 0 && change.Compare(c.Pos, last) <= 0 {
			t.Errorf("line %d: position %s after %s", i+1, c.Pos, last)
		}
		seen[c.Pos], last = true, c.Pos
		s := c.Op.String()
		if c.Table != "" {
			s += ":" + c.Table
		}
		got = append(got, s)
	}
	want := "begin insert:items insert:items insert:items commit begin update:items commit begin insert:items commit begin delete:items commit"
	if strings.Join(got, " ") != want {
		t.Errorf("ops:\n got %s\nwant %s", strings.Join(got, " "), want)
	}

	// The state file holds the last commit.
	if saved := loadState(t, state); change.Compare(saved, last) < 0 {
		t.Fatalf("saved %s, want at least the last commit %s", saved, last)
	}
}

func loadState(t *testing.T, path string) change.Position {
	t.Helper()
	b, err := checkpoint.OpenBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := b.Load(context.Background(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The PostgreSQL no-loss test's scale: the workload writes pgKillChanges
// row changes paced to take about pgKillPace; kill i falls at a random
// point of the i-th twentieth of it. The proxy cuts every killCutEach and
// PostgreSQL restarts once at half way.
const (
	pgKillCount   = 20
	pgKillChanges = 200_000
	pgKillPace    = 40 * time.Second
	pgKillTimeout = 4 * time.Minute
)

// TestStreamPostgresSIGKILL is the no-loss test of the PostgreSQL source.
// "sluice stream postgres://…" (the real binary, a plain build, with the
// bbolt state file and a file sink) reads through a TCP proxy that cuts
// every connection every 2 s, while a workload writes 200,000 row changes
// in multi-row transactions on two tables (multi-row inserts, range
// updates, primary-key moves, range deletes; REPLICA IDENTITY FULL). The
// sluice process is SIGKILLed at 20 moments spread over the workload and
// restarted each time; PostgreSQL is shut down (fast) and started once in
// the middle, under a running sluice. At the end the stream catches up to
// a marker row and stops on SIGINT. The output, deduplicated by position,
// must be in strictly increasing position order (a repeat is a change
// already seen, with the same content), hold exactly as many row changes
// as the workload's statements affected, rebuild both tables exactly as
// SELECT shows them, and the slot's confirmed_flush_lsn must have reached
// the marker.
func TestStreamPostgresSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, writes 200k row changes and kills sluice 20 times")
	}
	bin, verify := buildKillBinaries(t)
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), pgKillTimeout)
	defer cancel()
	err := pg.Exec(ctx, "postgres",
		`CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL, s text NOT NULL)`,
		`CREATE TABLE b (id bigint PRIMARY KEY, n bigint NOT NULL, s text NOT NULL)`,
		`CREATE TABLE fin (id int PRIMARY KEY, s text NOT NULL)`,
		`ALTER TABLE a REPLICA IDENTITY FULL`,
		`ALTER TABLE b REPLICA IDENTITY FULL`,
		`CREATE PUBLICATION kp FOR TABLE a, b, fin`,
		`SELECT pg_create_logical_replication_slot('kp', 'pgoutput')`)
	if err != nil {
		t.Fatal(err)
	}
	// slotState asks the server directly (not through the proxy), on a
	// fresh connection each time, retrying while the server restarts.
	slotState := func() (active bool, flushed uint64) {
		t.Helper()
		var err error
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var conn *pgx.Conn
			if conn, err = pg.Connect(ctx, "postgres"); err != nil {
				continue
			}
			var lsn string
			err = conn.QueryRow(ctx, `SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'kp'`).Scan(&active, &lsn)
			conn.Close(context.Background())
			if err != nil {
				continue
			}
			_, p, err := source.ParseFrom(lsn)
			if err != nil {
				t.Fatal(err)
			}
			return active, p.Offset
		}
		t.Fatalf("slot state: %v", err)
		return false, 0
	}
	_, flushed0 := slotState()

	proxy := testenv.NewProxy(t, pg.Addr(), killCutEach)
	u, err := url.Parse(pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = proxy.Addr()
	srcURL := u.String() + "&slot=kp&publication=kp&create-publication=no"
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	args := []string{"stream", srcURL, "--to", "file://" + out, "--state", state, "--checkpoint-interval", "200ms", "--snapshot", "never"}
	var logs bytes.Buffer // all children's stderr, in turn
	// start launches a sluice process once the slot is free (the
	// walsender of a killed one may still hold it for a moment).
	start := func() (*exec.Cmd, chan struct{}) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if active, _ := slotState(); !active {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("slot still active 30s after its reader died")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		// On an early t.Fatal the child must not outlive the test.
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		return cmd, exited
	}

	restart := &pgKillRestart{srv: pg, half: make(chan struct{}), done: make(chan struct{})}
	go restart.run()
	var prog killProgress
	wdone := make(chan error, 1)
	go func() { wdone <- pgKillWorkload(ctx, pg, restart, &prog) }()

	// Kill i at a random point of the i-th twentieth of the workload. A
	// process that ends by itself before its kill must have lost its
	// first connection (a proxy cut or the restart while it started: the
	// first attempt does not retry); it is started again and counted.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	var killedAt []int64
	var lives [][2]time.Time
	var workErr error
	workDone, early := false, 0
	for i := 0; i < pgKillCount; i++ {
		born := time.Now()
		restart.born.Store(born.UnixNano())
		cmd, exited := start()
		at := int64((float64(i) + 0.15 + 0.7*rng.Float64()) / pgKillCount * pgKillChanges)
		ended := false
		for !ended && !workDone && prog.changes.Load() < at {
			select {
			case workErr = <-wdone:
				workDone = true
			case <-exited:
				ended = true
			case <-time.After(5 * time.Millisecond):
			}
		}
		if workErr != nil {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("workload: %v", workErr)
		}
		if ended {
			early++
			if msg := tail(logs.String(), 2000); early > 10 || !pgStartupCut(msg) {
				t.Fatalf("kill %d: sluice stream ended by itself (%v), not by a lost first connection, or too often (%d):\n%s", i+1, cmd.ProcessState, early, msg)
			}
			i-- // this kill again, with a new process
			continue
		}
		// Never during the restart (see lockSettled).
		restart.mu.RLock()
		restart.mu.RUnlock()
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: sluice stream ended by itself (%v) before the kill:\n%s", i+1, cmd.ProcessState, tail(logs.String(), 4000))
		}
		killedAt = append(killedAt, prog.changes.Load())
		lives = append(lives, [2]time.Time{born, time.Now()})
	}
	if !workDone {
		workErr = <-wdone
	}
	if workErr != nil {
		t.Fatalf("workload: %v", workErr)
	}
	<-restart.done
	if restart.err != nil {
		t.Fatal(restart.err)
	}
	if !spansRestart(lives, restart.began, restart.ended) {
		t.Errorf("no sluice process ran through the PostgreSQL restart (%v .. %v)", restart.began, restart.ended)
	}
	if err := pg.Exec(ctx, "postgres", `INSERT INTO fin VALUES (1, 'caught-up-marker')`); err != nil {
		t.Fatal(err)
	}
	var sizeAtEnd int64
	if st, err := os.Stat(out); err == nil {
		sizeAtEnd = st.Size()
	}

	// Catch up to the marker, then until the slot confirmed it, then SIGINT.
	catchUp := time.Now()
	logsBefore := logs.Len()
	var cmd *exec.Cmd
	var exited chan struct{}
	for {
		cmd, exited = start()
		waited := make(chan error, 1)
		wctx, wcancel := context.WithCancel(ctx)
		go func() { waited <- waitForMarker(wctx, out, max(0, sizeAtEnd-1<<20), []byte(`caught-up-marker`)) }()
		select {
		case err = <-waited:
		case <-exited:
			wcancel()
			<-waited
			if msg := tail(logs.String(), 2000); early >= 10 || !pgStartupCut(msg) {
				t.Fatalf("the catching-up sluice stream ended by itself (%v):\n%s", cmd.ProcessState, msg)
			}
			early++
			continue
		}
		wcancel()
		if err != nil {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("stream did not catch up: %v\n%s", err, tail(logs.String(), 4000))
		}
		break
	}
	marker := pgMarkerPos(t, out)
	for {
		if _, f := slotState(); f >= marker.Offset {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("the slot never confirmed the marker at %s:\n%s", marker, tail(logs.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	caughtUp := time.Since(catchUp)
	cmd.Process.Signal(os.Interrupt)
	<-exited
	if !cmd.ProcessState.Success() {
		t.Fatalf("sluice stream after SIGINT: %v\n%s", cmd.ProcessState, tail(logs.String(), 4000))
	}
	_, flushed := slotState()
	if flushed <= flushed0 {
		t.Errorf("slot confirmed_flush_lsn %X did not advance from %X", flushed, flushed0)
	}
	st, _ := os.Stat(out)
	t.Logf("output %.1f MB when the workload ended, %.1f MB at the end; the last sluice process (caught up in %v) logged:\n%s",
		float64(sizeAtEnd)/1e6, float64(st.Size())/1e6, caughtUp.Round(time.Millisecond), tail(logs.String()[logsBefore:], 2000))

	tables, unique, dups, ops := rebuildFromOutput(t, verify, out)
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, table := range []string{"a", "b", "fin"} {
		want := pgSelectRows(ctx, t, conn, table)
		compareRebuilt(t, table, tables[table], want)
	}
	rowChanges := ops["insert"] + ops["update"] + ops["delete"]
	if want := prog.changes.Load() + 1; int64(rowChanges) != want {
		t.Errorf("%d distinct row changes in the stream, the workload's statements affected %d (+1 marker); by op: %v", rowChanges, want-1, ops)
	}
	reconnects := strings.Count(logs.String(), "reconnect")
	t.Logf("seed %d: %d row changes in %d transactions (%d statements); stream: %d distinct row changes (%d changes), %d delivered again; "+
		"%d SIGKILLs at row changes %v; %d processes lost their first connection and were started again; %d connection cuts by the proxy, %d reconnect log lines; "+
		"PostgreSQL restarted once at half way (workload held %v); catch-up %v; slot confirmed_flush_lsn %X -> %X; final rows a=%d b=%d",
		seed, prog.changes.Load(), prog.txs.Load(), prog.stmts.Load(), rowChanges, unique, dups, len(killedAt), killedAt, early, proxy.Cuts(), reconnects,
		time.Duration(restart.paused.Load()).Round(time.Millisecond), caughtUp.Round(time.Millisecond), flushed0, flushed, len(tables["a"]), len(tables["b"]))
	if prog.changes.Load() < pgKillChanges {
		t.Errorf("the workload wrote only %d row changes", prog.changes.Load())
	}
	if proxy.Cuts() < 5 {
		t.Errorf("the proxy cut only %d connections", proxy.Cuts())
	}
}

// pgStartupCut reports whether a sluice process's last log lines show it
// ended because its first connection was lost (a proxy cut or the server
// restarting while it started), which the first attempt does not retry.
func pgStartupCut(log string) bool {
	for _, s := range []string{"EOF", "connection reset", "broken pipe", "connection refused", "closed", "shutting down", "in use", "terminating connection", "failed to receive", "timeout"} {
		if strings.Contains(log, s) {
			return true
		}
	}
	return false
}

// pgMarkerPos returns the position of the marker row in the last MiB of out.
func pgMarkerPos(t *testing.T, out string) change.Position {
	t.Helper()
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, min(st.Size(), 1<<20))
	if _, err := f.ReadAt(data, st.Size()-int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if !bytes.Contains(line, []byte("caught-up-marker")) {
			continue
		}
		c, err := change.DecodeJSON(line)
		if err == nil && c.Op == change.OpInsert && c.Table == "fin" {
			return c.Pos
		}
	}
	t.Fatalf("%s: no marker row in its last MiB", out)
	return change.Position{}
}

// pgSelectRows reads one of the test's three-column tables as key text ->
// row text, in the forms killverify prints.
func pgSelectRows(ctx context.Context, t *testing.T, conn *pgx.Conn, table string) map[string]string {
	t.Helper()
	rows, err := conn.Query(ctx, `SELECT * FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out[parts[0]] = strings.Join(parts, "|")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pgKillRestart shuts PostgreSQL down (fast) and starts it again once the
// workload is half done. The workload holds mu (read) around each
// transaction and the restart holds it (write), so that no transaction
// straddles the restart; gen counts restarts, so the workload knows to
// reconnect.
type pgKillRestart struct {
	srv    *testenv.Postgres
	mu     sync.RWMutex
	gen    atomic.Int32
	half   chan struct{} // closed by the workload at half way
	done   chan struct{} // closed after the restart (or its failure)
	paused atomic.Int64
	born   atomic.Int64 // unix nanoseconds the newest sluice process started
	err    error        // read after done
	// began and ended bound the restart (read after done).
	began, ended time.Time
}

func (r *pgKillRestart) run() {
	defer close(r.done)
	select {
	case <-r.half:
	case <-time.After(pgKillTimeout):
		r.err = errors.New("the workload never reached half way")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lockSettled(&r.mu, &r.born)
	defer r.mu.Unlock()
	r.began = time.Now()
	defer func() {
		r.ended = time.Now()
		r.paused.Store(int64(r.ended.Sub(r.began)))
		r.gen.Add(1)
	}()
	// A fast shutdown (SIGINT): testenv's Stop sends SIGTERM, a smart
	// shutdown, which would wait for sluice's catalog session to end.
	if err := syscall.Kill(r.srv.PID(), syscall.SIGINT); err != nil {
		r.err = fmt.Errorf("stop PostgreSQL: %w", err)
		return
	}
	for deadline := time.Now().Add(60 * time.Second); r.srv.Running(); {
		if time.Now().After(deadline) {
			r.err = errors.New("PostgreSQL did not shut down within 60s")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.srv.Stop(ctx); err != nil {
		r.err = fmt.Errorf("stop PostgreSQL: %w", err)
		return
	}
	time.Sleep(500 * time.Millisecond)
	if err := r.srv.Start(ctx); err != nil {
		r.err = fmt.Errorf("start PostgreSQL: %w", err)
	}
}

// pgKillWorkload writes transactions to tables a and b until they
// affected pgKillChanges row changes, paced to take about pgKillPace (not
// counting the restart), counting committed row changes in prog. Each
// transaction is a few statements of: a multi-row insert into a or b, a
// range update, a primary-key move (a's keys below 10,000,000 move up by
// 10,000,000, once), a range delete.
func pgKillWorkload(ctx context.Context, pg *testenv.Postgres, restart *pgKillRestart, prog *killProgress) error {
	rng := rand.New(rand.NewPCG(1, 42))
	next := map[string]int64{"a": 1, "b": 1}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	gen := int32(-1)
	began := time.Now()
	half := false
	for prog.changes.Load() < pgKillChanges {
		restart.mu.RLock()
		if g := restart.gen.Load(); g != gen || conn == nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			var err error
			if conn, err = pg.Connect(ctx, "postgres"); err != nil {
				restart.mu.RUnlock()
				return err
			}
			gen = g
		}
		n, stmts, err := pgKillTx(ctx, conn, rng, next)
		restart.mu.RUnlock()
		if err != nil {
			return err
		}
		done := prog.changes.Add(n)
		prog.txs.Add(1)
		prog.stmts.Add(int64(stmts))
		if !half && done >= pgKillChanges/2 {
			half = true
			close(restart.half)
		}
		// Pace: done changes should take done/total of pgKillPace (plus
		// the time the restart held the workload).
		target := time.Duration(float64(pgKillPace) * float64(done) / pgKillChanges)
		if ahead := target - (time.Since(began) - time.Duration(restart.paused.Load())); ahead > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(ahead):
			}
		}
	}
	return nil
}

// pgKillTx runs one transaction of two to five statements and returns
// the rows they affected and the statement count.
func pgKillTx(ctx context.Context, conn *pgx.Conn, rng *rand.Rand, next map[string]int64) (int64, int, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(context.Background())
	var affected int64
	stmts := 2 + rng.IntN(4)
	for i := 0; i < stmts; i++ {
		var sql string
		switch k := rng.IntN(10); {
		case k < 4: // multi-row insert
			table := []string{"a", "b"}[rng.IntN(2)]
			n := int64(10 + rng.IntN(60))
			lo := next[table]
			next[table] += n
			col := map[string]string{"a": "(g %% 1000)::int", "b": "g * 7"}[table]
			sql = fmt.Sprintf(`INSERT INTO %s SELECT g, `+col+`, 'r' || g FROM generate_series(%d, %d) g`, table, lo, lo+n-1)
		case k < 7: // range update
			table := []string{"a", "b"}[rng.IntN(2)]
			lo := rng.Int64N(max(1, next[table]))
			col := map[string]string{"a": "v", "b": "n"}[table]
			sql = fmt.Sprintf(`UPDATE %s SET %s = %s + 1, s = s || 'u' WHERE id BETWEEN %d AND %d AND length(s) < 30`, table, col, col, lo, lo+int64(5+rng.IntN(30)))
		case k < 8: // primary-key move
			lo := rng.Int64N(max(1, next["a"]))
			sql = fmt.Sprintf(`UPDATE a SET id = id + 10000000 WHERE id BETWEEN %d AND %d AND id < 10000000`, lo, lo+int64(2+rng.IntN(10)))
		default: // range delete
			table := []string{"a", "b"}[rng.IntN(2)]
			lo := rng.Int64N(max(1, next[table]))
			sql = fmt.Sprintf(`DELETE FROM %s WHERE id BETWEEN %d AND %d`, table, lo, lo+int64(3+rng.IntN(15)))
		}
		tag, err := tx.Exec(ctx, sql)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", sql, err)
		}
		affected += tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, err
	}
	return affected, stmts, nil
}

// TestStreamPostgresStopAt runs "sluice stream --stop-at LSN" against a
// real server: each run ends by itself (nil, like exit status 0) with the
// transactions committed up to the LSN, commit included, and the next run
// goes on from there.
func TestStreamPostgresStopAt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pg.Exec(ctx, "postgres",
		`CREATE TABLE t (id int PRIMARY KEY)`,
		`CREATE PUBLICATION stop FOR TABLE t`,
		`SELECT pg_create_logical_replication_slot('stop', 'pgoutput')`,
	); err != nil {
		t.Fatal(err)
	}
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// commit runs one transaction and returns the WAL insert position
	// right after its commit record: the end LSN of the commit.
	commit := func(stmt string) string {
		t.Helper()
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
		var lsn string
		if err := conn.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		return lsn
	}
	end1 := commit(`INSERT INTO t VALUES (1), (2)`)
	end2 := commit(`INSERT INTO t VALUES (3)`)
	commit(`INSERT INTO t VALUES (4)`)
	// WAL that carries no change for the publication: a stop position
	// past the last commit is reached through the idle heartbeat.
	end4 := commit(`SELECT pg_logical_emit_message(false, 'other', 'not published')`)

	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	srcURL := pg.DSN("postgres") + "&slot=stop&publication=stop"
	run := func(stopAt string) []string {
		t.Helper()
		return streamToStop(t, ctx, stopAt, out, srcURL, "--to", "file://"+out, "--state", state, "--begin-commit", "--snapshot", "never")
	}
	if got, want := strings.Join(run(end1), " "), "begin insert1 insert2 commit"; got != want {
		t.Errorf("--stop-at %s: got %s, want %s", end1, got, want)
	}
	if got, want := strings.Join(run(end2), " "), "begin insert3 commit"; got != want {
		t.Errorf("--stop-at %s: got %s, want %s", end2, got, want)
	}
	if got, want := strings.Join(run(end4), " "), "begin insert4 commit"; got != want {
		t.Errorf("--stop-at %s: got %s, want %s", end4, got, want)
	}
	// A GTID set names no point of a log: a usage error.
	e := &env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	err = streamWith(ctx, e, []string{srcURL, "--state", state, "--stop-at", "0-1-100"}, source.Default(), sinks.Builtin())
	if err == nil || !strings.Contains(err.Error(), "GTID set") {
		t.Errorf("--stop-at with a GTID set: %v, want a usage error naming the GTID set", err)
	}
}

// streamToStop runs "sluice stream ARGS --stop-at stopAt", which must end by
// itself, cleanly, saying so in its log; it returns the changes the file
// sink out received, as op plus the first column's integer for rows
// ("insert3"), DDL left out.
func streamToStop(t *testing.T, ctx context.Context, stopAt, out string, args ...string) []string {
	t.Helper()
	var logs bytes.Buffer
	e := &env{Stdout: &bytes.Buffer{}, Stderr: &logs}
	os.Remove(out)
	if err := streamWith(ctx, e, append(args, "--stop-at", stopAt), source.Default(), sinks.Builtin()); err != nil {
		t.Fatalf("--stop-at %s: %v\n%s", stopAt, err, logs.String())
	}
	if !strings.Contains(logs.String(), "reached --stop-at") {
		t.Errorf("--stop-at %s: no 'reached --stop-at' in the log:\n%s", stopAt, logs.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		c, err := change.DecodeJSON([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if c.Op == change.OpDDL {
			continue
		}
		s := c.Op.String()
		if len(c.After) > 0 {
			s += fmt.Sprint(c.After[0].I)
		}
		ops = append(ops, s)
	}
	return ops
}
