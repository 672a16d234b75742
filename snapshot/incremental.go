package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// Signal kinds: the rows of the signalling table.
const (
	// SignalExecute asks the streams that follow the database for an
	// incremental snapshot of the tables its body names ("db.t,db.u").
	SignalExecute = "execute-snapshot"
	// SignalLow and SignalHigh are a stream's watermarks around one chunk
	// (body: the stream's id, ':' and the chunk's number).
	SignalLow  = "low-watermark"
	SignalHigh = "high-watermark"
	// SignalDone says a stream finished a request (body: the stream's id,
	// ':' and the request's id).
	SignalDone = "done"
)

// DefaultIncrementalChunk is the rows one chunk of an incremental snapshot
// reads (Debezium's default too): small, since the chunk's rows are held
// in memory between the watermarks and delivered in one go.
const DefaultIncrementalChunk = 1024

// Incremental runs incremental snapshots inside a stream (DBLog's
// watermarks, see the package documentation): Wrap puts it between a
// source's stream and the pipeline's emit. The source gives the database
// side.
type Incremental struct {
	// Signal is the signalling table; its rows never reach the sink.
	Signal change.Namespace
	// SignalRow reads a change of the signalling table: the row's id, kind
	// and body (nil: ReadSignal).
	SignalRow func(c *change.Change) (id, kind, body string, ok bool)
	// Write inserts a row into the signalling table, in a transaction of
	// its own, and returns once it is committed.
	Write func(ctx context.Context, kind, body string) error
	// Tables lists the tables a request may name (their columns and keys).
	Tables func(ctx context.Context) ([]*Table, error)
	// Reader reads chunks, each query in a transaction of its own.
	Reader Reader
	// ChunkRows is the rows of one chunk (default DefaultIncrementalChunk).
	ChunkRows int
	// Source is the Change.Source of the rows ("": the high watermark's
	// commit's).
	Source string
	// Logger gets the requests' progress (nil: discard).
	Logger *slog.Logger

	id string // this stream's id in the watermarks

	mu     sync.Mutex
	state  State                       // the request being served (Incremental "" when none)
	tables map[change.Namespace]*Table // of the request
	table  *Table                      // the table being read
	chunk  int                         // the number of the chunk in flight
	window map[string]bool             // keys the stream changed since the window opened (while inWin)
	inWin  bool                        // open from the table's start or the last chunk's delivery to the high watermark
	rows   []change.Change             // the chunk read, waiting for its high watermark
	rowKey []string                    // their keys' text
	last   []change.Value              // the chunk's last key (nil: the table is done)
	high   bool                        // the high watermark was seen: the rows go after its commit
	wake   chan struct{}               // the chunk goroutine waits on it for the high watermark's delivery
	req    chan State                  // a request to start (from the stream's emit)
	err    error                       // the chunk goroutine's failure, returned by the next emit
	done   chan struct{}               // closed when the chunk goroutine has returned
}

// Wait waits for the goroutine Start started to return (after its ctx
// ended): the source may then close what Write, Tables and Reader use.
func (inc *Incremental) Wait() { <-inc.done }

// Start prepares inc for a stream resumed at from: a request that was
// being served goes on after its last key. It starts the goroutine that
// reads chunks; it stops when ctx ends.
func (inc *Incremental) Start(ctx context.Context, from change.Position) error {
	var b [4]byte
	rand.Read(b[:])
	inc.id = hex.EncodeToString(b[:])
	if inc.ChunkRows <= 0 {
		inc.ChunkRows = DefaultIncrementalChunk
	}
	if inc.Logger == nil {
		inc.Logger = discard()
	}
	if inc.SignalRow == nil {
		inc.SignalRow = ReadSignal
	}
	inc.wake = make(chan struct{}, 1)
	inc.req = make(chan State, 1)
	st, err := ParseState(from.Snapshot)
	if err != nil {
		return err
	}
	if st.Incremental != "" {
		inc.state = st // the positions carry it until the request is done
	}
	inc.done = make(chan struct{})
	go func() {
		defer close(inc.done)
		inc.loop(ctx)
	}()
	if st.Incremental != "" {
		inc.Logger.Info("incremental snapshot resumes", "request", st.Incremental, "table", nsText(st.Table), "after_key", keyDisplay(st.Key))
		inc.req <- st
	}
	return nil
}

