package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
)

// rec is what a test sink keeps of a delivered change.
type rec struct {
	Op      change.Op
	Table   string
	Pos     change.Position
	ID      int64
	Payload string
	Note    string
	Cols    int
}

func (r rec) String() string {
	return fmt.Sprintf("%s %s %s id=%x cols=%d %q %q", r.Op, r.Table, r.Pos, r.ID, r.Cols, r.Payload, r.Note)
}

// recordOf keeps what a test compares of c: its place, its id, and the
// fixture's payload and note columns, found by name (a column filter may
// have dropped them).
func recordOf(c *change.Change) rec {
	r := rec{Op: c.Op, Table: c.Table, Pos: c.Pos, Cols: len(c.Columns)}
	for i, col := range c.Columns {
		if i >= len(c.After) {
			break
		}
		switch col.Name {
		case "id":
			r.ID = c.After[i].I
		case "payload":
			r.Payload = string(c.After[i].B)
		case "note":
			r.Note = string(c.After[i].B)
		}
	}
	return r
}

// gen returns the fixture source o describes.
func gen(t testing.TB, o fixture.Options) *fixture.Source {
	t.Helper()
	s, err := fixture.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// finished reports whether src's last Stream emitted all it had.
func finished(src *fixture.Source) bool {
	runs := src.Runs()
	return len(runs) > 0 && runs[len(runs)-1].Complete
}

// recSink records every acknowledged change; failAt makes the Nth Write fail.
type recSink struct {
	mu     sync.Mutex
	got    []rec
	writes int
	failAt int
	acked  change.Position // position of the last acknowledged change
}

func (s *recSink) Write(ctx context.Context, batch []change.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.failAt > 0 && s.writes == s.failAt {
		return errors.New("recSink: injected write failure")
	}
	for i := range batch {
		s.got = append(s.got, recordOf(&batch[i]))
	}
	s.acked = batch[len(batch)-1].Pos
	return nil
}

func (s *recSink) Close() error { return nil }

func (s *recSink) records() []rec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// expected computes what a pipeline must deliver from src after from,
// applying a table filter and the begin/commit rules independently of the
// pipeline's code.
func expected(src *fixture.Source, keepTable func(string) bool, beginCommit bool, from change.Position) []rec {
	var out, tx []rec
	var begin *rec
	for c := range src.After(from) {
		r := recordOf(&c)
		switch c.Op {
		case change.OpBegin:
			begin, tx = &r, tx[:0]
		case change.OpCommit:
			if beginCommit && len(tx) > 0 {
				out = append(out, *begin)
			}
			out = append(out, tx...)
			if beginCommit && len(tx) > 0 {
				out = append(out, r)
			}
			tx = tx[:0]
		default:
			if keepTable(c.Table) {
				tx = append(tx, r)
			}
		}
	}
	return out
}

func diffRecs(t *testing.T, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d changes, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("change %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.FailNow()
	}
}

func TestPipelineDelivers(t *testing.T) {
	all := func(string) bool { return true }
	tests := []struct {
		name        string
		spec        FilterSpec
		keep        func(string) bool
		beginCommit bool
		batchBytes  int64
	}{
		{"everything", FilterSpec{}, all, false, 0},
		{"begin-commit", FilterSpec{}, all, true, 0},
		{"include", FilterSpec{Include: `shop\.orders`}, func(s string) bool { return s == "orders" }, true, 0},
		{"exclude", FilterSpec{Exclude: `shop\.(users|items)`}, func(s string) bool { return s == "orders" }, false, 0},
		{"nothing matches", FilterSpec{Include: `none\..*`}, func(string) bool { return false }, true, 0},
		{"tiny batches", FilterSpec{}, all, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One-table transactions make "filter drops whole tx" happen too.
			src := gen(t, fixture.Options{Txs: []int{3, 1, 0, 40, 2, 7, 1, 1, 300, 5}, Batch: 16, Payload: 40, Tables: []string{"orders", "users", "items"}})
			sink := &recSink{}
			store := &checkpoint.Memory{}
			p, err := New(src, sink, store, WithFilter(tt.spec), WithBeginCommit(tt.beginCommit), WithBatch(tt.batchBytes, 0))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			diffRecs(t, sink.records(), expected(src, tt.keep, tt.beginCommit, change.Position{}))
			// The final position is the last commit, even when the
			// filter showed nothing.
			pos, err := store.Load(context.Background(), "default")
			if err != nil {
				t.Fatal(err)
			}
			if pos != src.End() {
				t.Errorf("saved %v, want the last commit %v", pos, src.End())
			}
		})
	}
}

