package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// killTestCase is one mode of TestStreamMariaDBSIGKILL.
type killTestCase struct {
	name     string
	db       string // database the workload writes, the only one streamed
	query    string // extra source URL query parameters
	serverID int
	seed     uint64
	changes  int64 // row changes the workload writes (0: killChanges)
}

// target is the row changes tc's workload writes.
func (tc killTestCase) target() int64 {
	if tc.changes > 0 {
		return tc.changes
	}
	return killChanges
}

// Workload and kill schedule. Each mode's workload writes killChanges row
// changes, paced to take about killPace; kill i falls at a random point
// of the i-th twentieth of the workload (measured in committed row
// changes), so the kills are spread over all of it. MariaDB restarts once,
// when both workloads are half done.
const (
	killCount   = 20
	killChanges = 200_000
	killPace    = 40 * time.Second
	killCutEach = 2 * time.Second
	killTimeout = 4 * time.Minute
)

// TestStreamMariaDBSIGKILL is the no-loss test of the MySQL/MariaDB live
// source, run in file+position mode and in GTID mode at once on one
// MariaDB. In each mode "sluice stream mysql://…" (the real binary, a plain
// build) reads through a TCP proxy that cuts every connection every 2 s,
// while a workload writes 200,000 row changes in multi-row transactions on
// two tables (multi-row inserts, range updates, primary-key moves, range
// deletes). The sluice process is killed with SIGKILL at 20 moments spread
// over the workload and restarted each time; MariaDB is stopped and started
// once in the middle, under a running sluice. At the end the stream catches
// up to a marker row and is stopped with SIGINT. The output, deduplicated by
// position, must be in strictly increasing position order (a re-delivered
// change is one already seen, with the same content), must hold exactly as
// many row changes as the workload's statements affected, and must rebuild
// both tables exactly as SELECT shows them.
func TestStreamMariaDBSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB, writes 400k row changes and kills sluice 40 times")
	}
	bin, verify := buildKillBinaries(t)
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	cases := []killTestCase{
		{name: "filepos", db: "kfile", serverID: 5101, seed: 1},
		{name: "gtid", db: "kgtid", query: "&gtid=on", serverID: 5102, seed: 2},
	}
	r := &killRestart{srv: srv, want: len(cases), half: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runKillTest(t, bin, verify, srv, r, tc)
		})
	}
}

// killRestart restarts MariaDB once both workloads are half done. The
// workloads hold mu (read) around each transaction, the restart holds it
// (write), so that no transaction straddles the restart.
type killRestart struct {
	srv    *testenv.MariaDB
	mu     sync.RWMutex
	want   int // workloads to wait for
	halves atomic.Int32
	half   chan struct{} // closed when every workload reached half way
	done   chan struct{} // closed after the restart (or its failure)
	paused atomic.Int64  // nanoseconds the workloads were held
	born   atomic.Int64  // unix nanoseconds the newest sluice process started
	err    error         // the restart's failure, read after done
	// began and ended bound the restart (read after done).
	began, ended time.Time
}

// halfway reports one workload at half way; the last one starts the restart.
func (r *killRestart) halfway() {
	if int(r.halves.Add(1)) == r.want {
		close(r.half)
	}
}

