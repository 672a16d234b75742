package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/source"
)

// memSinks records what each mem://NAME sink acknowledged, across runs.
type memSinks struct {
	mu    sync.Mutex
	got   map[string][]change.Position
	opens map[string]int
	fail  map[string]bool // mem://NAME fails every Write while set
	// gate, when set, holds every Write until it is closed.
	gate chan struct{}
}

type memSink struct {
	m    *memSinks
	name string
}

func (s *memSink) Write(ctx context.Context, batch []change.Change) error {
	s.m.mu.Lock()
	gate := s.m.gate
	s.m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if s.m.fail[s.name] {
		return errors.New("mem: injected failure")
	}
	for i := range batch {
		s.m.got[s.name] = append(s.m.got[s.name], batch[i].Pos)
	}
	return nil
}

func (s *memSink) Close() error { return nil }

func (m *memSinks) positions(name string) []change.Position {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]change.Position(nil), m.got[name]...)
}

func (m *memSinks) count(name string) int { return len(m.positions(name)) }

func (m *memSinks) setFail(name string, on bool) {
	m.mu.Lock()
	m.fail[name] = on
	m.mu.Unlock()
}

func (m *memSinks) openCount(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.opens[name]
}

func newEnv(t *testing.T) (*Supervisor, *memSinks, string) {
	t.Helper()
	mem := &memSinks{got: map[string][]change.Position{}, opens: map[string]int{}, fail: map[string]bool{}}
	sources := source.NewRegistry()
	sources.Register("fixture", func(_ context.Context, u *url.URL, _ source.Config) (pipeline.Source, error) {
		return fixture.Open(u)
	})
	sinks := sink.NewRegistry()
	sinks.Register("mem", func(_ context.Context, u *url.URL, _ sink.Config) (pipeline.Sink, error) {
		mem.mu.Lock()
		mem.opens[u.Host]++
		mem.mu.Unlock()
		return &memSink{m: mem, name: u.Host}, nil
	})
	s := New(Options{Sources: sources, Sinks: sinks, LagInterval: -1})
	t.Cleanup(s.Close)
	return s, mem, t.TempDir()
}