func TestPipelineColumnFilter(t *testing.T) {
	src := gen(t, fixture.Options{Txs: []int{5, 5}, Batch: 4, Payload: 10, Tables: []string{"orders", "users"}})
	sink := &recSink{}
	p, err := New(src, sink, &checkpoint.Memory{}, WithFilter(FilterSpec{ExcludeColumns: `shop\.users:payload`}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.records()
	if len(got) != 10 {
		t.Fatalf("got %d changes", len(got))
	}
	for _, r := range got {
		switch all := len(fixture.Schema()); r.Table {
		case "users":
			// payload dropped, the other columns kept
			if r.Cols != all-1 || r.Payload != "" || r.ID == 0 {
				t.Errorf("users change kept payload or lost another column: %v", r)
			}
		case "orders":
			if r.Cols != all || len(r.Payload) != 10 {
				t.Errorf("orders change lost columns: %v", r)
			}
		}
	}
}

// ackingSource is a fixture source that records the positions it is told are saved.
type ackingSource struct {
	*fixture.Source
	acks []change.Position
}

func (a *ackingSource) Ack(p change.Position) { a.acks = append(a.acks, p) }

// checkingStore verifies, at every Save, that the saved position is one the
// sink has acknowledged: at or before the last acknowledged change, and at
// or after it only by hidden changes (no shown change lies between them).
type checkingStore struct {
	checkpoint.Memory
	t     *testing.T
	sink  *recSink
	src   *fixture.Source
	saves []change.Position
}

func (s *checkingStore) Save(ctx context.Context, id string, p change.Position) error {
	s.sink.mu.Lock()
	acked := s.sink.acked
	n := len(s.sink.got)
	s.sink.mu.Unlock()
	// Every change the sink must show with a position <= p is delivered.
	var shown int
	for c := range s.src.After(change.Position{}) {
		if change.Compare(c.Pos, p) > 0 {
			break
		}
		shown++
	}
	// Saves run beside delivery, so the sink may have acknowledged more
	// since; it must never have acknowledged less.
	if shown > n {
		s.t.Errorf("Save(%v): %d changes at or before it, sink acknowledged only %d (last %v)", p, shown, n, acked)
	}
	s.saves = append(s.saves, p)
	return s.Memory.Save(ctx, id, p)
}

func TestPipelineCheckpointsOnlyAcknowledged(t *testing.T) {
	// Without a filter every change is shown, so "acknowledged through p"
	// means the sink holds exactly the changes at or before p.
	g := gen(t, fixture.Options{Txs: []int{2, 1000, 3, 1, 2500, 4}, Batch: 7, Payload: 100, Tables: []string{"t"}})
	sink := &recSink{}
	store := &checkingStore{t: t, sink: sink, src: g}
	src := &ackingSource{Source: g}
	p, _ := New(src, sink, store, WithBeginCommit(true), WithCheckpointInterval(0), WithBatch(4096, 64), WithQueueBytes(16<<10))
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The last save is the last acknowledged position: the end of the stream.
	if last := store.saves[len(store.saves)-1]; last != sink.acked {
		t.Errorf("last save %v, want the last acknowledged %v", last, sink.acked)
	}
	// An Acker source hears of every saved position, in order.
	if !slices.Equal(src.acks, store.saves) {
		t.Errorf("source acked %d positions, store saved %d", len(src.acks), len(store.saves))
	}
	// On resume it first hears of the position it resumes from.
	src2 := &ackingSource{Source: g}
	p, _ = New(src2, &recSink{}, store)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(src2.acks) == 0 || src2.acks[0] != store.saves[len(store.saves)-1] {
		t.Errorf("resumed source acked %v first, want %v", src2.acks, store.saves[len(store.saves)-1])
	}
	inside := 0
	for i, s := range store.saves {
		if i > 0 && change.Compare(s, store.saves[i-1]) <= 0 {
			t.Errorf("checkpoint went from %v to %v", store.saves[i-1], s)
		}
		if s.Index != 0 {
			inside++
		}
	}
	if inside == 0 {
		t.Error("no checkpoint inside the large transactions: huge transactions would restart from their begin")
	}
	t.Logf("%d saves, %d inside a transaction", len(store.saves), inside)
}

func TestPipelineSinkFailure(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{10, 10, 10, 10}, Batch: 3, Payload: 10, Tables: []string{"t"}})
	sink := &recSink{failAt: 5}
	store := &checkpoint.Memory{}
	p, _ := New(g, sink, store, WithCheckpointInterval(0), WithBatch(0, 3))
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "injected write failure") || !strings.Contains(err.Error(), "sink") {
		t.Fatalf("Run = %v, want the sink's error", err)
	}
	saved, err := store.Load(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	// Nothing at or before the saved position may be missing from what the
	// sink acknowledged. The saved position itself may lie past the last
	// acknowledged change when only hidden events (a begin) came between.
	delivered := map[change.Position]bool{}
	for _, r := range sink.records() {
		delivered[r.Pos] = true
	}
	for _, r := range expected(g, func(string) bool { return true }, false, change.Position{}) {
		if change.Compare(r.Pos, saved) <= 0 && !delivered[r.Pos] {
			t.Errorf("saved %v, but %v before it was never acknowledged", saved, r.Pos)
		}
	}
	// A second run resumes exactly after what was saved.
	sink2 := &recSink{}
	p, _ = New(g, sink2, store)
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	union := dedup(append(sink.records(), sink2.records()...))
	diffRecs(t, union, expected(g, func(string) bool { return true }, false, change.Position{}))
}