func (r *killRestart) run() {
	defer close(r.done)
	select {
	case <-r.half:
	case <-time.After(killTimeout):
		r.err = errors.New("the workloads never reached half way")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lockSettled(&r.mu, &r.born)
	defer r.mu.Unlock()
	r.began = time.Now()
	defer func() { r.ended = time.Now(); r.paused.Store(int64(r.ended.Sub(r.began))) }()
	if err := r.srv.Stop(ctx); err != nil {
		r.err = fmt.Errorf("stop MariaDB: %w", err)
		return
	}
	time.Sleep(500 * time.Millisecond)
	if err := r.srv.Start(ctx); err != nil {
		r.err = fmt.Errorf("start MariaDB: %w", err)
		return
	}
}

// killProgress is a workload's progress, read by the kill schedule.
type killProgress struct {
	changes atomic.Int64 // row changes committed
	txs     atomic.Int64
	stmts   atomic.Int64
}

func runKillTest(t *testing.T, bin, verify string, srv *testenv.MariaDB, restart *killRestart, tc killTestCase) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	err := srv.Exec(ctx,
		`CREATE DATABASE `+tc.db,
		`CREATE TABLE `+tc.db+`.a (id int PRIMARY KEY, v int NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+tc.db+`.b (id bigint PRIMARY KEY, n bigint NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+tc.db+`.fin (id int PRIMARY KEY, s varchar(20))`,
	)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, srv.Addr(), killCutEach)
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d%s", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, proxy.Addr(), tc.serverID, tc.query)
	args := []string{"stream", srcURL, "--to", "file://" + out, "--state", state,
		"--from", "earliest", "--include", tc.db + `\..*`, "--checkpoint-interval", "200ms"}
	var logs testenv.Logs // all children's stderr, in turn
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// On an early t.Fatal the child must not outlive the test; after a
		// normal end this finds it already reaped.
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd
	}

	var prog killProgress
	wdone := make(chan error, 1)
	go func() { wdone <- killWorkloadRun(ctx, srv, restart, tc, &prog) }()

	// Kill i at a random point of the i-th twentieth of the workload.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(tc.serverID)))
	var killedAt []int64
	var lives [][2]time.Time // each killed process: started, killed
	var workErr error
	workDone := false
	for i := 0; i < killCount; i++ {
		born := time.Now()
		restart.born.Store(born.UnixNano())
		cmd := start()
		at := int64((float64(i) + 0.15 + 0.7*rng.Float64()) / killCount * killChanges)
		for !workDone && prog.changes.Load() < at {
			select {
			case workErr = <-wdone:
				workDone = true
			case <-time.After(5 * time.Millisecond):
			}
		}
		if workErr != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("workload: %v", workErr)
		}
		// Never during the restart: the process running through it must
		// reconnect to the restarted server.
		restart.mu.RLock()
		restart.mu.RUnlock()
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: sluice stream had already ended by itself (%v) before the kill:\n%s", i+1, cmd.ProcessState, tail(logs.String(), 4000))
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
	// The restart must have happened under a running sluice process,
	// which then had to reconnect to the restarted server.
	if !spansRestart(lives, restart.began, restart.ended) {
		t.Errorf("no sluice process ran through the MariaDB restart (%v .. %v)", restart.began, restart.ended)
	}
	if err := srv.Exec(ctx, `INSERT INTO `+tc.db+`.fin VALUES (1, 'caught-up-marker')`); err != nil {
		t.Fatal(err)
	}

	// How far the stream was behind when the workload ended.
	var sizeAtEnd int64
	if st, err := os.Stat(out); err == nil {
		sizeAtEnd = st.Size()
	}

	// Catch up: the fin row is the last change, so once it is in the file
	// everything before it is too.
	catchUp := time.Now()
	logsBefore := logs.Len()
	cmd := start()
	// The marker comes after everything in the file now; only a torn last
	// line (under a line's length) may be cut off when sluice opens it.
	if err := waitForMarker(ctx, out, max(0, sizeAtEnd-1<<20), []byte(`caught-up-marker`)); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("stream did not catch up: %v\n%s", err, tail(logs.String(), 4000))
	}
	caughtUp := time.Since(catchUp)
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice stream after SIGINT: %v\n%s", err, tail(logs.String(), 4000))
	}
	var sizeFinal int64
	if st, err := os.Stat(out); err == nil {
		sizeFinal = st.Size()
	}
	t.Logf("%s: output %.1f MB when the workload ended, %.1f MB at the end; the last sluice process (caught up in %v) logged:\n%s",
		tc.name, float64(sizeAtEnd)/1e6, float64(sizeFinal)/1e6, caughtUp.Round(time.Millisecond), tail(logs.String()[logsBefore:], 3000))

	tables, unique, dups, ops := rebuildFromOutput(t, verify, out)
	for _, table := range []string{"a", "b"} {
		want := selectRows(ctx, t, srv, tc.db+"."+table, map[string]string{"a": "v", "b": "n"}[table])
		compareRebuilt(t, table, tables[table], want)
	}
	// One more than the workload: the marker row.
	rowChanges := ops["insert"] + ops["update"] + ops["delete"]
	if want := prog.changes.Load() + 1; int64(rowChanges) != want {
		t.Errorf("%d distinct row changes in the stream, the workload's statements affected %d (+1 marker); all changes by op: %v", rowChanges, want-1, ops)
	}
	reconnects := strings.Count(logs.String(), "binlog connection lost, reconnecting")
	cuts := proxy.Cuts()
	t.Logf("%s: %d row changes in %d transactions (%d statements); stream: %d distinct row changes (%d changes with DDL), %d delivered again after kills; "+
		"%d SIGKILLs at row changes %v; %d connection cuts by the proxy, %d reconnects inside sluice processes; "+
		"MariaDB restarted once at half way (workloads held %v); catch-up after the workload %v; final rows a=%d b=%d",
		tc.name, prog.changes.Load(), prog.txs.Load(), prog.stmts.Load(), rowChanges, unique, dups, len(killedAt), killedAt, cuts, reconnects,
		time.Duration(restart.paused.Load()).Round(time.Millisecond), caughtUp.Round(time.Millisecond), len(tables["a"]), len(tables["b"]))
	if prog.changes.Load() < killChanges {
		t.Errorf("the workload wrote only %d row changes", prog.changes.Load())
	}
	if cuts < 5 {
		t.Errorf("the proxy cut only %d connections", cuts)
	}
	if reconnects < 1 {
		t.Errorf("no sluice process ever reconnected (cuts %d, restart): the proxy and the restart did not test reconnection", cuts)
	}
}

