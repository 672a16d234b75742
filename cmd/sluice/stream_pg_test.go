package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
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
			done <- streamWith(runCtx, e, []string{srcURL, "--to", "file://" + out, "--state", state,
				"--begin-commit", "--include", `public\.items`, "--checkpoint-interval", "0"}, sluice.Sources(), sink.Builtin())
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
		_, flushPos, err := sluice.ParseFrom(flushed)
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
