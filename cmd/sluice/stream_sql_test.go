package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/verify"
)

// sqlKillCase is one target of TestStreamSQLSIGKILL.
type sqlKillCase struct {
	killTestCase
	engine string // "mariadb" or "postgres"
}

// TestStreamSQLSIGKILL is the exactly-once test of the SQL sink. A
// workload writes 200,000 row changes (20,000 with -short) in multi-row
// transactions to two tables of a MariaDB source (multi-row inserts,
// range updates, primary-key moves, range deletes), and "sluice stream
// mysql://… --to mysql://…" and "--to postgres://…" (the real binary)
// apply them to a MariaDB and a PostgreSQL target, each reached through a
// TCP proxy that cuts every connection every 2 s. Each sluice process is
// killed with SIGKILL at 20 moments spread over the workload (5 with
// -short) and restarted; both target servers are stopped and started once
// in the middle, under running sluice processes. At the end each stream
// catches up to a marker row and is stopped with SIGINT. Then every table
// of the target must equal the source's by sluice verify, and by an
// independent check: CHECKSUM TABLE on the MariaDB target, a sorted dump
// of each table compared line by line on the PostgreSQL target.
func TestStreamSQLSIGKILL(t *testing.T) {
	changes, kills := int64(killChanges), killCount
	if testing.Short() {
		changes, kills = 20_000, 5
	}
	bin, _ := buildKillBinaries(t)
	src := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	dstM := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	dstP := testenv.NewPostgres(t, testenv.PostgresOptions{})
	cases := []sqlKillCase{
		{killTestCase{name: "to-mariadb", db: "ksm", serverID: 5301, seed: 21, changes: changes}, "mariadb"},
		{killTestCase{name: "to-postgres", db: "ksp", serverID: 5302, seed: 22, changes: changes}, "postgres"},
	}
	// The targets restart once both workloads are half done; the
	// workloads do not pause (only the source would need that).
	half := &killRestart{want: len(cases), half: make(chan struct{}), done: make(chan struct{})}
	tr := &targetRestart{half: half.half, done: make(chan struct{})}
	go tr.run(dstM, dstP)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runSQLKillTest(t, bin, src, dstM, dstP, half, tr, tc, kills)
		})
	}
}

// targetRestart stops and starts both target servers once the workloads
// are half done.
type targetRestart struct {
	half chan struct{}
	done chan struct{}
	// restarting is set while the targets are down: a kill then waits, so
	// that a sluice process lives through the restart.
	restarting   atomic.Bool
	err          error
	began, ended time.Time
}

