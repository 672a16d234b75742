package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// killTestCase is one run of TestStreamMariaDBSIGKILL.
type killTestCase struct {
	name     string
	db       string // database the workload writes, the only one streamed
	query    string // extra source URL query parameters
	restart  bool   // stop and start MariaDB once in the middle
	serverID int
}

// TestStreamMariaDBSIGKILL runs "sluice stream mysql://…" as a separate
// process (the test binary's TestStreamMainProcess helper, which runs main's
// run) while a workload writes multi-row transactions to two tables, and
// kills it with SIGKILL at 20 random moments, restarting it each time. At
// the end it lets the stream catch up and stops it with SIGINT. The output,
// deduplicated by position, must be in strictly increasing position order
// (a re-delivered change is only ever one already seen, with the same
// content) and must rebuild both tables exactly as SELECT shows them.
// It runs in file+position mode and in GTID mode; the GTID run also
// restarts MariaDB once in the middle.
func TestStreamMariaDBSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and kills sluice 40 times")
	}
	// A plain (not race-enabled) build: the child must keep up with the
	// workload on a loaded machine.
	bin := filepath.Join(t.TempDir(), "sluice")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	// Both runs go at once against one server; the restart in one takes
	// mu, which both workloads take around each transaction.
	var mu sync.Mutex
	for _, tc := range []killTestCase{
		{name: "filepos", db: "kfile", serverID: 5101},
		{name: "gtid", db: "kgtid", query: "&gtid=on", restart: true, serverID: 5102},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runKillTest(t, bin, srv, &mu, tc)
		})
	}
}

// Workload and kill schedule. The workload runs for killWorkload (bounded
// also by killMaxTx transactions); the kills fall at random moments inside
// it. Everything is bounded by the test's own context.
const (
	killCount    = 20
	killWorkload = 10 * time.Second
	killMaxTx    = 4000
	killTxPause  = 4 * time.Millisecond
	killCatchUp  = 45 * time.Second
)

