package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/pipeline"
)

// fakeDB holds tables of rows keyed by an int64 (or keyless), and counts
// the bytes read and not yet delivered.
type fakeDB struct {
	tables  map[change.Namespace][]int64
	payload int // bytes of each row's payload
	keyless map[change.Namespace]bool

	outstanding atomic.Int64 // payload bytes read and not yet emitted
	peak        atomic.Int64
	queries     atomic.Int64
	failAfter   atomic.Int64 // fail reading once this many rows were read (0: never)
	read        atomic.Int64
	ranges      bool         // readers are RangeReaders
	quantiles   bool         // and KeyQuantilers (with ranges)
	rangeReads  atomic.Int64 // ReadUntil calls
}

var cols = []change.Column{{Name: "id", Type: "bigint", Key: true}, {Name: "v", Type: "text"}}

func (db *fakeDB) list() []*Table {
	var ts []*Table
	for ns, rows := range db.tables {
		t := &Table{Namespace: ns, Columns: cols, Key: []int{0}, Rows: int64(len(rows))}
		if db.keyless[ns] {
			t.Key = nil
		}
		ts = append(ts, t)
	}
	// Any order: Do sorts.
	sort.Slice(ts, func(i, j int) bool { return ts[i].Table > ts[j].Table })
	return ts
}

type fakeReader struct {
	db   *fakeDB
	vals []change.Value
	buf  []byte
}

func (r *fakeReader) Read(ctx context.Context, t *Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	return r.read(t, after, nil, limit, row)
}

func (r *fakeReader) read(t *Table, after []change.Value, until *change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	r.db.queries.Add(1)
	rows := r.db.tables[t.Namespace]
	start := 0
	if after != nil {
		start = sort.Search(len(rows), func(i int) bool { return rows[i] > after[0].I })
	}
	n := 0
	for i := start; i < len(rows) && (limit == 0 || n < limit) && (until == nil || rows[i] <= until.I); i++ {
		if f := r.db.failAfter.Load(); f > 0 && r.db.read.Load() >= f {
			return n, errors.New("connection lost")
		}
		r.db.read.Add(1)
		k := rows[i]
		r.buf = append(r.buf[:0], fmt.Sprintf("%s-%d-", t.Table, k)...)
		if pad := r.db.payload - len(r.buf); pad > 0 {
			r.buf = append(r.buf, bytes.Repeat([]byte{'x'}, pad)...)
		}
		r.vals = append(r.vals[:0], change.Int(k, 64), change.String(r.buf))
		o := r.db.outstanding.Add(int64(len(r.buf)))
		for {
			p := r.db.peak.Load()
			if o <= p || r.db.peak.CompareAndSwap(p, o) {
				break
			}
		}
		if err := row(nil, r.vals); err != nil {
			return n, err
		}
		// Scribble over what was handed out: Do must have copied it.
		copy(r.buf, bytes.Repeat([]byte{'#'}, len(r.buf)))
		r.vals[0] = change.Int(-1, 64)
		n++
	}
	return n, nil
}

// rangeReader is a fakeReader that reads key ranges (a RangeReader).
type rangeReader struct{ fakeReader }

func (r *rangeReader) KeyRange(_ context.Context, t *Table) (lo, hi change.Value, ok bool, err error) {
	rows := r.db.tables[t.Namespace]
	if len(rows) == 0 {
		return lo, hi, false, nil
	}
	return change.Int(rows[0], 64), change.Int(rows[len(rows)-1], 64), true, nil
}

func (r *rangeReader) ReadUntil(_ context.Context, t *Table, after []change.Value, until change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	r.db.rangeReads.Add(1)
	return r.read(t, after, &until, limit, row)
}

// quantReader is a rangeReader that gives the keys' quantiles (a
// KeyQuantiler): every tenth key.
type quantReader struct{ rangeReader }

func (r *quantReader) KeyQuantiles(_ context.Context, t *Table) ([]change.Value, error) {
	var qs []change.Value
	rows := r.db.tables[t.Namespace]
	for i := 0; i < len(rows); i += 10 {
		qs = append(qs, change.Int(rows[i], 64))
	}
	return qs, nil
}

func newDB(sizes map[string]int, payload int) *fakeDB {
	db := &fakeDB{tables: map[change.Namespace][]int64{}, payload: payload, keyless: map[change.Namespace]bool{}}
	for name, n := range sizes {
		ns := change.Namespace{Database: "d", Table: name}
		rows := make([]int64, n)
		for i := range rows {
			rows[i] = int64(i*3 + 1)
		}
		db.tables[ns] = rows
	}
	return db
}