func (r *targetRestart) run(m *testenv.MariaDB, p *testenv.Postgres) {
	defer close(r.done)
	select {
	case <-r.half:
	case <-time.After(killTimeout):
		r.err = errors.New("the workloads never reached half way")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r.began = time.Now()
	r.restarting.Store(true)
	defer func() { r.ended = time.Now() }()
	for _, s := range []interface {
		Stop(context.Context) error
		Start(context.Context) error
	}{m, p} {
		if err := s.Stop(ctx); err != nil {
			r.err = fmt.Errorf("stop a target: %w", err)
			return
		}
	}
	time.Sleep(500 * time.Millisecond)
	for _, s := range []interface{ Start(context.Context) error }{m, p} {
		if err := s.Start(ctx); err != nil {
			r.err = fmt.Errorf("start a target: %w", err)
			return
		}
	}
}

func runSQLKillTest(t *testing.T, bin string, src, dstM *testenv.MariaDB, dstP *testenv.Postgres, half *killRestart, tr *targetRestart, tc sqlKillCase, kills int) {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout+2*time.Minute)
	defer cancel()
	err := src.Exec(ctx,
		`CREATE DATABASE `+tc.db+` CHARACTER SET utf8mb4`,
		`CREATE TABLE `+tc.db+`.a (id int PRIMARY KEY, v int NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+tc.db+`.b (id bigint PRIMARY KEY, n bigint NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+tc.db+`.fin (id int PRIMARY KEY, s varchar(20))`,
	)
	if err != nil {
		t.Fatal(err)
	}
	var proxy *testenv.Proxy
	var sinkURL, verifyURL string
	if tc.engine == "mariadb" {
		proxy = testenv.NewProxy(t, dstM.Addr(), killCutEach)
		u := url.URL{Scheme: "mysql", User: url.UserPassword(testenv.MariaDBRootUser, testenv.MariaDBRootPassword), Host: proxy.Addr(), Path: "/sluice", RawQuery: "create-tables=on"}
		sinkURL = u.String()
		u.Host, u.Path, u.RawQuery = dstM.Addr(), "/"+tc.db, ""
		verifyURL = u.String()
	} else {
		proxy = testenv.NewProxy(t, dstP.Addr(), killCutEach)
		u := url.URL{Scheme: "postgres", User: url.UserPassword(testenv.PostgresUser, testenv.PostgresPassword), Host: proxy.Addr(), Path: "/postgres", RawQuery: "sslmode=disable&create-tables=on"}
		sinkURL = u.String()
		u.Host, u.RawQuery = dstP.Addr(), "sslmode=disable"
		verifyURL = u.String()
	}
	srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, src.Addr(), tc.serverID)
	args := []string{"stream", srcURL, "--to", sinkURL, "--id", tc.name, "--from", "earliest", "--include", tc.db + `\..*`, "--checkpoint-interval", "200ms"}
	var logs testenv.Logs
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
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
	go func() { wdone <- killWorkloadRun(ctx, src, half, tc.killTestCase, &prog) }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(tc.serverID)))
	var lives [][2]time.Time
	var killedAt []int64
	var workErr error
	workDone := false
	target := tc.target()
	for i := 0; i < kills; i++ {
		born := time.Now()
		cmd := start()
		at := int64((float64(i) + 0.15 + 0.7*rng.Float64()) / float64(kills) * float64(target))
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
		if tr.restarting.Load() {
			<-tr.done
		}
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
	<-tr.done
	if tr.err != nil {
		t.Fatal(tr.err)
	}
	if err := src.Exec(ctx, `INSERT INTO `+tc.db+`.fin VALUES (1, 'caught-up-marker')`); err != nil {
		t.Fatal(err)
	}
	catchUp := time.Now()
	logsBefore := logs.Len()
	cmd := start()
	lives = append(lives, [2]time.Time{catchUp, time.Now().Add(time.Hour)})
	if err := waitForTargetRow(ctx, tc.engine, dstM, dstP, tc.db+".fin"); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("stream did not catch up: %v\n%s", err, tail(logs.String(), 4000))
	}
	caughtUp := time.Since(catchUp)
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice stream after SIGINT: %v\n%s", err, tail(logs.String(), 4000))
	}
	all := logs.String()
	t.Logf("%s: the last sluice process (caught up in %v) logged:\n%s", tc.name, caughtUp.Round(time.Millisecond), tail(all[logsBefore:], 2500))
	if !spansRestart(lives, tr.began, tr.ended) {
		t.Errorf("no sluice process ran through the target restart (%v .. %v)", tr.began, tr.ended)
	}

	// sluice verify, in-process: every table equal.
	srcVerify := fmt.Sprintf("mysql://%s:%s@%s/%s", testenv.MariaDBRootUser, url.QueryEscape(testenv.MariaDBRootPassword), src.Addr(), tc.db)
	var results []*verify.TableResult
	sum, err := verify.Run(ctx, verify.Config{Source: srcVerify, Target: verifyURL, Tables: []string{tc.db}, Recheck: -1},
		func(r *verify.TableResult) { results = append(results, r) })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Equal() {
			t.Errorf("verify %s: %+v", r.Source, r)
		}
	}
	if sum.Equal != 3 {
		t.Errorf("verify: %d of 3 tables equal", sum.Equal)
	}
	// The independent check.
	for _, table := range []string{"a", "b", "fin"} {
		full := tc.db + "." + table
		if tc.engine == "mariadb" {
			if a, b := checksumTable(ctx, t, src, full), checksumTable(ctx, t, dstM, full); a != b {
				t.Errorf("CHECKSUM TABLE %s: source %s, target %s", full, a, b)
			}
		} else {
			a, b := mariaDump(ctx, t, src, full), pgDump(ctx, t, dstP, full)
			if len(a) != len(b) {
				t.Errorf("%s: %d rows in the source, %d in the target", full, len(a), len(b))
			}
			for i := 0; i < min(len(a), len(b)); i++ {
				if a[i] != b[i] {
					t.Fatalf("%s: sorted dumps differ at line %d: source %q, target %q", full, i+1, a[i], b[i])
				}
			}
		}
	}
	reconnects := strings.Count(all, "apply failed, reconnecting")
	t.Logf("%s: %d row changes in %d transactions; %d SIGKILLs at row changes %v; %d connection cuts by the proxy, %d reconnects inside sluice processes; targets restarted once; catch-up %v; %d source rows compared",
		tc.name, prog.changes.Load(), prog.txs.Load(), len(killedAt), killedAt, proxy.Cuts(), reconnects, caughtUp.Round(time.Millisecond), sum.SourceRows)
	if proxy.Cuts() < 5 {
		t.Errorf("the proxy cut only %d connections", proxy.Cuts())
	}
	if reconnects < 1 {
		t.Errorf("no sluice process ever reconnected: the cuts and the restart did not test reconnection")
	}
	if strings.Contains(all, testenv.MariaDBRootPassword) || strings.Contains(all, testenv.PostgresPassword) {
		t.Errorf("a password appears in the log")
	}
}

