package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
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

// TestStreamPostgresSIGKILL runs "sluice stream postgres://…" as a child
// process with the bbolt state file and a file sink, and SIGKILLs it at 20
// random moments while a workload writes, restarting it each time; then a
// clean run catches up and stops on SIGINT. The union of the runs'
// outputs, deduplicated by position, must rebuild the table exactly, in
// commit order, and the slot's confirmed_flush_lsn must have advanced.
func TestStreamPostgresSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	err := pg.Exec(ctx, "postgres",
		`CREATE TABLE k (id bigint PRIMARY KEY, v bigint NOT NULL)`,
		`CREATE PUBLICATION kp FOR TABLE k`,
		`SELECT pg_create_logical_replication_slot('kp', 'pgoutput')`)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	slotState := func() (active bool, flushed uint64) {
		var lsn string
		if err := conn.QueryRow(ctx, `SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'kp'`).Scan(&active, &lsn); err != nil {
			t.Fatal(err)
		}
		_, p, err := sluice.ParseFrom(lsn)
		if err != nil {
			t.Fatal(err)
		}
		return active, p.Offset
	}
	_, flushed0 := slotState()

	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	srcURL := pg.DSN("postgres") + "&slot=kp&publication=kp&create-publication=no"
	var outs []string
	// launch starts a run writing to its own file (a killed run may leave
	// a torn last line), once the slot is free again.
	launch := func() (*exec.Cmd, *bytes.Buffer) {
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
		out := filepath.Join(dir, fmt.Sprintf("out-%02d.jsonl", len(outs)))
		outs = append(outs, out)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStreamMainProcess$")
		cmd.Env = append(os.Environ(), streamMainEnv+"="+strings.Join([]string{"stream", srcURL, "--to", "file://" + out,
			"--state", state, "--checkpoint-interval", "200ms"}, "\n"))
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &logs
	}

	// The workload: transactions of 20 inserts, 10 updates and 5 deletes
	// until the kills are done (bounded by count and by ctx).
	wctx, wstop := context.WithCancel(ctx)
	defer wstop()
	wdone := make(chan error, 1)
	var txs atomic.Int64
	go func() {
		wconn, err := pg.Connect(wctx, "postgres")
		if err != nil {
			wdone <- err
			return
		}
		defer wconn.Close(context.Background())
		for i := 0; i < 100000 && wctx.Err() == nil; i++ {
			b := i * 20
			_, err := wconn.Exec(wctx, fmt.Sprintf(`BEGIN;
				INSERT INTO k SELECT g, 0 FROM generate_series(%[1]d, %[1]d + 19) g;
				UPDATE k SET v = %[2]d WHERE id BETWEEN %[1]d - 40 AND %[1]d - 31;
				DELETE FROM k WHERE id BETWEEN %[1]d - 60 AND %[1]d - 56;
				COMMIT`, b, i))
			if err != nil {
				if wctx.Err() != nil {
					break
				}
				wdone <- err
				return
			}
			txs.Add(1)
			time.Sleep(10 * time.Millisecond) // a steady rate, not a flood the child cannot catch up with under -race
		}
		wdone <- nil
	}()

	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	const kills = 20
	began := time.Now()
	for n := 0; n < kills; n++ {
		cmd, logs := launch()
		wait := time.Duration(300+rng.IntN(2200)) * time.Millisecond
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			t.Fatalf("run %d ended by itself: %v\n%s", n, err, logs.String())
		case <-time.After(wait):
		}
		cmd.Process.Kill() // SIGKILL
		<-exited
	}
	wstop()
	if err := <-wdone; err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO k VALUES (-1, 0)`); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills done after %v", kills, time.Since(began))

	// The clean run: until the marker row is out and the slot confirmed
	// it, then SIGINT.
	cmd, logs := launch()
	last := outs[len(outs)-1]
	for {
		data, _ := os.ReadFile(last)
		if pos, ok := markerSeen(data); ok {
			if _, f := slotState(); f >= pos.Offset {
				break
			}
		}
		if time.Since(began) > 150*time.Second {
			cmd.Process.Kill()
			cmd.Wait()
			_, f := slotState()
			pos, ok := markerSeen(data)
			t.Fatalf("clean run: %d lines, marker %v at %s, slot flushed %X; never delivered the marker row and advanced the slot:\n%s", bytes.Count(data, []byte("\n")), ok, pos, f, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("clean run caught up after %v", time.Since(began))
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clean run after SIGINT: %v\n%s", err, logs.String())
	}
	if _, f := slotState(); f <= flushed0 {
		t.Fatalf("slot confirmed_flush_lsn %X did not advance from %X", f, flushed0)
	}

	// The union, deduplicated by position, in position order.
	byPos := map[change.Position]change.Change{}
	lines, dups := 0, 0
	for _, out := range outs {
		data, err := os.ReadFile(out)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1] // a killed run may have left a torn line
		} else {
			data = nil
		}
		var prev change.Position
		for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			c, err := change.DecodeJSON(line)
			if err != nil {
				t.Fatalf("%s line %d: %v", out, i+1, err)
			}
			if i > 0 && change.Compare(c.Pos, prev) <= 0 {
				t.Fatalf("%s line %d: position %s after %s", out, i+1, c.Pos, prev)
			}
			prev = c.Pos
			lines++
			if old, ok := byPos[c.Pos]; ok {
				dups++
				if old.Op != c.Op || old.Table != c.Table {
					t.Fatalf("position %s delivered as %v %s and as %v %s", c.Pos, old.Op, old.Table, c.Op, c.Table)
				}
				continue
			}
			byPos[c.Pos] = c
		}
	}
	all := make([]change.Change, 0, len(byPos))
	for _, c := range byPos {
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return change.Compare(all[i].Pos, all[j].Pos) < 0 })
	got := map[int64]int64{}
	rowsOut := 0
	for i, c := range all {
		img := c.After
		if c.Op == change.OpDelete {
			img = c.Before
		}
		if c.Table != "k" || len(img) < 1 {
			continue
		}
		rowsOut++
		id, err := strconv.ParseInt(string(change.AppendText(nil, img[0])), 10, 64)
		if err != nil {
			t.Fatalf("change %d: id: %v", i, err)
		}
		_, exists := got[id]
		switch c.Op {
		case change.OpInsert:
			if exists {
				t.Fatalf("change %d (%s): insert of existing id %d", i, c.Pos, id)
			}
			fallthrough
		case change.OpUpdate:
			if c.Op == change.OpUpdate && !exists {
				t.Fatalf("change %d (%s): update of missing id %d: a change was lost", i, c.Pos, id)
			}
			v, err := strconv.ParseInt(string(change.AppendText(nil, img[1])), 10, 64)
			if err != nil {
				t.Fatalf("change %d: v: %v", i, err)
			}
			got[id] = v
		case change.OpDelete:
			if !exists {
				t.Fatalf("change %d (%s): delete of missing id %d: a change was lost", i, c.Pos, id)
			}
			delete(got, id)
		}
	}
	rows, err := conn.Query(ctx, `SELECT id, v FROM k`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		want[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("rebuilt %d rows, table has %d", len(got), len(want))
	}
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			t.Fatalf("row %d: rebuilt %d (present %v), table has %d", id, g, ok, v)
		}
	}
	t.Logf("seed %d: %d kills, %d workload transactions, %d row changes rebuilt, %d lines written, %d redelivered",
		seed, kills, txs.Load()+1, rowsOut, lines, dups)
}

// markerSeen returns the position of the insert of row -1 in a JSON-lines output.
func markerSeen(data []byte) (change.Position, bool) {
	for _, line := range bytes.Split(data, []byte("\n")) {
		c, err := change.DecodeJSON(line)
		if err != nil || c.Op != change.OpInsert || c.Table != "k" || len(c.After) == 0 {
			continue
		}
		if string(change.AppendText(nil, c.After[0])) == "-1" {
			return c.Pos, true
		}
	}
	return change.Position{}, false
}
