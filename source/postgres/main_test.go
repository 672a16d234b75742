package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The server shared by the package's tests, started by the first test that
// needs one (so fuzz workers and offline tests start none).
// logical_decoding_work_mem is at its minimum so that small transactions
// already stream.
var (
	pg     *testenv.Postgres
	pgOnce sync.Once
	pgErr  error
)

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		c.Add(func() {
			if pg != nil {
				pg.Close()
			}
		})
		return nil
	})
}

// server returns the shared server, starting it on first use.
func server(t testing.TB) *testenv.Postgres {
	t.Helper()
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testenv.SetupTimeout)
		defer cancel()
		pg, pgErr = testenv.StartPostgres(ctx, testenv.PostgresOptions{ExtraConfig: []string{
			"logical_decoding_work_mem = 64kB",
			"wal_sender_timeout = 10s",
		}})
	})
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	return pg
}

// exec runs statements on the test database, failing the test on error.
func exec(t *testing.T, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := server(t).Exec(ctx, "postgres", stmts...); err != nil {
		t.Fatal(err)
	}
}

// queryText returns the first column of the first row of a query as text.
func queryText(t *testing.T, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := server(t).Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s *string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if s == nil {
		return ""
	}
	return *s
}

// sourceURL is the server's DSN with the source's own parameters.
func sourceURL(params string) string {
	u := pg.DSN("postgres") // callers went through server() first
	if params != "" {
		u += "&" + params
	}
	return u
}

// errSkip, returned by a collector's fail function, drops the batch
// without error (the test counted what it needed).
var errSkip = errors.New("skip")

// collector gathers what a Source emits, as copies.
type collector struct {
	mu      sync.Mutex
	changes []change.Change
	batches int
	fail    func(batch []change.Change) error // optional: emit's result
}

func (c *collector) emit(batch []change.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(batch); errors.Is(err, errSkip) {
			return nil
		} else if err != nil {
			return err
		}
	}
	c.batches++
	for _, ch := range batch {
		ch.Before = cloneValues(ch.Before)
		ch.After = cloneValues(ch.After)
		c.changes = append(c.changes, ch)
	}
	return nil
}

func cloneValues(vs []change.Value) []change.Value {
	if vs == nil {
		return nil
	}
	out := make([]change.Value, len(vs))
	for i, v := range vs {
		out[i] = v.Clone()
	}
	return out
}

// data returns the emitted changes other than heartbeats.
func (c *collector) data() []change.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []change.Change
	for _, ch := range c.changes {
		if ch.Op != change.OpHeartbeat {
			out = append(out, ch)
		}
	}
	return out
}

func (c *collector) all() []change.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]change.Change(nil), c.changes...)
}

// waitCommits waits until n commit events (counted from the start) arrived.
func (c *collector) waitCommits(t *testing.T, n int, r *running) []change.Change {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got := c.data()
		commits := 0
		for _, ch := range got {
			if ch.Op == change.OpCommit {
				commits++
			}
		}
		if commits >= n {
			return got
		}
		select {
		case <-r.done:
			t.Fatalf("stream ended waiting for %d commits (have %d): %v", n, commits, r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("timed out waiting for %d commits; got %d changes", n, len(c.data()))
	return nil
}

// running is a Stream in a goroutine.
type running struct {
	src    *Source
	col    *collector
	done   chan struct{} // closed when Stream returned
	err    error         // what it returned, valid after done
	cancel context.CancelFunc
}

// start opens a source for params and streams from from.
func start(t *testing.T, params string, from change.Position) *running {
	t.Helper()
	server(t)
	src, err := Open(sourceURL(params))
	if err != nil {
		t.Fatal(err)
	}
	return startSource(t, src, from, &collector{})
}

func startSource(t *testing.T, src *Source, from change.Position, col *collector) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, col: col, done: make(chan struct{}), cancel: cancel}
	go func() {
		r.err = src.Stream(ctx, from, col.emit)
		close(r.done)
	}()
	t.Cleanup(func() { r.stop(t) })
	// Wait until the slot is streaming, so later writes are captured: in
	// use, and created (a slot being created is in use too, but has no
	// confirmed_flush_lsn until it found its consistent point, which takes
	// longer on a loaded machine).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if queryText(t, fmt.Sprintf(`SELECT coalesce((SELECT (active AND confirmed_flush_lsn IS NOT NULL)::text FROM pg_replication_slots WHERE slot_name = '%s'), 'none')`,
			src.cfg.Slot)) == "true" {
			return r
		}
		select {
		case <-r.done:
			t.Fatalf("stream ended before it started: %v", r.err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("slot never became active")
	return nil
}

// stop cancels the stream and waits for it to return; an error other than
// the cancellation fails the test.
func (r *running) stop(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			t.Errorf("stream returned %v", r.err)
		}
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		t.Errorf("stream did not stop:\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// dropSlot removes a slot a test created.
func dropSlot(t *testing.T, slot string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pg.Exec(ctx, "postgres", fmt.Sprintf(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s'`, slot))
	})
}

// rows returns the data changes of table, in order.
func rows(changes []change.Change, table string) []change.Change {
	var out []change.Change
	for _, c := range changes {
		if c.Table == table && (c.Op == change.OpInsert || c.Op == change.OpUpdate || c.Op == change.OpDelete || c.Op == change.OpTruncate) {
			out = append(out, c)
		}
	}
	return out
}

// col returns the value of the named column in vals.
func col(t *testing.T, c change.Change, vals []change.Value, name string) change.Value {
	t.Helper()
	for i, cc := range c.Columns {
		if cc.Name == name {
			return vals[i]
		}
	}
	t.Fatalf("no column %q in %v", name, c.Columns)
	return change.Value{}
}

func withPassword(dsn, pass string) string {
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(u.User.Username(), pass)
	return u.String()
}

var _ = strings.Contains
