package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/sluice-cdc/sluice/change"
)

// genSource is a test fixture, not a database: a deterministic generator of
// transactions that follows the resume contract in doc.go. Transaction t
// starts at offset start(t); its begin has Index 1, its rows Index 2…, and
// its commit points at the next transaction's start with Index 0. It emits
// in batches of batch changes, reusing one batch slice and one payload
// buffer, overwritten after every emit, so a pipeline that keeps references
// to source memory delivers garbage.
type genSource struct {
	txRows  []int // rows per transaction
	batch   int
	payload int      // bytes of the payload column
	tables  []string // tables cycle through these
	// failAfter, when > 0, makes Stream fail after emitting that many changes.
	failAfter int

	mu       sync.Mutex
	froms    []change.Position // every from Stream was called with
	emitted  int
	finished bool
}

var genColumns = []change.Column{{Name: "id", Type: "bigint", Key: true}, {Name: "payload", Type: "blob"}, {Name: "note", Type: "varchar(20)", Nullable: true}}

func (g *genSource) start(t int) uint64 { return 4 + uint64(t)*1000 }

// each calls fn for every change of the generated log in order, building
// it into c (whose value slices are reused between calls), until fn returns false.
func (g *genSource) each(fn func(c *change.Change) bool) {
	var c change.Change
	vals := make([]change.Value, 3)
	pattern := make([]byte, g.payload+26)
	for i := range pattern {
		pattern[i] = byte('a' + i%26)
	}
	for t, rows := range g.txRows {
		id := "tx-" + strconv.Itoa(t)
		off := g.start(t)
		c = change.Change{Op: change.OpBegin, Source: "gen", Tx: change.Tx{ID: id},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: off, Index: 1}}
		if !fn(&c) {
			return
		}
		for r := 0; r < rows; r++ {
			vals[0] = change.Int(int64(t)<<32|int64(r), 64)
			vals[1] = change.Bytes(pattern[(t+r)%26 : (t+r)%26+g.payload])
			vals[2] = change.Null()
			if r%3 == 1 {
				vals[2] = change.String([]byte("n" + strconv.Itoa(r)))
			}
			c = change.Change{Op: change.OpInsert, Source: "gen",
				Namespace: change.Namespace{Database: "db", Table: g.tables[(t+r)%len(g.tables)]},
				Columns:   genColumns, After: vals,
				Tx:  change.Tx{ID: id, Index: uint64(r), Last: r == rows-1},
				Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: off, Index: uint64(r) + 2}}
			if !fn(&c) {
				return
			}
		}
		c = change.Change{Op: change.OpCommit, Source: "gen", Tx: change.Tx{ID: id},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: g.start(t + 1)}}
		if !fn(&c) {
			return
		}
	}
}

// Stream emits every change after from.
func (g *genSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	g.mu.Lock()
	g.froms = append(g.froms, from)
	g.mu.Unlock()
	batch := make([]change.Change, 0, g.batch)
	slots := make([][]change.Value, g.batch)
	bufs := make([][]byte, g.batch)
	var err error
	n := 0
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		if err = emit(batch); err != nil {
			return false
		}
		// Scribble over what was emitted: the pipeline must have copied it.
		for i := range batch {
			copy(bufs[i], "########")
		}
		batch = batch[:0]
		return ctx.Err() == nil
	}
	stopped := false
	g.each(func(c *change.Change) bool {
		if !from.IsZero() && change.Compare(c.Pos, from) <= 0 {
			return true
		}
		if g.failAfter > 0 && n == g.failAfter {
			if send() {
				err = fmt.Errorf("gen: injected failure after %d changes", n)
			}
			stopped = true
			return false
		}
		n++
		i := len(batch)
		cc := *c
		if c.After != nil {
			slots[i] = append(slots[i][:0], c.After...)
			bufs[i] = append(bufs[i][:0], c.After[1].B...)
			slots[i][1].B = bufs[i]
			cc.After = slots[i]
		}
		batch = append(batch, cc)
		if len(batch) == g.batch && !send() {
			stopped = true
			return false
		}
		return true
	})
	if !stopped {
		send()
	}
	if err == nil && stopped {
		err = ctx.Err()
	}
	g.mu.Lock()
	g.emitted += n
	g.finished = err == nil && !stopped
	g.mu.Unlock()
	return err
}