func TestPipelineSourceFailure(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{10, 10, 10}, Batch: 4, Payload: 10, Tables: []string{"t"}, FailAfter: 17})
	sink := &recSink{}
	store := &checkpoint.Memory{}
	p, _ := New(g, sink, store, WithBeginCommit(true))
	err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "source") {
		t.Fatalf("Run = %v, want the source's error", err)
	}
	got := sink.records()
	if len(got) != 17 {
		t.Fatalf("delivered %d changes before the failure, want all 17 read", len(got))
	}
	saved, _ := store.Load(context.Background(), "default")
	if saved != got[16].Pos {
		t.Errorf("saved %v, want the last delivered %v", saved, got[16].Pos)
	}
}

// dedup keeps the first change at each position, as a consumer of an
// at-least-once stream does.
func dedup(rs []rec) []rec {
	seen := map[change.Position]bool{}
	var out []rec
	for _, r := range rs {
		if !seen[r.Pos] {
			seen[r.Pos] = true
			out = append(out, r)
		}
	}
	return out
}

// slowSink is a recSink whose writes take delay, or fail when ctx ends first.
type slowSink struct {
	recSink
	delay time.Duration
}

func (s *slowSink) Write(ctx context.Context, batch []change.Change) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.recSink.Write(ctx, batch)
}

func TestPipelineCancelSavesAndResumes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := gen(t, fixture.Options{Txs: []int{50, 3000, 20, 20, 20, 1500, 7}, Batch: 10, Payload: 30, Tables: []string{"a", "b"}})
	want := expected(g, func(string) bool { return true }, true, change.Position{})
	store := &checkpoint.Memory{}
	var union []rec
	for run := 0; ; run++ {
		if run > 300 {
			t.Fatal("did not finish in 300 runs")
		}
		sink := &slowSink{delay: 200 * time.Microsecond}
		// Runs get longer as they go, so a slow machine still finishes.
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+run/4+rng.IntN(20))*time.Millisecond)
		p, _ := New(g, sink, store, WithBeginCommit(true), WithBatch(2048, 0), WithQueueBytes(8192))
		err := p.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		got := sink.records()
		union = append(union, got...)
		saved, _ := store.Load(context.Background(), "default")
		if len(got) > 0 && saved != got[len(got)-1].Pos {
			t.Fatalf("run %d: canceled with %v acknowledged, saved %v", run, got[len(got)-1].Pos, saved)
		}
		if saved == g.End() {
			t.Logf("finished after %d runs", run+1)
			break
		}
	}
	// Every run resumed exactly after the last acknowledged change: no
	// duplicates at all, nothing lost, in order.
	diffRecs(t, union, want)
}