// waitForMarker waits until the file at path contains marker after offset
// from, reading only what was appended since the last look (the test
// process must stay light: the proxy runs in it).
func waitForMarker(ctx context.Context, path string, from int64, marker []byte) error {
	off := from
	var carry []byte
	for {
		f, err := os.Open(path)
		if err == nil {
			f.Seek(off, io.SeekStart)
			data, _ := io.ReadAll(f)
			f.Close()
			off += int64(len(data))
			buf := append(carry, data...)
			if bytes.Contains(buf, marker) {
				return nil
			}
			carry = append([]byte(nil), buf[max(0, len(buf)-len(marker)):]...)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no %q after %d bytes: %w", path, marker, off, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// killWorkloadRun writes transactions to tc.db.a and tc.db.b until they
// affected tc.target() row changes, paced to take about killPace (not
// counting the restart). It counts committed row changes in prog and tells
// restart when it is half done.
func killWorkloadRun(ctx context.Context, srv *testenv.MariaDB, restart *killRestart, tc killTestCase, prog *killProgress) error {
	rng := rand.New(rand.NewPCG(tc.seed, 42))
	next := map[string]int{"a": 1, "b": 1}
	began := time.Now()
	half := false
	// A workload that fails early still lets the restart go ahead, so the
	// other mode does not wait for it until the timeout.
	defer func() {
		if !half {
			restart.halfway()
		}
	}()
	target := tc.target()
	for prog.changes.Load() < target {
		restart.mu.RLock()
		n, stmts, err := killTx(ctx, srv, rng, tc.db, next)
		restart.mu.RUnlock()
		if err != nil {
			return err
		}
		prog.txs.Add(1)
		prog.stmts.Add(int64(stmts))
		done := prog.changes.Add(n)
		if !half && done >= target/2 {
			half = true
			restart.halfway()
		}
		// Pace: done changes are due at done/target of killPace.
		due := time.Duration(float64(killPace) * float64(done) / float64(target))
		if ahead := due - (time.Since(began) - time.Duration(restart.paused.Load())); ahead > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(ahead):
			}
		}
	}
	return nil
}

// killTx runs one random transaction of 1..4 multi-row statements and
// returns the row changes its statements affected.
func killTx(ctx context.Context, srv *testenv.MariaDB, rng *rand.Rand, db string, next map[string]int) (int64, int, error) {
	pool, err := srv.DB()
	if err != nil {
		return 0, 0, err
	}
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	var affected int64
	stmts := 1 + rng.IntN(4)
	for i := 0; i < stmts; i++ {
		table := []string{"a", "b"}[rng.IntN(2)]
		full := db + "." + table
		col := map[string]string{"a": "v", "b": "n"}[table]
		// Ranges fall in the recent key space, where most rows live.
		lo := max(1, next[table]-rng.IntN(6000))
		var q string
		switch r := rng.IntN(20); {
		case r < 9: // multi-row insert
			rows := 20 + rng.IntN(180)
			vals := make([]string, rows)
			for i := range vals {
				vals[i] = fmt.Sprintf("(%d,%d,'s%d-%d')", next[table], rng.IntN(1<<30), next[table], rng.IntN(1000))
				next[table]++
			}
			q = "INSERT INTO " + full + " VALUES " + strings.Join(vals, ",")
		case r < 14: // range update
			q = fmt.Sprintf("UPDATE %s SET %s = %s + 1, s = 'u%d' WHERE id BETWEEN %d AND %d", full, col, col, rng.IntN(1000), lo, lo+10+rng.IntN(110))
		case r < 17: // primary-key move of a range, to fresh keys
			hi := lo + 5 + rng.IntN(55)
			q = fmt.Sprintf("UPDATE %s SET id = id - %d + %d WHERE id BETWEEN %d AND %d", full, lo, next[table], lo, hi)
			next[table] += hi - lo + 1
		default: // range delete
			q = fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d", full, lo, lo+3+rng.IntN(37))
		}
		res, err := tx.ExecContext(ctx, q)
		if err != nil {
			tx.Rollback()
			return 0, 0, fmt.Errorf("%.200s: %w", q, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			tx.Rollback()
			return 0, 0, err
		}
		affected += n
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return affected, stmts, nil
}

// rebuildFromOutput runs testdata/killverify on the output file: it checks
// the order of positions and that repeats are identical, and rebuilds the
// tables (table -> key text -> row text) from the distinct row changes. It
// returns them with the counts of distinct changes, repeats, and distinct
// changes by op name. flags go to killverify before the file.
func rebuildFromOutput(t *testing.T, verify, out string, flags ...string) (tables map[string]map[string]string, unique, dups int, ops map[string]int) {
	t.Helper()
	cmd := exec.Command(verify, append(flags, out)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("killverify %s: %v\n%s", out, err, stderr.Bytes())
	}
	tables, ops = map[string]map[string]string{}, map[string]int{}
	sawStats := false
	for _, line := range strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n") {
		var fields []string
		for _, q := range strings.Split(line, "\t") {
			f, err := strconv.Unquote(q)
			if err != nil {
				t.Fatalf("killverify: bad output line %q: %v", line, err)
			}
			fields = append(fields, f)
		}
		switch {
		case fields[0] == "error" && len(fields) == 2:
			t.Errorf("stream: %s", fields[1])
		case fields[0] == "row" && len(fields) == 4:
			if tables[fields[1]] == nil {
				tables[fields[1]] = map[string]string{}
			}
			tables[fields[1]][fields[2]] = fields[3]
		case fields[0] == "stats" && len(fields) >= 3:
			sawStats = true
			unique, _ = strconv.Atoi(fields[1])
			dups, _ = strconv.Atoi(fields[2])
			for _, kv := range fields[3:] {
				k, v, _ := strings.Cut(kv, "=")
				ops[k], _ = strconv.Atoi(v)
			}
		default:
			t.Fatalf("killverify: unexpected output line %q", line)
		}
	}
	if !sawStats {
		t.Fatalf("killverify: no stats line in its output")
	}
	return tables, unique, dups, ops
}

// selectRows reads a three-column table as key text -> row text.
func selectRows(ctx context.Context, t *testing.T, srv *testenv.MariaDB, table, col string) map[string]string {
	t.Helper()
	pool, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := pool.QueryContext(ctx, "SELECT CAST(id AS CHAR), CAST("+col+" AS CHAR), s FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		var id, v, s string
		if err := rs.Scan(&id, &v, &s); err != nil {
			t.Fatal(err)
		}
		out[id] = id + "|" + v + "|" + s
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// compareRebuilt reports every difference between a table rebuilt from the
// stream and the table as SELECT shows it (both keyed by primary key),
// stopping after 20 differing rows.
func compareRebuilt(t *testing.T, table string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("table %s: rebuilt %d rows, SELECT has %d", table, len(got), len(want))
	}
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("table %s: row %s missing from the stream", table, k)
			bad++
		} else if g != w {
			t.Errorf("table %s: row %s: stream %q, SELECT %q", table, k, g, w)
			bad++
		}
		if bad > 20 {
			t.Fatalf("table %s: more than 20 rows differ", table)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("table %s: row %s in the stream, not in the table", table, k)
		}
	}
}

// spansRestart reports whether one of the process lives (start, end) began
// before a server restart began and ended after it ended.
// lockSettled takes mu (write) once the newest sluice process, started at
// *born (unix nanoseconds), has run for a second, so that a restart under
// the lock happens under a process that is past its first connection.
// The kill loops take mu (read) before each kill, so that process lives
// through the restart. It gives up waiting after 30 s.
func lockSettled(mu *sync.RWMutex, born *atomic.Int64) {
	for deadline := time.Now().Add(30 * time.Second); ; {
		mu.Lock()
		if time.Since(time.Unix(0, born.Load())) >= time.Second || time.Now().After(deadline) {
			return
		}
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
}

func spansRestart(lives [][2]time.Time, began, ended time.Time) bool {
	for _, l := range lives {
		if l[0].Before(began) && l[1].After(ended) {
			return true
		}
	}
	return false
}

// buildKillBinaries builds plain (not race-enabled) sluice and
// testdata/killverify binaries for the SIGKILL tests: the child must keep
// up with the workload on a loaded machine, and decoding 100 MB of output
// under -race would take minutes.
func buildKillBinaries(t *testing.T) (bin, verify string) {
	t.Helper()
	bins := t.TempDir()
	bin, verify = filepath.Join(bins, "sluice"), filepath.Join(bins, "killverify")
	for _, b := range [][2]string{{bin, "."}, {verify, "./testdata/killverify"}} {
		build := exec.Command("go", "build", "-o", b[0], b[1])
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return bin, verify
}