func pipe(dir, name, src string) config.Pipeline {
	return config.Pipeline{
		Name: name, Source: src, To: "mem://" + name, ID: name, State: filepath.Join(dir, "state.db"),
		QueueBytes: pipeline.DefaultQueueBytes, CheckpointInterval: 10 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func state(s *Supervisor, name string) State {
	st, err := s.Status(name)
	if err != nil {
		return ""
	}
	return st.State
}

// strictlyIncreasing fails when a position repeats or goes back: the
// pipeline delivered something twice or out of order.
func strictlyIncreasing(t *testing.T, name string, ps []change.Position) {
	t.Helper()
	for i := 1; i < len(ps); i++ {
		if change.Compare(ps[i-1], ps[i]) >= 0 {
			t.Fatalf("%s: position %d (%s) does not follow %s", name, i, ps[i], ps[i-1])
		}
	}
}

// TestIsolation: three pipelines share a state file; one sink fails and
// recovers while the other two deliver everything.
func TestIsolation(t *testing.T) {
	s, mem, dir := newEnv(t)
	mem.setFail("b", true)
	ch := s.Apply([]config.Pipeline{
		pipe(dir, "a", "fixture://?txs=50&rows=2"),
		pipe(dir, "b", "fixture://?txs=50&rows=2"),
		pipe(dir, "c", "fixture://?txs=50&rows=2&follow=on&interval=1ms"),
	})
	if strings.Join(ch.Added, ",") != "a,b,c" {
		t.Fatalf("added %v", ch.Added)
	}
	waitFor(t, "a to finish", func() bool { return state(s, "a") == Finished })
	waitFor(t, "b to retry twice", func() bool {
		st, _ := s.Status("b")
		return st.State == Retrying && st.Attempt >= 2
	})
	st, _ := s.Status("b")
	if !strings.Contains(st.LastError, "injected failure") || st.Totals.SinkErrors < 2 {
		t.Errorf("b status: %+v", st)
	}
	if mem.count("a") != 100 {
		t.Errorf("a delivered %d, want 100", mem.count("a"))
	}
	waitFor(t, "c to deliver all", func() bool { return mem.count("c") == 100 })
	if state(s, "c") != Running {
		t.Errorf("c is %s", state(s, "c"))
	}
	mem.setFail("b", false)
	waitFor(t, "b to recover", func() bool { return state(s, "b") == Finished })
	if mem.count("b") != 100 {
		t.Errorf("b delivered %d, want 100", mem.count("b"))
	}
	for _, n := range []string{"a", "b", "c"} {
		strictlyIncreasing(t, n, mem.positions(n))
	}
	if ok, not := s.Ready(); !ok {
		t.Errorf("not ready: %v", not)
	}
}

// TestApply: a reload starts the new pipeline, stops the removed one,
// restarts the changed one and leaves the unchanged one running.
func TestApply(t *testing.T) {
	s, mem, dir := newEnv(t)
	follow := "fixture://?txs=100000&rows=1&follow=on&interval=2ms"
	a, b, c := pipe(dir, "a", follow), pipe(dir, "b", follow), pipe(dir, "c", follow)
	s.Apply([]config.Pipeline{a, b, c})
	for _, n := range []string{"a", "b", "c"} {
		waitFor(t, n+" to deliver", func() bool { return mem.count(n) > 5 })
	}
	c2 := c
	c2.Filter.Exclude = `nothing\..*`
	d := pipe(dir, "d", follow)
	ch := s.Apply([]config.Pipeline{a, c2, d})
	got := fmt.Sprintf("%v %v %v %v", ch.Added, ch.Removed, ch.Changed, ch.Unchanged)
	if got != "[d] [b] [c] [a]" {
		t.Errorf("changes (added removed changed unchanged) = %s", got)
	}
	if _, err := s.Status("b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("b still known: %v", err)
	}
	waitFor(t, "d to deliver", func() bool { return mem.count("d") > 5 })
	if n := mem.openCount("a"); n != 1 {
		t.Errorf("a was opened %d times: an unchanged pipeline was restarted", n)
	}
	if n := mem.openCount("c"); n != 2 {
		t.Errorf("c was opened %d times, want 2", n)
	}
	nb := mem.count("b")
	time.Sleep(50 * time.Millisecond)
	if mem.count("b") != nb {
		t.Error("b still delivers after removal")
	}
	for _, n := range []string{"a", "c", "d"} {
		strictlyIncreasing(t, n, mem.positions(n))
	}
}

// TestPauseResume: pause stops delivery and keeps the position; resume
// continues from it without loss or repetition.
func TestPauseResume(t *testing.T) {
	s, mem, dir := newEnv(t)
	s.Apply([]config.Pipeline{pipe(dir, "a", "fixture://?txs=400&rows=1&follow=on&interval=2ms")})
	waitFor(t, "delivery", func() bool { return mem.count("a") > 20 })
	if err := s.Pause("a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "paused", func() bool { return state(s, "a") == Paused })
	n := mem.count("a")
	st, _ := s.Status("a")
	time.Sleep(100 * time.Millisecond)
	if mem.count("a") != n {
		t.Fatalf("delivered %d more while paused", mem.count("a")-n)
	}
	// The saved position covers the last delivered change (and the hidden
	// commit after it).
	if last := mem.positions("a")[n-1]; change.Compare(st.Checkpointed, last) < 0 {
		t.Errorf("paused at %s, before the last delivered %s", st.Checkpointed, last)
	}
	if err := s.Resume("a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all 400", func() bool { return mem.count("a") == 400 })
	strictlyIncreasing(t, "a", mem.positions("a"))
	if err := s.Restart("a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart", func() bool { return mem.openCount("a") == 3 && state(s, "a") == Running })
	if err := s.Pause("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Pause(nope) = %v", err)
	}
	if _, err := s.Snapshot(context.Background(), "a", []change.Namespace{{Database: "shop", Table: "orders"}}); !errors.Is(err, ErrSnapshotUnsupported) {
		t.Errorf("Snapshot without a hook = %v", err)
	}
}

// TestSnapshot: Snapshot hands the pipeline's settings and the tables to
// Options.Snapshot and returns its id; tables the pipeline's filter drops
// and unknown pipelines are refused before it is called; its errors come
// back with the source URL's password masked.
func TestSnapshot(t *testing.T) {
	s, _, dir := newEnv(t)
	type call struct {
		p      config.Pipeline
		tables []change.Namespace
	}
	var calls []call
	var fail error
	s.opts.Snapshot = func(_ context.Context, p config.Pipeline, tables []change.Namespace) (string, error) {
		calls = append(calls, call{p, tables})
		if fail != nil {
			return "", fail
		}
		return fmt.Sprint(len(calls)), nil
	}
	p := pipe(dir, "a", "fixture://u:hunter2@db/?txs=1&rows=1")
	p.Paused = true
	p.Filter = pipeline.FilterSpec{Include: `shop\..*`, Exclude: `shop\.secrets`}
	s.Apply([]config.Pipeline{p})
	ctx := context.Background()
	orders := change.Namespace{Database: "shop", Table: "orders"}
	id, err := s.Snapshot(ctx, "a", []change.Namespace{orders})
	if err != nil || id != "1" {
		t.Fatalf("Snapshot = %q, %v", id, err)
	}
	if len(calls) != 1 || calls[0].p.Name != "a" || !slices.Equal(calls[0].tables, []change.Namespace{orders}) {
		t.Errorf("hook called with %+v", calls)
	}
	for _, tables := range [][]change.Namespace{nil, {orders, {Database: "shop", Table: "secrets"}}, {{Database: "crm", Table: "users"}}} {
		if _, err := s.Snapshot(ctx, "a", tables); !errors.Is(err, ErrSnapshotTable) {
			t.Errorf("Snapshot(%v) = %v, want ErrSnapshotTable", tables, err)
		}
	}
	if _, err := s.Snapshot(ctx, "nope", []change.Namespace{orders}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Snapshot(nope) = %v", err)
	}
	if len(calls) != 1 {
		t.Errorf("hook called %d times, want 1: refused requests reached it", len(calls))
	}
	cause := errors.New("cannot reach fixture://u:hunter2@db/")
	fail = fmt.Errorf("%w: %w", ErrSnapshotUnsupported, cause)
	_, err = s.Snapshot(ctx, "a", []change.Namespace{orders})
	if !errors.Is(err, ErrSnapshotUnsupported) || !errors.Is(err, cause) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Snapshot with a failing hook = %v", err)
	}
}

// TestPausedInConfig: a pipeline configured paused does not start until resumed.
func TestPausedInConfig(t *testing.T) {
	s, mem, dir := newEnv(t)
	p := pipe(dir, "a", "fixture://?txs=10&rows=1")
	p.Paused = true
	s.Apply([]config.Pipeline{p})
	waitFor(t, "paused", func() bool { return state(s, "a") == Paused })
	time.Sleep(50 * time.Millisecond)
	if mem.count("a") != 0 {
		t.Fatal("a paused pipeline delivered")
	}
	s.Resume("a")
	waitFor(t, "finished", func() bool { return state(s, "a") == Finished })
	if mem.count("a") != 10 {
		t.Errorf("delivered %d, want 10", mem.count("a"))
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 10 * time.Second} {
		got := backoff(time.Second, 10*time.Second, n)
		if got < want*8/10 || got > want*12/10 {
			t.Errorf("backoff(%d) = %s, want %s ±20%%", n, got, want)
		}
	}
}

// TestQueueMetric: sluice_pipeline_queue_bytes shows the changes held
// while the sink is stuck, and falls to zero once it delivered them.
func TestQueueMetric(t *testing.T) {
	s, mem, dir := newEnv(t)
	gate := make(chan struct{})
	mem.mu.Lock()
	mem.gate = gate
	mem.mu.Unlock()
	p := pipe(dir, "a", "fixture://?txs=2000&rows=10")
	p.QueueBytes = 1 << 20
	s.Apply([]config.Pipeline{p})
	queued := func() float64 {
		rec := httptest.NewRecorder()
		s.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if v, ok := strings.CutPrefix(line, `sluice_pipeline_queue_bytes{pipeline="a"} `); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		return -1
	}
	// The source fills the queue up to its bound while the sink waits.
	waitFor(t, "the queue to fill", func() bool { return queued() > 1<<19 })
	if q := queued(); q > 2<<20 {
		t.Errorf("queue_bytes %v with a 1 MiB queue", q)
	}
	close(gate)
	waitFor(t, "all 20,000 changes", func() bool { return mem.count("a") == 20000 })
	waitFor(t, "the queue to empty", func() bool { return queued() == 0 })
}