// listSource emits a fixed list of changes, one per batch, whatever from
// is: it breaks the resume contract on purpose, which the fixture source
// cannot do, to show that the pipeline notices.
type listSource []change.Change

func (l listSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	for i := range l {
		if err := emit(l[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

func TestPipelineRejectsPositionDisorder(t *testing.T) {
	at := func(op change.Op, off, idx uint64) change.Change {
		return change.Change{Op: op, Namespace: change.Namespace{Database: "d", Table: "t"},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: off, Index: idx}}
	}
	snap := func(off, row uint64) change.Change {
		c := at(change.OpRead, off, 0)
		c.Pos.Row, c.Pos.Snapshot = row, "t=d.t,k="+strconv.FormatUint(row, 10)
		return c
	}
	tests := []struct {
		name string
		from change.Position
		list listSource
		ok   bool
	}{
		{"increasing", change.Position{}, listSource{at(change.OpInsert, 4, 2), at(change.OpInsert, 4, 3), at(change.OpCommit, 90, 0)}, true},
		{"repeated heartbeat", change.Position{}, listSource{at(change.OpCommit, 90, 0), at(change.OpHeartbeat, 90, 0), at(change.OpHeartbeat, 90, 0)}, true},
		{"backwards", change.Position{}, listSource{at(change.OpInsert, 4, 3), at(change.OpInsert, 4, 2)}, false},
		{"repeated row", change.Position{}, listSource{at(change.OpInsert, 4, 3), at(change.OpInsert, 4, 3)}, false},
		{"at from again", at(change.OpInsert, 4, 3).Pos, listSource{at(change.OpInsert, 4, 3)}, false},
		{"before from", at(change.OpInsert, 4, 3).Pos, listSource{at(change.OpInsert, 4, 2)}, false},
		{"after from", at(change.OpInsert, 4, 3).Pos, listSource{at(change.OpInsert, 4, 4)}, true},
		// A snapshot at bin.000001:4: its rows, then the stream from there.
		{"snapshot then stream", change.Position{}, listSource{snap(4, 1), snap(4, 2), at(change.OpInsert, 4, 2), at(change.OpCommit, 90, 0)}, true},
		{"snapshot resumed", snap(4, 2).Pos, listSource{snap(4, 3), at(change.OpCommit, 90, 0)}, true},
		{"stream after its snapshot's point", snap(4, 2).Pos, listSource{at(change.OpInsert, 4, 1)}, true},
		{"snapshot row again", snap(4, 2).Pos, listSource{snap(4, 2)}, false},
		{"snapshot after the stream began", change.Position{}, listSource{at(change.OpInsert, 4, 1), snap(4, 3)}, false},
		{"heartbeat at the snapshot's point", snap(4, 2).Pos, listSource{at(change.OpHeartbeat, 4, 0)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &checkpoint.Memory{}
			sink := &recSink{}
			p, _ := New(tt.list, sink, store, WithFrom(tt.from))
			err := p.Run(context.Background())
			if tt.ok != (err == nil) {
				t.Fatalf("Run = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, ErrOrder) {
				t.Errorf("Run = %v, want ErrOrder", err)
			}
		})
	}
}

// cancelingSink cancels the run during its failAt-th Write and fails that
// Write with the context's error, as a write interrupted by shutdown does;
// every other Write succeeds, whether or not ctx has ended (a sink need not
// look at ctx once it has the batch). Before failing, it waits until the
// source has emitted everything, so batches are still queued behind the
// failed one.
type cancelingSink struct {
	recSink
	src    *fixture.Source
	failAt int
	cancel context.CancelFunc
	n      int
}

func (s *cancelingSink) Write(ctx context.Context, batch []change.Change) error {
	s.n++
	if s.n != s.failAt {
		return s.recSink.Write(ctx, batch)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !finished(s.src); time.Sleep(time.Millisecond) {
	}
	s.cancel()
	return ctx.Err()
}

func TestPipelineCancelDuringWriteLosesNothing(t *testing.T) {
	for _, failAt := range []int{1, 2, 5} {
		t.Run(fmt.Sprint("fail write ", failAt), func(t *testing.T) {
			g := gen(t, fixture.Options{Txs: []int{4, 30, 2}, Batch: 3, Payload: 10, Tables: []string{"t"}})
			store := &checkpoint.Memory{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sink := &cancelingSink{src: g, failAt: failAt, cancel: cancel}
			p, _ := New(g, sink, store, WithBeginCommit(true), WithCheckpointInterval(0), WithBatch(1, 0))
			if err := p.Run(ctx); err != nil {
				t.Fatal(err)
			}
			got := sink.records()
			if after := sink.n - failAt; after != 0 {
				t.Errorf("pipeline wrote %d batches after the canceled write", after)
			}
			saved, err := store.Load(context.Background(), "default")
			if failAt == 1 {
				if !errors.Is(err, checkpoint.ErrNotFound) {
					t.Errorf("saved %v (%v) with nothing acknowledged", saved, err)
				}
			} else if saved != got[len(got)-1].Pos {
				t.Errorf("saved %v, want the last acknowledged %v", saved, got[len(got)-1].Pos)
			}
			// The next run delivers the rest: nothing lost, nothing twice.
			sink2 := &recSink{}
			p, _ = New(g, sink2, store, WithBeginCommit(true))
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			diffRecs(t, append(got, sink2.records()...), expected(g, func(string) bool { return true }, true, change.Position{}))
		})
	}
}

func TestPipelineCanceledBeforeStart(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{3}, Batch: 2, Payload: 10, Tables: []string{"t"}})
	for _, saved := range []bool{false, true} {
		store := &checkpoint.Memory{}
		if saved {
			if err := store.Save(context.Background(), "default", fixture.Pos(fixture.Offset(0), 2)); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		sink := &recSink{}
		p, _ := New(g, sink, store)
		if err := p.Run(ctx); err != nil {
			t.Errorf("saved=%v: Run with a canceled context = %v, want nil", saved, err)
		}
		if n := len(sink.records()); n != 0 {
			t.Errorf("saved=%v: delivered %d changes", saved, n)
		}
		if want := map[bool]int{false: 0, true: 1}[saved]; store.Saves() != want {
			t.Errorf("saved=%v: %d saves, want %d", saved, store.Saves(), want)
		}
	}
}

func TestPipelineStopAt(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{3, 5, 0, 40, 2}, Batch: 7, Payload: 10, Tables: []string{"a", "b"}})
	all := func(string) bool { return true }
	at := func(tx int, idx uint64) change.Position { return fixture.Pos(fixture.Offset(tx), idx) }
	tests := []struct {
		name string
		stop change.Position
	}{
		{"inside a transaction", at(3, 9)},
		{"at a begin", at(1, 1)},
		{"at a commit", at(2, 0)},
		{"between positions", fixture.Pos(fixture.Offset(3)+1, 0)},
		{"before everything", fixture.Pos(1, 0)},
		{"past the end", at(100, 0)},
		{"a later file", fixture.Pos(0, 0)},
	}
	tests[len(tests)-1].stop.File = "bin.000002"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole := expected(g, all, true, change.Position{})
			var want []rec
			for _, r := range whole {
				if change.Compare(r.Pos, tt.stop) <= 0 {
					want = append(want, r)
				}
			}
			// A begin is held back until a change of its transaction is
			// shown: stopping right after it shows nothing of it.
			if n := len(want); n > 0 && want[n-1].Op == change.OpBegin {
				want = want[:n-1]
			}
			sink := &recSink{}
			store := &checkpoint.Memory{}
			p, err := New(g, sink, store, WithBeginCommit(true), WithStopAt(tt.stop))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := sink.records()
			diffRecs(t, got, want)
			// The saved position is the last change before the stop, and a
			// run without a stop position goes on from there exactly.
			saved, err := store.Load(context.Background(), "default")
			if len(want) > 0 && (err != nil || saved != want[len(want)-1].Pos) {
				t.Fatalf("saved %v (%v), want the last delivered %v", saved, err, want[len(want)-1].Pos)
			}
			rest := &recSink{}
			p, _ = New(g, rest, store, WithBeginCommit(true))
			if err := p.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			diffRecs(t, append(got, rest.records()...), whole)
		})
	}
}