// Wrap returns the emit a source's stream calls: it drops the signalling
// table's changes, notes the keys the stream changes between a chunk's
// watermarks, delivers the chunk's rows right after its high watermark's
// transaction, and carries the request's progress on every position.
func (inc *Incremental) Wrap(ctx context.Context, emit func([]change.Change) error) func([]change.Change) error {
	var out []change.Change
	return func(batch []change.Change) error {
		inc.mu.Lock()
		if err := inc.err; err != nil {
			inc.mu.Unlock()
			return err
		}
		if inc.state.Incremental == "" && !inc.inWin && !inc.high && !slices.ContainsFunc(batch, func(c change.Change) bool { return c.Namespace == inc.Signal }) {
			// Nothing to do: the batch as it is.
			inc.mu.Unlock()
			return emit(batch)
		}
		out = out[:0]
		var flushRows bool
		for i := range batch {
			c := batch[i]
			if c.Namespace == inc.Signal {
				if id, kind, body, ok := inc.SignalRow(&c); ok && c.Op == change.OpInsert {
					inc.signal(id, kind, body)
				}
				continue
			}
			if inc.inWin && inc.table != nil && c.Namespace == inc.table.Namespace {
				for _, img := range [][]change.Value{c.Before, c.After} {
					if k, ok := keyText(inc.table, &c, img); ok {
						inc.window[k] = true
					}
				}
			}
			if inc.state.Incremental != "" {
				c.Pos.Snapshot = inc.stateText()
			}
			out = append(out, c)
			if inc.high && c.Op == change.OpCommit {
				// The high watermark's transaction ends here: its chunk's
				// rows go right after it.
				out = inc.appendRows(out, c.Pos, c.ReadTime, c.Source)
				flushRows = true
			}
		}
		inc.mu.Unlock()
		if len(out) > 0 {
			if err := emit(out); err != nil {
				return err
			}
		}
		if flushRows {
			select {
			case inc.wake <- struct{}{}:
			default:
			}
		}
		return nil
	}
}

// signal handles a row of the signalling table the stream read.
func (inc *Incremental) signal(id, kind, body string) {
	switch kind {
	case SignalExecute:
		if inc.state.Incremental != "" {
			inc.Logger.Warn("incremental snapshot request ignored: another one is running", "request", id, "running", inc.state.Incremental)
			return
		}
		var queue []change.Namespace
		for _, name := range strings.Split(body, ",") {
			db, t, ok := strings.Cut(strings.TrimSpace(name), ".")
			if ok {
				queue = append(queue, change.Namespace{Database: db, Table: t})
			}
		}
		if len(queue) == 0 {
			inc.Logger.Warn("incremental snapshot request names no table", "request", id, "body", body)
			return
		}
		st := State{Incremental: id, Table: queue[0], Queue: queue[1:]}
		inc.state = st // progress from here on, even before the first chunk
		select {
		case inc.req <- st:
		default:
		}
	case SignalLow:
		// The window is open already (openWindow): it reaches back to
		// the last chunk's delivery, not only to the low watermark.
		if body == inc.id+":"+fmt.Sprint(inc.chunk) && !inc.inWin {
			inc.openWindow()
		}
	case SignalHigh:
		if body == inc.id+":"+fmt.Sprint(inc.chunk) && inc.inWin {
			inc.inWin = false
			inc.high = true
		}
	}
}

// appendRows appends the chunk's rows whose keys the stream did not change
// in the window, positioned after at, and moves the progress past the
// chunk.
func (inc *Incremental) appendRows(out []change.Change, at change.Position, read time.Time, source string) []change.Change {
	inc.high = false
	n := uint64(0)
	for i := range inc.rows {
		if inc.window[inc.rowKey[i]] {
			continue // the stream's newer version was, or will be, delivered
		}
		c := inc.rows[i]
		n++
		if c.Source == "" {
			c.Source = source
		}
		c.Pos = at
		c.Pos.Row = n
		st := inc.state
		st.Key = inc.table.keyOf(c.After, nil)
		c.Pos.Snapshot = st.String()
		c.ReadTime = read
		out = append(out, c)
	}
	inc.rows, inc.rowKey, inc.window = nil, nil, nil
	// The chunk is delivered: the progress moves to its last key, or to
	// the next table.
	if inc.last != nil {
		inc.state.Key = inc.last
		inc.openWindow() // the next chunk's
	} else {
		inc.nextTable()
	}
	// The commit carrying the rows takes the new progress too (it was set
	// before); positions after it carry inc.stateText().
	return out
}

// nextTable moves the progress to the request's next table, or ends the
// request.
func (inc *Incremental) nextTable() {
	if len(inc.state.Queue) == 0 {
		inc.Logger.Info("incremental snapshot done", "request", inc.state.Incremental)
		inc.state = State{}
		inc.table = nil
		return
	}
	inc.state.Table, inc.state.Queue, inc.state.Key = inc.state.Queue[0], inc.state.Queue[1:], nil
	inc.table = inc.tables[inc.state.Table]
	inc.openWindow()
}

