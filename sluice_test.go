package sluice_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
)

func open(t *testing.T, rawURL string, opts ...sluice.Option) *sluice.Stream {
	t.Helper()
	s, err := sluice.Open(context.Background(), rawURL, append([]sluice.Option{sluice.WithRegistry(fixtureRegistry())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIterateAndAck(t *testing.T) {
	ctx := context.Background()
	store := &checkpoint.Memory{}
	s := open(t, "fixture://?txs=5&rows=4", sluice.WithStore(store), sluice.WithID("x"), sluice.WithBeginCommit(true))
	var got []change.Change
	for s.Next(ctx) {
		got = append(got, s.Change())
		if err := s.Ack(s.Change()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5*6 {
		t.Fatalf("%d changes, want 30", len(got))
	}
	for i := 1; i < len(got); i++ {
		if change.Compare(got[i-1].Pos, got[i].Pos) >= 0 {
			t.Fatalf("out of order: %s then %s", got[i-1].Pos, got[i].Pos)
		}
	}
	// Changes stay valid after later Next calls.
	if string(got[1].After[1].B) != "1.50" {
		t.Errorf("first row total %q", got[1].After[1].B)
	}
	if p, _ := store.Load(ctx, "x"); p != fixture.Pos(600, 0) {
		t.Errorf("saved %s, want the last commit", p)
	}
	if err := s.Ack(got[0]); !errors.Is(err, sluice.ErrNotOutstanding) {
		t.Errorf("second Ack: %v", err)
	}
}

func TestOutOfOrderAcks(t *testing.T) {
	ctx := context.Background()
	store := &checkpoint.Memory{}
	s := open(t, "fixture://?txs=2&rows=4", sluice.WithStore(store), sluice.WithID("x"), sluice.WithCheckpointInterval(0))
	var got []change.Change
	for s.Next(ctx) {
		got = append(got, s.Change())
	}
	if len(got) != 8 {
		t.Fatalf("%d changes", len(got))
	}
	// Ack 1, 3, 2, then 0: the position only moves when the prefix is complete.
	steps := []struct {
		ack  int
		want change.Position
	}{
		{1, change.Position{}},
		{3, change.Position{}},
		{2, change.Position{}},
		{0, fixture.Pos(200, 0)}, // the hidden commit after row 3 is covered too
		{4, got[4].Pos},
		{7, got[4].Pos},
		{6, got[4].Pos},
		{5, fixture.Pos(300, 0)},
	}
	for _, st := range steps {
		if err := s.Ack(got[st.ack]); err != nil {
			t.Fatal(err)
		}
		if p := s.Position(); p != st.want {
			t.Fatalf("after acking %d: position %s, want %s", st.ack, p, st.want)
		}
	}
	s.Close()
	if p, _ := store.Load(ctx, "x"); p != fixture.Pos(300, 0) {
		t.Errorf("saved %s", p)
	}
}

func TestStopAt(t *testing.T) {
	ctx := context.Background()
	// The fixture's transaction t runs from offset 100t (begin, rows) to
	// its commit at 100(t+1): stopping at the second commit ends the
	// stream with it; the next Open, without a stop, goes on from there.
	store := &checkpoint.Memory{}
	s := open(t, "fixture://?follow=1&txs=5&rows=4", sluice.WithStore(store), sluice.WithID("x"), sluice.WithBeginCommit(true),
		sluice.WithStopAt(fixture.Pos(300, 0)), sluice.WithAutoAck(true))
	var got []change.Change
	for s.Next(ctx) {
		got = append(got, s.Change())
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err after the stop position: %v", err)
	}
	s.Close()
	if len(got) != 2*6 || got[len(got)-1].Pos != fixture.Pos(300, 0) || got[len(got)-1].Op != change.OpCommit {
		t.Fatalf("got %d changes ending at %s, want 12 ending with the commit at %s", len(got), got[len(got)-1].Pos, fixture.Pos(300, 0))
	}
	if p, _ := store.Load(ctx, "x"); p != fixture.Pos(300, 0) {
		t.Errorf("saved %s, want %s", p, fixture.Pos(300, 0))
	}
	s = open(t, "fixture://?txs=5&rows=4", sluice.WithStore(store), sluice.WithID("x"), sluice.WithBeginCommit(true))
	n := 0
	for s.Next(ctx) {
		if n == 0 && s.Change().Pos != fixture.Pos(300, 1) {
			t.Errorf("resumed at %s, want %s", s.Change().Pos, fixture.Pos(300, 1))
		}
		n++
	}
	s.Close()
	if n != 3*6 {
		t.Errorf("resumed run got %d changes, want 18", n)
	}
}

func TestResumeAfterAcknowledged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	// First run: read 7 changes, acknowledge the first 5, stop.
	s := open(t, "fixture://?txs=4&rows=3", sluice.WithStateFile(path), sluice.WithID("feed"))
	var first []change.Change
	for len(first) < 7 && s.Next(ctx) {
		first = append(first, s.Change())
	}
	for _, c := range first[:5] {
		s.Ack(c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Second run resumes right after the fifth change, in the middle of
	// the second transaction, and sees the unacknowledged two again.
	s = open(t, "fixture://?txs=4&rows=3", sluice.WithStateFile(path), sluice.WithID("feed"), sluice.WithAutoAck(true))
	var second []change.Change
	for s.Next(ctx) {
		second = append(second, s.Change())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(second) != 12-5 {
		t.Fatalf("second run got %d changes, want 7", len(second))
	}
	if second[0].Pos != first[5].Pos || second[1].Pos != first[6].Pos {
		t.Errorf("second run starts at %s, want %s", second[0].Pos, first[5].Pos)
	}
	b, err := checkpoint.OpenBolt(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if p, _ := b.Load(ctx, "feed"); p != fixture.Pos(500, 0) {
		t.Errorf("with auto-ack the final position is %s, want the last commit", p)
	}
}

func TestMaxUnacked(t *testing.T) {
	ctx := context.Background()
	s := open(t, "fixture://?txs=3&rows=3", sluice.WithMaxUnacked(4))
	n := 0
	for s.Next(ctx) {
		n++
	}
	s.Close()
	if n != 4 || s.Err() == nil || !strings.Contains(s.Err().Error(), "Ack") {
		t.Errorf("read %d, err %v; want 4 then an error about Ack", n, s.Err())
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := open(t, "fixture://?txs=3&rows=3")
	if !s.Next(ctx) {
		t.Fatal(s.Err())
	}
	cancel()
	// Drain what was queued; Next must stop with the context's error.
	for i := 0; i < 100 && s.Next(ctx); i++ {
	}
	if !errors.Is(s.Err(), context.Canceled) && s.Err() != nil {
		t.Errorf("Err = %v", s.Err())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseUnblocksNext(t *testing.T) {
	// An idle source: silent, or sending heartbeats that Next does not show.
	for _, idle := range []string{"follow=1", "follow=1&heartbeat=2ms"} {
		t.Run(idle, func(t *testing.T) {
			ctx := context.Background()
			store := &checkpoint.Memory{}
			s := open(t, "fixture://?txs=1&rows=2&"+idle, sluice.WithStore(store), sluice.WithID("x"), sluice.WithAutoAck(true))
			n := 0
			done := make(chan bool)
			go func() {
				for s.Next(ctx) {
					n++
					if n == 2 {
						done <- true // Next now waits on an idle source
					}
				}
				close(done)
			}()
			<-done
			time.Sleep(20 * time.Millisecond)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not end a waiting Next")
			}
			if s.Err() != nil || n != 2 {
				t.Errorf("Err after Close = %v after %d changes, want nil after 2", s.Err(), n)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if p, _ := store.Load(ctx, "x"); p != fixture.Pos(200, 0) {
				t.Errorf("saved %s, want the commit after both auto-acked rows", p)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	reg := fixtureRegistry()
	tests := []struct {
		url  string
		opts []sluice.Option
		want string
	}{
		{"nosuch://u:s3cret@h/", nil, "unknown URL scheme"},
		{"fixture://u:s3cret@h/?login=fail", nil, "cannot log in"}, // an error that quotes the password
		{"fixture://u:s3cr%2Fet@h/?login=fail", nil, "cannot log in"},
		{"fixture://u:s3cret@h:bad/", nil, "invalid port"},
		{"fixture://?txs=x", nil, "txs"},
		{"fixture://", []sluice.Option{sluice.WithFilter(pipeline.FilterSpec{Include: "("})}, "include"},
		{"fixture://", []sluice.Option{sluice.WithStateFile(filepath.Join(t.TempDir(), "no", "dir", "s.db"))}, "state file"},
	}
	for _, tt := range tests {
		_, err := sluice.Open(ctx, tt.url, append([]sluice.Option{sluice.WithRegistry(reg)}, tt.opts...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", tt.url, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cr") {
			t.Errorf("Open(%s) error leaks the password: %v", tt.url, err)
		}
	}
	if err := reg.Register("FIXTURE", func(context.Context, *url.URL, source.Config) (pipeline.Source, error) { return nil, nil }); err == nil {
		t.Error("duplicate scheme registered")
	}
}

func TestCheckpointInterval(t *testing.T) {
	ctx := context.Background()
	store := &checkpoint.Memory{}
	// follow=1: the source stays open after the last transaction, so the
	// stream is still running when the saves are counted.
	s := open(t, "fixture://?txs=50&rows=10&follow=1", sluice.WithStore(store), sluice.WithID("x"), sluice.WithCheckpointInterval(time.Hour), sluice.WithAutoAck(true))
	for n := 0; n < 500; n++ {
		if !s.Next(ctx) {
			t.Fatalf("Next after %d changes: %v", n, s.Err())
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := store.Saves(); n > 1 {
		t.Errorf("%d saves within the interval, want at most the first", n)
	}
	s.Close()
	if p, _ := store.Load(ctx, "x"); p != fixture.Pos(5100, 0) {
		t.Errorf("Close saved %s", p)
	}
}

// BenchmarkStreamNextAck measures the library iterator: one op is one
// change returned by Next and acknowledged with Ack.
func BenchmarkStreamNextAck(b *testing.B) {
	// Rows outside transactions in batches of 256 that the source builds
	// once and re-emits with new positions: what is measured is the
	// library, not a decoder or the fixture.
	src, err := fixture.New(fixture.Options{Txs: []int{b.N}, NoTx: true, Batch: 256, Repeat: 256, NoScribble: true,
		Tables: []string{"orders"}, Columns: 3})
	if err != nil {
		b.Fatal(err)
	}
	reg := source.NewRegistry()
	reg.Register("bench", func(context.Context, *url.URL, source.Config) (pipeline.Source, error) {
		return src, nil
	})
	ctx := context.Background()
	s, err := sluice.Open(ctx, "bench://", sluice.WithRegistry(reg))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	n := 0
	for s.Next(ctx) {
		if err := s.Ack(s.Change()); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/change")
	if err := s.Close(); err != nil || n != b.N {
		b.Fatalf("%d of %d changes, %v", n, b.N, err)
	}
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// snapSource emits rows snapshot rows at LSN 100 (the last marked
// SnapshotLast) and then one stream change at LSN 200: a source that
// finished its initial snapshot and follows the log.
type snapSource struct{ rows int }

func (s snapSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	ns := change.Namespace{Database: "db", Table: "t"}
	for i := 1; i <= s.rows && from.IsZero(); i++ {
		c := change.Change{Op: change.OpRead, Namespace: ns, Snapshot: change.SnapshotOn,
			Pos: change.Position{Flavor: change.FlavorLSN, Offset: 100, Row: uint64(i), Snapshot: "t=db.t"}}
		if i == s.rows {
			c.Snapshot = change.SnapshotLast
		}
		if err := emit([]change.Change{c}); err != nil {
			return err
		}
	}
	return emit([]change.Change{{Op: change.OpInsert, Namespace: ns, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 200}}})
}

// TestSnapshotEndWaitsForAck checks that the stream after a snapshot comes
// only once the snapshot's rows are acknowledged and saved, and that Next
// says why it waits when they are not.
func TestSnapshotEndWaitsForAck(t *testing.T) {
	defer sluice.SetSnapshotAckWarning(20 * time.Millisecond)()
	reg := source.NewRegistry()
	reg.Register("snap", func(context.Context, *url.URL, source.Config) (pipeline.Source, error) {
		return snapSource{rows: 3}, nil
	})
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	ctx := context.Background()
	store := &checkpoint.Memory{}
	s, err := sluice.Open(ctx, "snap://", sluice.WithRegistry(reg), sluice.WithStore(store), sluice.WithLogger(log),
		sluice.WithCheckpointInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows []change.Change
	for len(rows) < 3 && s.Next(ctx) {
		rows = append(rows, s.Change())
	}
	if len(rows) != 3 || rows[2].Snapshot != change.SnapshotLast {
		t.Fatalf("got %d rows, err %v", len(rows), s.Err())
	}
	// The rows are not acknowledged: Next waits, and warns; the rows'
	// acknowledgement, from another goroutine, lets the stream go on.
	go func() {
		time.Sleep(200 * time.Millisecond)
		for _, c := range rows {
			s.Ack(c)
		}
	}()
	if !s.Next(ctx) {
		t.Fatal(s.Err())
	}
	if got := s.Change(); got.Pos.Offset != 200 {
		t.Fatalf("after the snapshot: %s", got.Pos)
	}
	if p, _ := store.Load(ctx, pipeline.DefaultID); p != rows[2].Pos {
		t.Errorf("saved %s when the stream's first change came, want the snapshot's end %s", p, rows[2].Pos)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "every snapshot row returned is acknowledged") {
		t.Errorf("Next did not warn:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