type got struct {
	mu   sync.Mutex
	rows []change.Change
}

// emit keeps deep copies (Do reuses its batches).
func (g *got) emit(db *fakeDB) func([]change.Change) error {
	return func(batch []change.Change) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, c := range batch {
			c.After = cloneValues(c.After)
			g.rows = append(g.rows, c)
			db.outstanding.Add(-int64(len(c.After[1].B)))
		}
		return nil
	}
}

func run(t *testing.T, db *fakeDB, opts Options, resume change.Position) ([]change.Change, Result, error) {
	t.Helper()
	st, err := ParseState(resume.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	readers := make([]Reader, max(opts.Workers, 1))
	for i := range readers {
		if db.ranges && db.quantiles {
			readers[i] = &quantReader{rangeReader{fakeReader{db: db}}}
		} else if db.ranges {
			readers[i] = &rangeReader{fakeReader{db: db}}
		} else {
			readers[i] = &fakeReader{db: db}
		}
	}
	var g got
	point := change.Position{Flavor: change.FlavorLSN, Offset: 1000}
	res, err := Do(context.Background(), &Run{Options: opts, Source: "fake", Point: point, Tables: db.list(), Readers: readers,
		Resume: st, LastRow: resume.Row}, g.emit(db))
	return g.rows, res, err
}

// want is every row of db in delivery order: tables by name, keys up.
func (db *fakeDB) want() []string {
	var names []change.Namespace
	for ns := range db.tables {
		names = append(names, ns)
	}
	slices.SortFunc(names, CompareTables)
	var out []string
	for _, ns := range names {
		for _, k := range db.tables[ns] {
			out = append(out, ns.Table+"/"+strconv.FormatInt(k, 10))
		}
	}
	return out
}

func rowIDs(rows []change.Change) []string {
	out := make([]string, len(rows))
	for i, c := range rows {
		out[i] = c.Table + "/" + strconv.FormatInt(c.After[0].I, 10)
	}
	return out
}

func TestDoDeliversInOrder(t *testing.T) {
	sizes := map[string]int{"b": 1000, "a": 2500, "empty": 0, "c": 1, "z": 333}
	for _, mode := range []string{"", "ranges", "quantiles"} {
		ranges := mode != ""
		for _, workers := range []int{1, 2, 4} {
			for _, chunk := range []int{1, 7, 1000, 100000} {
				t.Run(fmt.Sprintf("mode=%s,workers=%d,chunk=%d", mode, workers, chunk), func(t *testing.T) {
					db := newDB(sizes, 30)
					db.ranges, db.quantiles = ranges, mode == "quantiles"
					rows, res, err := run(t, db, Options{Workers: workers, ChunkRows: chunk, MemoryBytes: 64 << 10}, change.Position{})
					if split := db.rangeReads.Load() > 0; split != (ranges && workers > 1 && chunk <= 7) {
						t.Errorf("%d range reads", db.rangeReads.Load())
					}
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(rowIDs(rows), db.want()) {
						t.Fatalf("rows out of order or missing: %d rows, want %d", len(rows), len(db.want()))
					}
					for i, c := range rows {
						if c.Op != change.OpRead || c.Source != "fake" || c.Pos.Row != uint64(i+1) || c.Pos.Offset != 1000 || c.Pos.Flavor != change.FlavorLSN {
							t.Fatalf("row %d: %+v", i, c)
						}
						wantMark := change.SnapshotOn
						switch i {
						case 0:
							wantMark = change.SnapshotFirst
						case len(rows) - 1:
							wantMark = change.SnapshotLast
						}
						if c.Snapshot != wantMark {
							t.Fatalf("row %d: mark %v, want %v", i, c.Snapshot, wantMark)
						}
						st, err := ParseState(c.Pos.Snapshot)
						if err != nil || st.Table != c.Namespace || len(st.Key) != 1 || st.Key[0].I != c.After[0].I {
							t.Fatalf("row %d (%s): progress %q: %+v %v", i, rowIDs(rows[i:i+1]), c.Pos.Snapshot, st, err)
						}
						if !bytes.HasPrefix(c.After[1].B, []byte(c.Table+"-")) {
							t.Fatalf("row %d: value %q was overwritten: Do kept the reader's memory", i, c.After[1].B)
						}
						if i > 0 && change.Compare(rows[i-1].Pos, c.Pos) >= 0 {
							t.Fatalf("positions out of order at row %d", i)
						}
					}
					if res.Rows != int64(len(rows)) || res.Last != rows[len(rows)-1].Pos {
						t.Errorf("result %+v", res)
					}
				})
			}
		}
	}
}

// TestDoResumesAtEveryRow stops a snapshot after each row and resumes it
// from that row's position: the two runs together deliver every row once,
// the second numbering its rows after every row the first delivered (also
// after its stop) and counting itself in the progress.
func TestDoResumesAtEveryRow(t *testing.T) {
	for _, mode := range []string{"", "ranges", "quantiles"} {
		t.Run("mode="+mode, func(t *testing.T) { testDoResumesAtEveryRow(t, mode != "", mode == "quantiles") })
	}
}

func testDoResumesAtEveryRow(t *testing.T, ranges, quantiles bool) {
	sizes := map[string]int{"a": 40, "b": 3, "c": 25}
	db := newDB(sizes, 10)
	db.ranges, db.quantiles = ranges, quantiles
	full, _, err := run(t, db, Options{Workers: 2, ChunkRows: 4}, change.Position{})
	if ranges && db.rangeReads.Load() == 0 {
		t.Fatal("no range read: table a was not split")
	}
	if err != nil {
		t.Fatal(err)
	}
	for i := range full {
		rest, _, err := run(t, db, Options{Workers: 2, ChunkRows: 4}, full[i].Pos)
		if err != nil {
			t.Fatal(err)
		}
		ids := append(rowIDs(full[:i+1]), rowIDs(rest)...)
		if !slices.Equal(ids, db.want()) {
			t.Fatalf("resume after row %d: %v", i, ids)
		}
		for j, c := range rest {
			if c.Pos.Row <= full[len(full)-1].Pos.Row || (j > 0 && c.Pos.Row != rest[j-1].Pos.Row+1) || c.Snapshot == change.SnapshotFirst {
				t.Fatalf("resume after row %d: row %d numbered %d, mark %v", i, j, c.Pos.Row, c.Snapshot)
			}
			st, err := ParseState(c.Pos.Snapshot)
			if err != nil || st.Runs != 1 || st.Table != c.Namespace {
				t.Fatalf("resume after row %d: progress %q: %+v %v", i, c.Pos.Snapshot, st, err)
			}
		}
		if i < len(full)-1 && rest[len(rest)-1].Snapshot != change.SnapshotLast {
			t.Fatalf("resume after row %d: last row not marked", i)
		}
		// A second restart counts both runs.
		if len(rest) > 1 {
			time.Sleep(2 * time.Millisecond)
			again, _, err := run(t, db, Options{Workers: 1, ChunkRows: 4}, rest[0].Pos)
			if err != nil {
				t.Fatal(err)
			}
			ids := append(rowIDs(full[:i+1]), rowIDs(rest[:1])...)
			ids = append(ids, rowIDs(again)...)
			st, _ := ParseState(again[0].Pos.Snapshot)
			if !slices.Equal(ids, db.want()) || again[0].Pos.Row <= rest[len(rest)-1].Pos.Row || st.Runs != 2 {
				t.Fatalf("second resume after row %d: %v, first row %d, progress %q", i, ids, again[0].Pos.Row, again[0].Pos.Snapshot)
			}
		}
	}
}

func TestDoKeylessTableReadAgain(t *testing.T) {
	db := newDB(map[string]int{"a": 5, "k": 6, "z": 2}, 10)
	db.keyless[change.Namespace{Database: "d", Table: "k"}] = true
	full, _, err := run(t, db, Options{Workers: 1, ChunkRows: 2}, change.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != 13 {
		t.Fatalf("%d rows", len(full))
	}
	// Stop in the middle of the keyless table: it is read again whole.
	rest, _, err := run(t, db, Options{Workers: 1, ChunkRows: 2}, full[7].Pos)
	if err != nil {
		t.Fatal(err)
	}
	if got := rowIDs(rest); !slices.Equal(got, []string{"k/1", "k/4", "k/7", "k/10", "k/13", "k/16", "z/1", "z/4"}) {
		t.Errorf("after a stop in the keyless table: %v", got)
	}
	if st, _ := ParseState(full[7].Pos.Snapshot); st.Key != nil {
		t.Errorf("keyless row carries a key: %q", full[7].Pos.Snapshot)
	}
}

// TestDoMemoryBound: rows read and not yet delivered stay within the
// bound (plus one row per worker being copied), whatever the row width.
func TestDoMemoryBound(t *testing.T) {
	for _, payload := range []int{100, 64 << 10, 1 << 20} {
		for _, ranges := range []bool{false, true} {
			n := min(200, 6<<20/payload)
			db := newDB(map[string]int{"a": n, "b": n, "c": n, "d": n}, payload)
			const bound = 1 << 20
			var slow atomic.Int64
			readers := []Reader{&fakeReader{db: db}, &fakeReader{db: db}, &fakeReader{db: db}}
			if ranges {
				readers = []Reader{&rangeReader{fakeReader{db: db}}, &rangeReader{fakeReader{db: db}}, &rangeReader{fakeReader{db: db}}}
			}
			var g got
			emit := g.emit(db)
			_, err := Do(context.Background(), &Run{Options: Options{Workers: 3, ChunkRows: 10, MemoryBytes: bound}, Source: "fake",
				Point: change.Position{Flavor: change.FlavorLSN, Offset: 1}, Tables: db.list(), Readers: readers},
				func(b []change.Change) error {
					slow.Add(1)
					return emit(b)
				})
			if err != nil {
				t.Fatal(err)
			}
			// Each worker holds at most its share plus the row that crossed it,
			// and the emitter one batch more.
			limit := int64(bound) + 3*2*int64(payload) + bound/3/batchesPerBudget + int64(payload)
			if p := db.peak.Load(); p > limit {
				t.Errorf("payload %d: %d bytes read ahead of delivery, bound %d", payload, p, limit)
			}
			if len(g.rows) != 4*n || !slices.Equal(rowIDs(g.rows), db.want()) {
				t.Errorf("payload %d: %d rows, want %d in order", payload, len(g.rows), 4*n)
			}
			if ranges && payload == 100 && db.rangeReads.Load() == 0 {
				t.Errorf("payload %d: no table split", payload)
			}
		}
	}
}

func TestSplitPoints(t *testing.T) {
	ints := func(vs []change.Value) (out []int64) {
		for _, v := range vs {
			if v.Kind == change.KindUint {
				out = append(out, int64(v.U))
			} else {
				out = append(out, v.I)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		lo, hi change.Value
		parts  int
		want   []int64
	}{
		{"even", change.Int(1, 64), change.Int(100, 64), 4, []int64{25, 49, 73}},
		{"negative", change.Int(-10, 32), change.Int(10, 32), 2, []int64{0}},
		{"narrower than the parts", change.Int(5, 64), change.Int(7, 64), 10, []int64{6, 7}},
		{"one key", change.Int(5, 64), change.Int(5, 64), 4, nil},
		{"one part", change.Int(1, 64), change.Int(100, 64), 1, nil},
		{"unsigned", change.Uint(0, 64), change.Uint(1000, 64), 2, []int64{500}},
		{"full int64 range", change.Int(math.MinInt64, 64), change.Int(math.MaxInt64, 64), 2, []int64{-1}},
		{"not an integer", change.String([]byte("a")), change.String([]byte("z")), 4, nil},
		{"mixed kinds", change.Int(1, 64), change.Uint(100, 64), 4, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := splitPoints(tc.lo, tc.hi, tc.parts)
			if !slices.Equal(ints(got), tc.want) {
				t.Fatalf("%v, want %v", ints(got), tc.want)
			}
			for _, v := range got {
				if v.Kind != tc.lo.Kind || v.Size != tc.lo.Size {
					t.Fatalf("point %+v: not of the key's kind and size", v)
				}
			}
		})
	}
}

func TestDoErrors(t *testing.T) {
	db := newDB(map[string]int{"a": 100, "b": 100}, 10)
	db.failAfter.Store(150)
	_, _, err := run(t, db, Options{Workers: 2, ChunkRows: 10}, change.Position{})
	if err == nil || !errors.Is(err, err) || !bytes.Contains([]byte(err.Error()), []byte("connection lost")) {
		t.Errorf("reader failure: %v", err)
	}
	db = newDB(map[string]int{"a": 100}, 10)
	stop := errors.New("sink full")
	readers := []Reader{&fakeReader{db: db}}
	n := 0
	_, err = Do(context.Background(), &Run{Options: Options{ChunkRows: 10, MemoryBytes: 4 << 10}, Point: change.Position{Flavor: change.FlavorLSN, Offset: 1},
		Tables: db.list(), Readers: readers}, func(b []change.Change) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("emit failure: %v", err)
	}
	// A key of another width than the table's: the key changed since.
	db = newDB(map[string]int{"a": 10}, 10)
	st := State{Table: change.Namespace{Database: "d", Table: "a"}, Key: []change.Value{change.Int(1, 64), change.Int(2, 64)}}
	_, _, err = run(t, db, Options{}, change.Position{Flavor: change.FlavorLSN, Offset: 1000, Row: 4, Snapshot: st.String()})
	if err == nil {
		t.Error("resume with a key of another width succeeded")
	}
}

func TestDoSelectsTables(t *testing.T) {
	db := newDB(map[string]int{"a": 3, "b": 3, "c": 3}, 10)
	rows, _, err := run(t, db, Options{Tables: func(ns change.Namespace) bool { return ns.Table != "b" }}, change.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rowIDs(rows); !slices.Equal(got, []string{"a/1", "a/4", "a/7", "c/1", "c/4", "c/7"}) {
		t.Errorf("rows %v", got)
	}
}

// TestDoProgressAfterResumes: a run resumed after a first run counts the
// rows that run delivered (its last Row) in Progress.Resumed; a run
// resumed after a resumed run, whose Row numbers count nothing, counts
// none instead of a row number (1.5e18 rows done before this fix).
func TestDoProgressAfterResumes(t *testing.T) {
	db := newDB(map[string]int{"a": 40}, 10)
	full, _, err := run(t, db, Options{Workers: 1, ChunkRows: 4}, change.Position{})
	if err != nil {
		t.Fatal(err)
	}
	last := func(pos change.Position) Progress {
		t.Helper()
		var p Progress
		if _, _, err := run(t, db, Options{Workers: 1, ChunkRows: 4, Progress: func(q Progress) { p = q }}, pos); err != nil {
			t.Fatal(err)
		}
		if !p.Done {
			t.Fatalf("resumed at %s: no final progress report", pos)
		}
		return p
	}
	if p := last(full[9].Pos); p.Resumed != 10 || p.Rows+p.Resumed != 40 {
		t.Errorf("resumed after the first run's 10th row: %d rows, %d resumed; want 30 and 10", p.Rows, p.Resumed)
	}
	rest, _, err := run(t, db, Options{Workers: 1, ChunkRows: 4}, full[9].Pos)
	if err != nil {
		t.Fatal(err)
	}
	if p := last(rest[4].Pos); p.Resumed != 0 || p.Rows != 25 {
		t.Errorf("resumed after a resumed run: %d rows, %d resumed; want 25 and 0 (unknown)", p.Rows, p.Resumed)
	}
}

func TestQuantilePoints(t *testing.T) {
	vals := func(xs ...int64) (out []change.Value) {
		for _, x := range xs {
			out = append(out, change.Int(x, 64))
		}
		return out
	}
	tests := []struct {
		name  string
		qs    []change.Value
		lo    int64
		parts int
		want  []int64
	}{
		{"all inner", vals(0, 10, 20, 30, 40), 0, 10, []int64{10, 20, 30}},
		{"every other", vals(0, 10, 20, 30, 40, 50, 60, 70, 80), 0, 4, []int64{20, 40, 60}},
		{"after a resumed key", vals(0, 10, 20, 30, 40), 15, 10, []int64{20, 30}},
		{"one part", vals(0, 10, 20), 0, 1, nil},
		{"no inner", vals(0, 10), 0, 4, nil},
		{"none", nil, 0, 4, nil},
		{"not ascending", vals(0, 30, 20, 40), 0, 4, nil},
		{"outliers", vals(-2147483648, 5, 6, 7, 8, 2147483647), -2147483648, 5, []int64{5, 6, 7, 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			for _, v := range quantilePoints(tc.qs, change.Int(tc.lo, 64), tc.parts) {
				got = append(got, v.I)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}
	if got := quantilePoints([]change.Value{change.Int(0, 64), change.String([]byte("x")), change.Int(9, 64)}, change.Int(0, 64), 4); got != nil {
		t.Fatalf("a quantile of another kind: %v", got)
	}
}

// TestDoLendsToPipeline runs snapshots under a pipeline Reader whose
// consumer holds several batches before releasing them: the rows are lent
// to the pipeline, not copied, and none is overwritten before its release.
func TestDoLendsToPipeline(t *testing.T) {
	// A consumer holds batches while it waits for the next one only within
	// the workers' budgets (batchesPerBudget batches each), as the
	// pipeline's own queue bound already demands.
	for _, hold := range []int{0, 2} {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("hold=%d,workers=%d", hold, workers), func(t *testing.T) {
				db := newDB(map[string]int{"a": 3000, "b": 1, "c": 5000, "empty": 0}, 100)
				db.ranges = true
				readers := make([]Reader, workers)
				for i := range readers {
					readers[i] = &rangeReader{fakeReader{db: db}}
				}
				src := sourceFunc(func(ctx context.Context, _ change.Position, emit func([]change.Change) error) error {
					_, err := Do(ctx, &Run{Options: Options{Workers: workers, ChunkRows: 100, MemoryBytes: 256 << 10}, Source: "fake",
						Point: change.Position{Flavor: change.FlavorLSN, Offset: 1}, Tables: db.list(), Readers: readers}, emit)
					return err
				})
				r := pipeline.NewReader(context.Background(), src, pipeline.ReaderConfig{Reuse: true})
				defer r.Close()
				var rows []change.Change
				var held []*pipeline.Batch
				lent := 0
				take := func(b *pipeline.Batch) {
					for _, c := range b.Changes {
						if want := fmt.Sprintf("%s-%d-", c.Table, c.After[0].I); !bytes.HasPrefix(c.After[1].B, []byte(want)) {
							t.Fatalf("row %d holds %.20q, want %q…: its memory was reused before its release", c.Pos.Row, c.After[1].B, want)
						}
						c.After = cloneValues(c.After)
						rows = append(rows, c)
					}
					if b.Lent() {
						lent++
					}
					r.Release(b)
				}
				for {
					b, err := r.Next(context.Background())
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if held = append(held, b); len(held) > hold {
						take(held[0])
						held = held[1:]
					}
				}
				for _, b := range held {
					take(b)
				}
				if !slices.Equal(rowIDs(rows), db.want()) {
					t.Fatalf("%d rows, want %d in order", len(rows), len(db.want()))
				}
				if rows[len(rows)-1].Snapshot != change.SnapshotLast || rows[0].Snapshot != change.SnapshotFirst {
					t.Errorf("marks %v … %v", rows[0].Snapshot, rows[len(rows)-1].Snapshot)
				}
				if lent == 0 {
					t.Error("no batch was lent")
				}
			})
		}
	}
}

// sourceFunc is a pipeline.Source made of its Stream.
type sourceFunc func(ctx context.Context, from change.Position, emit func([]change.Change) error) error

func (f sourceFunc) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	return f(ctx, from, emit)
}

// TestDoPointLater checks that a point learned late (Run.PointLater) is
// the one every row carries, that the workers read while it is awaited,
// and that its error ends the run.
func TestDoPointLater(t *testing.T) {
	db := newDB(map[string]int{"a": 300}, 10)
	readers := []Reader{&fakeReader{db: db}, &fakeReader{db: db}}
	var g got
	late := change.Position{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 77, GTIDSet: "0-1-9"}
	waited := false
	r := &Run{Options: Options{ChunkRows: 10}, Point: change.Position{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 77},
		Tables: db.list(), Readers: readers,
		PointLater: func(ctx context.Context) (change.Position, error) {
			// Rows are read meanwhile: wait until some are.
			for db.outstanding.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			waited = true
			return late, nil
		}}
	if _, err := Do(context.Background(), r, g.emit(db)); err != nil {
		t.Fatal(err)
	}
	if !waited || len(g.rows) != 300 || r.Point != late {
		t.Fatalf("waited %v, %d rows, point %s", waited, len(g.rows), r.Point)
	}
	for i, c := range g.rows {
		if c.Pos.GTIDSet != late.GTIDSet || c.Pos.File != late.File || c.Pos.Offset != late.Offset || c.Pos.Row != uint64(i+1) {
			t.Fatalf("row %d at %s", i, c.Pos)
		}
	}
	fail := errors.New("no GTID")
	r = &Run{Options: Options{ChunkRows: 10}, Tables: db.list(), Readers: readers,
		PointLater: func(context.Context) (change.Position, error) { return change.Position{}, fail }}
	g = got{}
	if _, err := Do(context.Background(), r, g.emit(db)); !errors.Is(err, fail) || len(g.rows) != 0 {
		t.Errorf("PointLater's error: %v, %d rows delivered", err, len(g.rows))
	}
}