// openWindow starts noting the keys of the table being read that the
// stream changes, for the next chunk: from the table's start or the last
// chunk's delivery, which is earlier than the chunk's low watermark. A
// window that opened only at the low watermark would miss a transaction
// whose commit comes before the low watermark in the log but which the
// chunk's read does not see yet: PostgreSQL makes a transaction visible
// when it leaves the ProcArray, after its commit record is written, so a
// read that starts after the low watermark's commit can miss one committed
// just before it — and its older row would follow the newer change.
func (inc *Incremental) openWindow() {
	inc.inWin, inc.window = inc.table != nil, map[string]bool{}
}

func (inc *Incremental) stateText() string { return inc.state.String() }

// keyText returns the text of the key of img for table t.
func keyText(t *Table, c *change.Change, img []change.Value) (string, bool) {
	if img == nil {
		return "", false
	}
	var key []change.Value
	for _, name := range t.KeyNames() {
		i := slices.IndexFunc(c.Columns, func(col change.Column) bool { return col.Name == name })
		if i < 0 || i >= len(img) || !img[i].Present() {
			return "", false
		}
		key = append(key, img[i])
	}
	return string(AppendKey(nil, key)), len(key) > 0
}

// loop serves requests chunk by chunk: low watermark, read, high
// watermark, wait for the stream to deliver the chunk.
func (inc *Incremental) loop(ctx context.Context) {
	fail := func(err error) {
		inc.mu.Lock()
		inc.err = err
		inc.mu.Unlock()
	}
	for {
		var st State
		select {
		case <-ctx.Done():
			return
		case st = <-inc.req:
		}
		tables, err := inc.Tables(ctx)
		if err != nil {
			fail(err)
			return
		}
		byName := map[change.Namespace]*Table{}
		for _, t := range tables {
			byName[t.Namespace] = t
		}
		inc.mu.Lock()
		inc.state, inc.tables = st, byName
		inc.table = byName[st.Table]
		inc.openWindow()
		inc.mu.Unlock()
		inc.Logger.Info("incremental snapshot starts", "request", st.Incremental, "table", nsText(st.Table))
		for {
			inc.mu.Lock()
			t, done := inc.table, inc.state.Incremental == ""
			for t == nil && !done {
				inc.Logger.Warn("incremental snapshot: no such table (or it has no primary key): skipped", "table", nsText(inc.state.Table))
				inc.nextTable()
				t, done = inc.table, inc.state.Incremental == ""
			}
			after := inc.state.Key
			inc.chunk++
			chunk := inc.chunk
			inc.mu.Unlock()
			if done {
				if err := inc.Write(ctx, SignalDone, inc.id+":"+st.Incremental); err != nil {
					fail(err)
					return
				}
				break
			}
			if t.Key == nil {
				inc.Logger.Warn("incremental snapshot: a table without a key cannot be read in chunks: skipped", "table", nsText(t.Namespace))
				inc.mu.Lock()
				inc.nextTable()
				inc.mu.Unlock()
				continue
			}
			if err := inc.Write(ctx, SignalLow, inc.id+":"+fmt.Sprint(chunk)); err != nil {
				fail(err)
				return
			}
			var rows []change.Change
			var keys []string
			n, err := inc.Reader.Read(ctx, t, after, inc.ChunkRows, func(cols []change.Column, vals []change.Value) error {
				if cols == nil {
					cols = t.Columns
				}
				row := cloneValues(vals)
				rows = append(rows, change.Change{Op: change.OpRead, Source: inc.Source, Namespace: t.Namespace, Columns: cols,
					After: row, Snapshot: change.SnapshotIncremental})
				keys = append(keys, string(AppendKey(nil, t.keyOf(row, nil))))
				return nil
			})
			if err != nil {
				fail(fmt.Errorf("snapshot: incremental read of %s: %w", nsText(t.Namespace), err))
				return
			}
			inc.mu.Lock()
			inc.rows, inc.rowKey, inc.last = rows, keys, nil
			if n == inc.ChunkRows {
				inc.last = t.keyOf(rows[len(rows)-1].After, nil)
			}
			inc.mu.Unlock()
			if err := inc.Write(ctx, SignalHigh, inc.id+":"+fmt.Sprint(chunk)); err != nil {
				fail(err)
				return
			}
			// Wait for the stream to deliver the chunk at its high watermark.
			select {
			case <-ctx.Done():
				return
			case <-inc.wake:
			}
		}
	}
}

// ReadSignal reads the id, kind and body columns of a signalling table's
// row change (its new row).
func ReadSignal(c *change.Change) (id, kind, body string, ok bool) {
	img := c.After
	for i, col := range c.Columns {
		if i >= len(img) {
			break
		}
		switch col.Name {
		case "id":
			id = string(change.AppendText(nil, img[i]))
		case "kind":
			kind = string(img[i].B)
		case "body":
			body = string(img[i].B)
		}
	}
	return id, kind, body, kind != ""
}
