package writeload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestWriters: four writers keep to their keys and to the pace (one
// change a millisecond in all, no burst), number the changes 1, 2, … and
// record each commit; Stop returns a writer's error.
func TestWriters(t *testing.T) {
	var mu sync.Mutex
	seen := map[int64]bool{}
	bad := 0
	ws := Start(context.Background(), 4, 400, 1, func(ctx context.Context, w int, v int64, k int) error {
		mu.Lock()
		defer mu.Unlock()
		if k%4 != w || k < 0 || k >= 400 || seen[v] {
			bad++
		}
		seen[v] = true
		return nil
	})
	time.Sleep(200 * time.Millisecond)
	if err := ws.Stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if bad > 0 {
		t.Errorf("%d changes to another writer's key, out of range or repeated", bad)
	}
	n := len(seen)
	for v := int64(1); v <= int64(n); v++ {
		if !seen[v] {
			t.Errorf("version %d of %d missing", v, n)
		}
	}
	// 200 at the pace; far fewer only on a machine too loaded to keep it,
	// more never (each writer waits its 4 ms).
	if n < 10 || n > 220 {
		t.Errorf("%d changes in 200 ms, want about 200", n)
	}
	if len(ws.committed) != n {
		t.Errorf("%d commits recorded for %d changes", len(ws.committed), n)
	}

	boom := errors.New("boom")
	ws = Start(context.Background(), 4, 400, 1, func(ctx context.Context, w int, v int64, k int) error {
		if w == 2 {
			return boom
		}
		return nil
	})
	time.Sleep(20 * time.Millisecond)
	if err := ws.Stop(); !errors.Is(err, boom) {
		t.Errorf("Stop = %v, want the writer's error", err)
	}
}

func TestLimit(t *testing.T) {
	for _, tt := range []struct{ base, want time.Duration }{
		{10 * time.Millisecond, 100 * time.Millisecond},
		{50 * time.Millisecond, 100 * time.Millisecond},
		{80 * time.Millisecond, 210 * time.Millisecond},
		{600 * time.Millisecond, 1250 * time.Millisecond},
	} {
		want := tt.want
		if raceDetector {
			want = max(want, time.Second)
		}
		if got := Limit(tt.base); got != want {
			t.Errorf("Limit(%v) = %v, want %v", tt.base, got, want)
		}
	}
}

// recorder is a testing.TB that keeps what CheckLatency reports.
type recorder struct {
	testing.TB
	errors, fatals []string
}

type fatal struct{}

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(f string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(f, args...))
}
func (r *recorder) Fatalf(f string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(f, args...))
	panic(fatal{})
}

// TestCheckLatency: changes delivered 5 ms after they committed pass,
// 400 ms during the snapshot fail (but for the race detector's bound), and
// too few measured changes are fatal.
func TestCheckLatency(t *testing.T) {
	requested := time.Now()
	s := Snapshot{Requested: requested, Began: requested.Add(10 * time.Millisecond), Took: time.Second, Rows: 100, Reads: 100}
	load := func(before, during int, latency time.Duration) (*Writers, *Deliveries) {
		ws := &Writers{committed: map[int64]time.Time{}}
		d := &Deliveries{}
		v := int64(0)
		for i := range before {
			v++
			at := requested.Add(-time.Duration(i+1) * time.Millisecond)
			ws.committed[v] = at
			d.Add(v, at.Add(5*time.Millisecond))
		}
		for i := range during {
			v++
			at := s.Began.Add(time.Duration(i+1) * time.Millisecond)
			ws.committed[v] = at
			d.Add(v, at.Add(latency))
		}
		// A change never delivered counts in no measure.
		ws.committed[v+1] = s.Began.Add(time.Millisecond)
		return ws, d
	}
	for _, tt := range []struct {
		name           string
		before, during int
		latency        time.Duration
		errors, fatal  bool
	}{
		{"fast", 100, 100, 5 * time.Millisecond, false, false},
		{"slow", 100, 100, 400 * time.Millisecond, !raceDetector, false},
		{"few during", 100, 19, 5 * time.Millisecond, false, true},
		{"few before", 19, 100, 5 * time.Millisecond, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws, d := load(tt.before, tt.during, tt.latency)
			r := &recorder{TB: t}
			func() {
				defer func() {
					if p := recover(); p != nil && p != (fatal{}) {
						panic(p)
					}
				}()
				ws.CheckLatency(r, d, s)
			}()
			if (len(r.errors) > 0) != tt.errors || (len(r.fatals) > 0) != tt.fatal {
				t.Errorf("errors %q, fatal %q", r.errors, r.fatals)
			}
		})
	}
}
