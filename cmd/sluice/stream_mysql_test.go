package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
)

const streamMainEnv = "SLUICE_STREAM_MAIN_ARGS"

// TestStreamMainProcess is a helper process: it runs sluice as main does,
// signals included, with the arguments in streamMainEnv.
func TestStreamMainProcess(t *testing.T) {
	args := os.Getenv(streamMainEnv)
	if args == "" {
		t.Skip("helper process for TestStreamMariaDBEndToEnd")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, strings.Split(args, "\n"))
	stop()
	os.Exit(code)
}

// rowLines counts the row-change lines of a JSON-lines file.
func rowLines(data []byte) int {
	n := 0
	for _, op := range []string{`"op":"insert"`, `"op":"update"`, `"op":"delete"`} {
		n += bytes.Count(data, []byte(op))
	}
	return n
}

// TestStreamMariaDBEndToEnd runs "sluice stream mysql://…" against a real
// MariaDB through the registered mysql source: stop as on SIGINT, write
// more, restart from the state file, and check every row change is in the
// file once, in order, with the filtered table absent.
func TestStreamMariaDBEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := srv.Exec(ctx,
		`CREATE DATABASE shop`,
		`CREATE TABLE shop.items (id int PRIMARY KEY, name varchar(20))`,
		`CREATE TABLE shop.noise (id int PRIMARY KEY)`,
		`BEGIN`, `INSERT INTO shop.items VALUES (1, 'a'), (2, 'b')`, `INSERT INTO shop.noise VALUES (1)`, `INSERT INTO shop.items VALUES (3, 'c')`, `COMMIT`,
		`UPDATE shop.items SET name = 'B' WHERE id = 2`,
	)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	srcURL := "mysql://" + testenv.MariaDBReplUser + ":" + testenv.MariaDBReplPassword + "@" + srv.Addr() + "/?server-id=4242"

	streamUntil := func(want int) {
		t.Helper()
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		var logs bytes.Buffer
		done := make(chan error, 1)
		go func() {
			e := &env{Stdout: &bytes.Buffer{}, Stderr: &logs}
			done <- streamWith(runCtx, e, []string{srcURL, "--to", "file://" + out, "--state", state,
				"--from", "earliest", "--include", `shop\.items`, "--checkpoint-interval", "0"}, source.Default(), sinks.Builtin())
		}()
		for n := 0; n < want; {
			select {
			case err := <-done:
				t.Fatalf("stream ended early: %v\n%s", err, logs.String())
			case <-time.After(20 * time.Millisecond):
			}
			data, _ := os.ReadFile(out)
			n = rowLines(data)
			if ctx.Err() != nil {
				t.Fatalf("file has %d row lines, want %d:\n%s\n%s", n, want, data, logs.String())
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Fatalf("stream after cancel: %v\n%s", err, logs.String())
		}
		if strings.Contains(logs.String(), testenv.MariaDBReplPassword) {
			t.Errorf("logs show the password:\n%s", logs.String())
		}
	}

	streamUntil(4)
	if err := srv.Exec(ctx, `INSERT INTO shop.items VALUES (4, 'd')`, `DELETE FROM shop.items WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	streamUntil(6)

	// Third run as a user types it: a separate process, stopped by SIGINT.
	if err := srv.Exec(ctx, `INSERT INTO shop.items VALUES (5, 'e')`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStreamMainProcess$")
	cmd.Env = append(os.Environ(), streamMainEnv+"="+strings.Join([]string{"stream", srcURL, "--to", "file://" + out, "--state", state,
		"--include", `shop\.items`}, "\n"))
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		data, _ := os.ReadFile(out)
		if rowLines(data) >= 7 {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			t.Fatalf("row 5 never arrived:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice stream after SIGINT: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "stopped by signal") || strings.Contains(logs.String(), testenv.MariaDBReplPassword) {
		t.Errorf("logs of the signalled run:\n%s", logs.String())
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
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
		if c.Table == "noise" {
			t.Errorf("line %d: filtered table delivered: %s", i+1, line)
		}
		switch c.Op {
		case change.OpInsert, change.OpUpdate, change.OpDelete:
			img := c.After
			if c.Op == change.OpDelete {
				img = c.Before
			}
			rows = append(rows, c.Op.String()+":"+string(change.AppendText(nil, img[0])))
		}
	}
	want := "insert:1 insert:2 insert:3 update:2 insert:4 delete:1 insert:5"
	if strings.Join(rows, " ") != want {
		t.Errorf("rows:\n got %s\nwant %s\n%s", strings.Join(rows, " "), want, data)
	}
}

// TestStreamMariaDBStopAt runs "sluice stream --stop-at FILE:POS" against
// a real MariaDB, with the positions SHOW MASTER STATUS gives after each
// transaction: every run ends by itself with the transactions committed up
// to its stop position, and the next run goes on from there. It runs in
// file+position and in GTID mode.
func TestStreamMariaDBStopAt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	mark := func(stmts ...string) string {
		t.Helper()
		if err := srv.Exec(ctx, stmts...); err != nil {
			t.Fatal(err)
		}
		var file, doDB, ignoreDB string
		var pos int64
		if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
			t.Fatal(err)
		}
		return file + ":" + itoa64(pos)
	}
	mark(`CREATE DATABASE shop`, `CREATE TABLE shop.t (id int PRIMARY KEY)`)
	end1 := mark(`INSERT INTO shop.t VALUES (1), (2)`)
	end2 := mark(`BEGIN`, `INSERT INTO shop.t VALUES (3)`, `UPDATE shop.t SET id = 30 WHERE id = 3`, `COMMIT`)
	mark(`INSERT INTO shop.t VALUES (4)`)

	for _, mode := range []string{"", "&gtid=on"} {
		t.Run("gtid="+map[string]string{"": "off", "&gtid=on": "on"}[mode], func(t *testing.T) {
			dir := t.TempDir()
			out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
			srcURL := "mysql://" + testenv.MariaDBReplUser + ":" + testenv.MariaDBReplPassword + "@" + srv.Addr() + "/?server-id=4243" + mode
			run := func(stopAt string) string {
				t.Helper()
				return strings.Join(streamToStop(t, ctx, stopAt, out, srcURL, "--to", "file://"+out, "--state", state,
					"--from", "earliest", "--include", `shop\.t`, "--begin-commit"), " ")
			}
			// The first run also shows the two DDL transactions (DDL lines
			// are skipped here, their begin and commit are not).
			if got, want := run(end1), "begin commit begin commit begin insert1 insert2 commit"; got != want {
				t.Errorf("--stop-at %s: got %q, want %q", end1, got, want)
			}
			if got, want := run(end2), "begin insert3 update30 commit"; got != want {
				t.Errorf("--stop-at %s: got %q, want %q", end2, got, want)
			}
		})
	}
}