// posSink is a PositionWriter that records each write's changes and position.
type posSink struct {
	mu     sync.Mutex
	writes []posWrite
}

type posWrite struct {
	n       int
	through change.Position
}

func (s *posSink) Write(context.Context, []change.Change) error {
	panic("Write called on a PositionWriter")
}

func (s *posSink) WriteAt(_ context.Context, batch []change.Change, through change.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, posWrite{len(batch), through})
	return nil
}

func (s *posSink) Close() error { return nil }

// TestPipelinePositionWriter checks that a PositionWriter gets WriteAt with
// the position each write brings the pipeline to, also for writes that
// only move the position (a filter that drops a whole table), and that the
// last position it got is the one saved.
func TestPipelinePositionWriter(t *testing.T) {
	g := gen(t, fixture.Options{Txs: []int{3, 2, 4, 1}, Batch: 2, Payload: 8, Tables: []string{"kept", "dropped"}})
	sink := &posSink{}
	store := &checkpoint.Memory{}
	// WithBatch(1, 0): a write per change, so some writes hold only
	// dropped changes.
	p, err := New(g, sink, store, WithFilter(FilterSpec{Exclude: `shop\.dropped`}), WithBatch(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, emptyMoves := 0, 0
	var last change.Position
	for _, w := range sink.writes {
		rows += w.n
		if w.n == 0 {
			emptyMoves++
		}
		if !w.through.IsZero() {
			if change.Compare(w.through, last) <= 0 {
				t.Fatalf("through went from %s to %s", last, w.through)
			}
			last = w.through
		}
	}
	kept := 0
	for c := range g.After(change.Position{}) {
		if c.Table == "kept" {
			kept++
		}
	}
	if rows != kept {
		t.Errorf("%d changes written, want %d", rows, kept)
	}
	want := g.End()
	if last != want {
		t.Errorf("last through %s, want the last commit %s", last, want)
	}
	if saved, _ := store.Load(context.Background(), DefaultID); saved != want {
		t.Errorf("saved %s, want %s", saved, want)
	}
	if emptyMoves == 0 {
		t.Errorf("no write only moved the position (%d writes)", len(sink.writes))
	}
}

// tableCounts is a ChangeMetrics counting delivered changes by table.
type tableCounts struct {
	Counters
	mu     sync.Mutex
	tables map[string]int
	seen   int // changes DeliveredChanges saw before Delivered reported them
}

func (m *tableCounts) DeliveredChanges(batch []change.Change) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tables == nil {
		m.tables = map[string]int{}
	}
	for i := range batch {
		m.tables[batch[i].Table]++
	}
	m.seen += len(batch)
}

func (m *tableCounts) Delivered(read, written int, bytes int64, lag time.Duration) {
	m.mu.Lock()
	if m.seen < int(m.Counters.Snapshot().Written)+written {
		panic("Delivered before DeliveredChanges")
	}
	m.mu.Unlock()
	m.Counters.Delivered(read, written, bytes, lag)
}

// TestPipelineChangeMetrics checks that a ChangeMetrics sees every
// delivered change, for a Sink and an AsyncSink, and that QueuedBytes
// reads the running queue.
func TestPipelineChangeMetrics(t *testing.T) {
	for _, async := range []bool{false, true} {
		src := gen(t, fixture.Options{Txs: []int{3, 1, 4, 1, 5}, Tables: []string{"orders", "audit", "users"}})
		m := &tableCounts{}
		var p *Pipeline
		var err error
		if async {
			p, err = NewAsync(src, ackAll{}, &checkpoint.Memory{}, WithMetrics(m))
		} else {
			p, err = New(src, &recSink{}, &checkpoint.Memory{}, WithMetrics(m))
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.QueuedBytes() != 0 {
			t.Errorf("QueuedBytes before Run = %d", p.QueuedBytes())
		}
		if err := p.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for c := range src.After(change.Position{}) {
			if c.Table != "" {
				want[c.Table]++
			}
		}
		if !maps.Equal(m.tables, want) || int64(m.seen) != m.Snapshot().Written {
			t.Errorf("async %v: tables %v (seen %d, written %d), want %v", async, m.tables, m.seen, m.Snapshot().Written, want)
		}
		if p.QueuedBytes() != 0 {
			t.Errorf("async %v: QueuedBytes after Run = %d", async, p.QueuedBytes())
		}
	}
}

// ackAll is an AsyncSink that acknowledges every delivery at once.
type ackAll struct{}

func (ackAll) Send(_ context.Context, d *Delivery) error { d.Ack(); d.Release(); return nil }
func (ackAll) End(error)                                 {}
func (ackAll) Close() error                              { return nil }