// waitForTargetRow waits until table holds a row on the target.
func waitForTargetRow(ctx context.Context, engine string, m *testenv.MariaDB, p *testenv.Postgres, table string) error {
	for {
		var n int
		var err error
		if engine == "mariadb" {
			pool, perr := m.DB()
			if perr == nil {
				err = pool.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
			} else {
				err = perr
			}
		} else {
			var conn *pgx.Conn
			conn, err = p.Connect(ctx, "postgres")
			if err == nil {
				err = conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
				conn.Close(ctx)
			}
		}
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no row in %s (last error: %v): %w", table, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checksumTable returns CHECKSUM TABLE's sum of a MariaDB table.
func checksumTable(ctx context.Context, t *testing.T, s *testenv.MariaDB, table string) string {
	t.Helper()
	pool, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var sum *string
	if err := pool.QueryRowContext(ctx, "CHECKSUM TABLE "+table+" EXTENDED").Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	if sum == nil {
		return "NULL"
	}
	return *sum
}

// mariaDump returns the rows of a three-column table, sorted by key, as
// "id|v|s" lines.
func mariaDump(ctx context.Context, t *testing.T, s *testenv.MariaDB, table string) []string {
	t.Helper()
	pool, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := pool.QueryContext(ctx, "SELECT CONCAT_WS('|', id, "+map[bool]string{true: "n", false: "v"}[strings.HasSuffix(table, ".b")]+", s) FROM "+table+" ORDER BY id")
	if strings.HasSuffix(table, ".fin") {
		rs, err = pool.QueryContext(ctx, "SELECT CONCAT_WS('|', id, s) FROM "+table+" ORDER BY id")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

// pgDump is mariaDump on PostgreSQL.
func pgDump(ctx context.Context, t *testing.T, p *testenv.Postgres, table string) []string {
	t.Helper()
	conn, err := p.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := "SELECT concat_ws('|', id, " + map[bool]string{true: "n", false: "v"}[strings.HasSuffix(table, ".b")] + ", s) FROM " + table + " ORDER BY id"
	if strings.HasSuffix(table, ".fin") {
		q = "SELECT concat_ws('|', id, s) FROM " + table + " ORDER BY id"
	}
	rs, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var line string
		if err := rs.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

// TestStreamSQLSnapshot copies a MariaDB database that already holds rows
// into PostgreSQL with nothing but "sluice stream … --to postgres://…":
// the stream begins with a snapshot of the tables (their rows applied as
// upserts into tables the sink creates), then follows the binlog; the
// copy equals the source by sluice verify after the snapshot, and again
// after more changes and a restart (which resumes from the position in
// the target, with no state file).
func TestStreamSQLSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	dst := testenv.NewPostgres(t, testenv.PostgresOptions{})
	if err := src.Exec(ctx, "CREATE DATABASE snap",
		"CREATE TABLE snap.t (id int PRIMARY KEY, v varchar(20), d decimal(8,2), at datetime(3))",
		"INSERT INTO snap.t SELECT seq, CONCAT('v', seq), seq / 4, TIMESTAMPADD(SECOND, seq, '2026-01-01') FROM snap.seq_1_to_20000",
		"CREATE TABLE snap.u (k varchar(10) PRIMARY KEY, n bigint)", "INSERT INTO snap.u VALUES ('a', 1), ('b', 2)"); err != nil {
		t.Fatal(err)
	}
	srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=5401", testenv.MariaDBRootUser, url.QueryEscape(testenv.MariaDBRootPassword), src.Addr())
	dstURL := (&url.URL{Scheme: "postgres", User: url.UserPassword(testenv.PostgresUser, testenv.PostgresPassword), Host: dst.Addr(), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	// streamUntil runs sluice stream until the marker row is in the
	// target. The marker is inserted once the stream runs (and, with
	// afterSnapshot, once the snapshot's rows are all there): it comes
	// through the binlog, after everything before it.
	streamUntil := func(marker string, afterSnapshot bool) string {
		t.Helper()
		sctx, stop := context.WithCancel(ctx)
		var out, errb testenv.Logs
		done := make(chan int, 1)
		go func() {
			done <- run(sctx, &env{Stdout: &out, Stderr: &errb}, []string{"stream", srcURL, "--include", `snap\..*`, "--id", "snap",
				"--to", dstURL + "&create-tables=on", "--state", t.TempDir() + "/unused.db"})
		}()
		var err error
		if afterSnapshot {
			err = waitForTargetRowWhere(ctx, dst, "snap.u", "k = 'b'")
		}
		if err == nil {
			err = src.Exec(ctx, "INSERT INTO snap.u VALUES ('"+marker+"', 0)")
		}
		if err == nil {
			err = waitForTargetRowWhere(ctx, dst, "snap.u", "k = '"+marker+"'")
		}
		stop()
		if code := <-done; code != 0 || err != nil {
			t.Fatalf("stream: exit %d, %v\n%s", code, err, errb.String())
		}
		return errb.String()
	}
	compare := func() {
		t.Helper()
		srcV := fmt.Sprintf("mysql://%s:%s@%s/snap", testenv.MariaDBRootUser, url.QueryEscape(testenv.MariaDBRootPassword), src.Addr())
		var bad []string
		sum, err := verify.Run(ctx, verify.Config{Source: srcV, Target: dstURL, Recheck: -1}, func(r *verify.TableResult) {
			if !r.Equal() {
				bad = append(bad, fmt.Sprintf("%+v", *r))
			}
		})
		if err != nil || sum.Equal != 2 || len(bad) > 0 {
			t.Fatalf("verify: %v, %d of 2 tables equal: %v", err, sum.Equal, bad)
		}
	}
	logs := streamUntil("m1", true)
	if !strings.Contains(logs, "snapshot") {
		t.Errorf("no snapshot in the log:\n%s", logs)
	}
	compare()
	if err := src.Exec(ctx, "UPDATE snap.t SET v = 'changed' WHERE id % 7 = 0", "DELETE FROM snap.t WHERE id % 11 = 0",
		"UPDATE snap.u SET k = 'c' WHERE k = 'a'"); err != nil {
		t.Fatal(err)
	}
	logs = streamUntil("m2", false)
	if !strings.Contains(logs, "resuming") {
		t.Errorf("the second run did not resume from the target's position:\n%s", logs)
	}
	compare()
}

// waitForTargetRowWhere waits until PostgreSQL's table holds a row matching cond.
func waitForTargetRowWhere(ctx context.Context, p *testenv.Postgres, table, cond string) error {
	for {
		conn, err := p.Connect(ctx, "postgres")
		var n int
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE "+cond).Scan(&n)
			conn.Close(ctx)
		}
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no row %s in %s (last error: %v)", cond, table, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