func runKillTest(t *testing.T, bin string, srv *testenv.MariaDB, mu *sync.Mutex, tc killTestCase) {
	ctx, cancel := context.WithTimeout(context.Background(), killWorkload+killCatchUp+30*time.Second)
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
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d%s", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, srv.Addr(), tc.serverID, tc.query)
	args := []string{"stream", srcURL, "--to", "file://" + out, "--state", state,
		"--from", "earliest", "--include", tc.db + `\..*`, "--checkpoint-interval", "200ms"}
	var logs bytes.Buffer // all children's stderr, in turn
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

	// The workload; restarts of MariaDB take mu so that no transaction
	// straddles one.
	wctx, wcancel := context.WithTimeout(ctx, killWorkload)
	defer wcancel()
	wdone := make(chan error, 1)
	var txs int
	go func() {
		var err error
		txs, err = killWorkloadRun(wctx, srv, mu, tc.db)
		wdone <- err
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(tc.serverID)))
	avg := killWorkload / (killCount + 1)
	for i := 0; i < killCount; i++ {
		cmd := start()
		wait := avg/4 + time.Duration(rng.Int64N(int64(avg)*3/2))
		if tc.restart && i == killCount/2 {
			time.Sleep(wait / 2)
			mu.Lock()
			if err := srv.Stop(ctx); err != nil {
				mu.Unlock()
				t.Fatalf("stop MariaDB: %v", err)
			}
			time.Sleep(500 * time.Millisecond)
			err := srv.Start(ctx)
			mu.Unlock()
			if err != nil {
				t.Fatalf("start MariaDB: %v", err)
			}
			wait /= 2
		}
		time.Sleep(wait)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	if err := <-wdone; err != nil {
		t.Fatalf("workload: %v", err)
	}
	mu.Lock()
	err = srv.Exec(ctx, `INSERT INTO `+tc.db+`.fin VALUES (1, 'caught-up-marker')`)
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	// Catch up: the fin row is the last change, so once it is in the file
	// everything before it is too.
	cmd := start()
	for {
		data, _ := os.ReadFile(out)
		if bytes.Contains(data, []byte(`caught-up-marker`)) {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("stream did not catch up: %d row lines\n%s", rowLines(data), tail(logs.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice stream after SIGINT: %v\n%s", err, tail(logs.String(), 4000))
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	tables, unique, dups := rebuildFromLines(t, data)
	for _, table := range []string{"a", "b"} {
		var want map[string]string
		func() {
			mu.Lock()
			defer mu.Unlock()
			want = selectRows(ctx, t, srv, tc.db+"."+table, map[string]string{"a": "v", "b": "n"}[table])
		}()
		got := tables[table]
		if len(got) != len(want) {
			t.Errorf("table %s: rebuilt %d rows, SELECT has %d", table, len(got), len(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok {
				t.Errorf("table %s: row %s missing from the stream", table, k)
			} else if g != w {
				t.Errorf("table %s: row %s: stream %q, SELECT %q", table, k, g, w)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("table %s: row %s in the stream, not in the table", table, k)
			}
		}
	}
	t.Logf("%d transactions, %d row changes delivered (%d more delivered again after kills), %d kills, final rows a=%d b=%d",
		txs, unique, dups, killCount, len(tables["a"]), len(tables["b"]))
	if unique < 1000 {
		t.Errorf("only %d row changes: the workload did not run", unique)
	}
}

// killWorkloadRun writes transactions of 1..6 statements (multi-row
// inserts, range updates, range deletes, key changes) to db.a and db.b
// until ctx ends or killMaxTx transactions. It returns how many committed.
func killWorkloadRun(ctx context.Context, srv *testenv.MariaDB, mu *sync.Mutex, db string) (int, error) {
	rng := rand.New(rand.NewPCG(1, uint64(len(db))))
	next := map[string]int{"a": 1, "b": 1}
	n := 0
	for ; n < killMaxTx && ctx.Err() == nil; n++ {
		mu.Lock()
		err := killTx(ctx, srv, rng, db, next)
		mu.Unlock()
		time.Sleep(killTxPause)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return n, err
		}
	}
	return n, nil
}

// killTx runs one random transaction.
func killTx(ctx context.Context, srv *testenv.MariaDB, rng *rand.Rand, db string, next map[string]int) error {
	pool, err := srv.DB()
	if err != nil {
		return err
	}
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for stmts := 1 + rng.IntN(6); stmts > 0; stmts-- {
		table := []string{"a", "b"}[rng.IntN(2)]
		full := db + "." + table
		col := map[string]string{"a": "v", "b": "n"}[table]
		lo := 1 + rng.IntN(next[table])
		var q string
		switch r := rng.IntN(10); {
		case r < 5: // multi-row insert
			rows := 1 + rng.IntN(12)
			vals := make([]string, rows)
			for i := range vals {
				vals[i] = fmt.Sprintf("(%d, %d, 's%d-%d')", next[table], rng.IntN(1<<30), next[table], rng.IntN(1000))
				next[table]++
			}
			q = "INSERT INTO " + full + " VALUES " + strings.Join(vals, ", ")
		case r < 8: // range update
			q = fmt.Sprintf("UPDATE %s SET %s = %s + 1, s = 'u%d' WHERE id BETWEEN %d AND %d", full, col, col, rng.IntN(1000), lo, lo+rng.IntN(8))
		case r < 9: // key change, to a fresh key
			q = fmt.Sprintf("UPDATE %s SET id = %d WHERE id = %d", full, next[table], lo)
			next[table]++
		default: // range delete
			q = fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d", full, lo, lo+rng.IntN(4))
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit()
}

// rebuildFromLines applies the stream's row changes, deduplicated by
// position, to in-memory tables: table -> key text -> row text. A line
// whose position is not past the last new one must be a repeat of a change
// already seen, with the same content; anything else is out of order.
func rebuildFromLines(t *testing.T, data []byte) (tables map[string]map[string]string, unique, dups int) {
	t.Helper()
	tables = map[string]map[string]string{}
	seen := map[change.Position]string{}
	var last change.Position
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, line := range lines {
		c, err := change.DecodeJSON([]byte(line))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		digest := c.Op.String() + " " + c.Table + " " + rowText(c.Before) + " " + rowText(c.After)
		if unique > 0 && change.Compare(c.Pos, last) <= 0 {
			if prev, ok := seen[c.Pos]; !ok {
				t.Fatalf("line %d: position %s after %s, never delivered before: out of order", i+1, c.Pos, last)
			} else if prev != digest {
				t.Fatalf("line %d: position %s delivered again with other content:\n first %s\n again %s", i+1, c.Pos, prev, digest)
			}
			dups++
			continue
		}
		seen[c.Pos], last = digest, c.Pos
		unique++
		rows := tables[c.Table]
		if rows == nil {
			rows = map[string]string{}
			tables[c.Table] = rows
		}
		switch c.Op {
		case change.OpInsert:
			rows[keyText(c.After)] = rowText(c.After)
		case change.OpUpdate:
			delete(rows, keyText(c.Before))
			rows[keyText(c.After)] = rowText(c.After)
		case change.OpDelete:
			if _, ok := rows[keyText(c.Before)]; !ok {
				t.Errorf("line %d: delete of row %s never inserted", i+1, keyText(c.Before))
			}
			delete(rows, keyText(c.Before))
		}
	}
	return tables, unique, dups
}

func keyText(row []change.Value) string { return string(change.AppendText(nil, row[0])) }

func rowText(row []change.Value) string {
	parts := make([]string, len(row))
	for i, v := range row {
		parts[i] = string(change.AppendText(nil, v))
	}
	return strings.Join(parts, "|")
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
