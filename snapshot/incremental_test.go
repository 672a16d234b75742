package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// TestIncrementalWindowBeforeLowWatermark drives Incremental with a stream
// and a database played by the test, in the order PostgreSQL allows: a
// transaction whose commit comes before the chunk's low watermark in the
// log, but which the chunk's read does not see yet (it has not left the
// ProcArray). Its row's older version must not follow its change: the
// window reaches back to the table's start (first chunk) and to the last
// chunk's delivery (later chunks). Rows nothing changed are delivered.
func TestIncrementalWindowBeforeLowWatermark(t *testing.T) {
	sig := change.Namespace{Database: "sluice", Table: "signal"}
	tab := &Table{Namespace: change.Namespace{Database: "db", Table: "t"}, Columns: cols, Key: []int{0}}
	writes := make(chan [2]string, 1)
	inc := &Incremental{
		Signal:    sig,
		ChunkRows: 2,
		Write: func(_ context.Context, kind, body string) error {
			writes <- [2]string{kind, body}
			return nil
		},
		Tables: func(context.Context) ([]*Table, error) { return []*Table{tab}, nil },
		// The table holds keys 1 to 4; every read sees version 0 (the
		// writes of version 1 to keys 1 and 3 are not visible yet).
		Reader: readerOf(func(after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
			n := 0
			for k := int64(1); k <= 4 && n < limit; k++ {
				if after != nil && k <= after[0].I {
					continue
				}
				n++
				if err := row(nil, []change.Value{change.Int(k, 64), change.String([]byte("0"))}); err != nil {
					return n, err
				}
			}
			return n, nil
		}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); inc.Wait() }()
	if err := inc.Start(ctx, change.Position{}); err != nil {
		t.Fatal(err)
	}
	var out []change.Change
	emit := inc.Wrap(ctx, func(b []change.Change) error {
		out = append(out, b...)
		return nil
	})
	lsn := uint64(0)
	tx := func(cs ...change.Change) {
		t.Helper()
		for i := range cs {
			lsn++
			cs[i].Pos = change.Position{Offset: lsn}
		}
		lsn++
		cs = append(cs, change.Change{Op: change.OpCommit, Pos: change.Position{Offset: lsn}})
		if err := emit(cs); err != nil {
			t.Fatal(err)
		}
	}
	signal := func(kind, body string) change.Change {
		return change.Change{Op: change.OpInsert, Namespace: sig,
			Columns: []change.Column{{Name: "id", Type: "bigint", Key: true}, {Name: "kind", Type: "text"}, {Name: "body", Type: "text"}},
			After:   []change.Value{change.Int(int64(lsn), 64), change.String([]byte(kind)), change.String([]byte(body))}}
	}
	update := func(k int64) change.Change {
		return change.Change{Op: change.OpUpdate, Namespace: tab.Namespace, Columns: cols,
			Before: []change.Value{change.Int(k, 64), change.String([]byte("0"))},
			After:  []change.Value{change.Int(k, 64), change.String([]byte("1"))}}
	}
	next := func(kind string) [2]string {
		t.Helper()
		select {
		case w := <-writes:
			if w[0] != kind {
				t.Fatalf("wrote %s %s, want a %s", w[0], w[1], kind)
			}
			return w
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s written", kind)
		}
		return [2]string{}
	}

	tx(signal(SignalExecute, "db.t"))
	for _, k := range []int64{1, 3} { // chunk 1 holds keys 1 and 2, chunk 2 keys 3 and 4
		low := next(SignalLow)
		// Committed before the low watermark, not seen by the read.
		tx(update(k))
		tx(signal(low[0], low[1]))
		high := next(SignalHigh)
		tx(signal(high[0], high[1]))
	}
	low := next(SignalLow) // chunk 3: empty, the table is done
	tx(signal(low[0], low[1]))
	high := next(SignalHigh)
	tx(signal(high[0], high[1]))
	next(SignalDone)

	version := map[int64]string{}
	reads := map[int64]bool{}
	for _, c := range out {
		if c.Namespace == sig {
			t.Fatalf("a change of the signalling table reached the output: %s", c.Op)
		}
		if c.Namespace != tab.Namespace {
			continue
		}
		k, v := c.After[0].I, string(c.After[1].B)
		if c.Op == change.OpRead {
			if version[k] > v {
				t.Errorf("key %d read at version %s after version %s was delivered", k, v, version[k])
			}
			reads[k] = true
		}
		version[k] = v
	}
	for k, want := range map[int64]bool{1: false, 2: true, 3: false, 4: true} {
		if reads[k] != want {
			t.Errorf("key %d read: %v, want %v", k, reads[k], want)
		}
	}
}

// readerOf is a Reader made of a function.
type readerOf func(after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error)

func (f readerOf) Read(_ context.Context, _ *Table, after []change.Value, limit int, row func([]change.Column, []change.Value) error) (int, error) {
	return f(after, limit, row)
}
