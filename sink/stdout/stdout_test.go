package stdout

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
)

func sampleBatch() []change.Change {
	cols := []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "name", Type: "varchar(10)", Nullable: true}}
	return []change.Change{
		{Op: change.OpBegin, Source: "mysql", Tx: change.Tx{ID: "g:1"}, Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4, Index: 1}},
		{Op: change.OpInsert, Source: "mysql", Namespace: change.Namespace{Database: "db", Table: "t"}, Columns: cols,
			After: []change.Value{change.Int(1, 32), change.String([]byte("héllo\n\"x\""))}, Tx: change.Tx{ID: "g:1", Index: 0},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4, Index: 2}, CommitTime: time.Unix(1700000000, 0).UTC()},
		{Op: change.OpUpdate, Source: "mysql", Namespace: change.Namespace{Database: "db", Table: "t"}, Columns: cols,
			Before: []change.Value{change.Int(1, 32), change.Null()}, After: []change.Value{change.Int(1, 32), change.String([]byte("b"))},
			Tx: change.Tx{ID: "g:1", Index: 1, Last: true}, Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 4, Index: 3}},
		{Op: change.OpCommit, Source: "mysql", Tx: change.Tx{ID: "g:1"}, Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 300}},
	}
}

func TestWriteRoundTrips(t *testing.T) {
	var out bytes.Buffer
	s := New(&out)
	batch := sampleBatch()
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Flushed per batch: everything is out before Close.
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	i := 0
	for sc.Scan() {
		got, err := change.DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if !change.EqualChange(&got, &batch[i]) {
			t.Errorf("line %d: decoded %+v, want %+v", i, got, batch[i])
		}
		i++
	}
	if i != len(batch) {
		t.Fatalf("%d lines, want %d", i, len(batch))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	s := New(failWriter{})
	if err := s.Write(context.Background(), sampleBatch()); err == nil {
		t.Error("Write to a failing writer succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(&bytes.Buffer{}).Write(ctx, sampleBatch()); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with canceled ctx: %v", err)
	}
}

func TestFromURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"stdout://", true},
		{"stdout:///", true},
		{"stdout://host", false},
		{"stdout:///x", false},
		{"stdout://?pretty=1", false},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := FromURL(u, nil); (err == nil) != tt.ok {
			t.Errorf("FromURL(%s) err = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

// TestFormatSluiceSameBytes: the sluice format through package format
// writes exactly the lines of the sink's own encoder.
func TestFormatSluiceSameBytes(t *testing.T) {
	enc, err := format.New("sluice", format.Target{})
	if err != nil {
		t.Fatal(err)
	}
	var plain, viaFormat bytes.Buffer
	for _, s := range []*Sink{New(&plain), NewFormat(&viaFormat, enc)} {
		if err := s.Write(context.Background(), sampleBatch()); err != nil {
			t.Fatal(err)
		}
	}
	if plain.String() != viaFormat.String() || plain.Len() == 0 {
		t.Fatalf("via format:\n%s\nplain:\n%s", viaFormat.String(), plain.String())
	}
}

// countWriter records the size of every Write it is given.
type countWriter struct {
	bytes.Buffer
	sizes []int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestWriteChunks writes a batch whose lines add up to several write
// chunks, and a line larger than them: every line arrives whole and in
// order, in writes of about a chunk, and the huge line's buffer is not kept.
func TestWriteChunks(t *testing.T) {
	cols := []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "p", Type: "text"}}
	var batch []change.Change
	for i := range 3000 {
		batch = append(batch, change.Change{Op: change.OpInsert, Namespace: change.Namespace{Database: "d", Table: "t"}, Columns: cols,
			After: []change.Value{change.Int(int64(i), 32), change.String(bytes.Repeat([]byte{'a' + byte(i%26)}, 300))},
			Pos:   change.Position{Flavor: change.FlavorLSN, Offset: uint64(i + 1)}})
	}
	huge := batch[0]
	huge.After = []change.Value{change.Int(-1, 32), change.String(bytes.Repeat([]byte{'h'}, maxKeep+1))}
	batch = append(batch, huge)
	w := &countWriter{}
	s := New(w)
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(w.Bytes()))
	sc.Buffer(nil, 2*maxKeep)
	i := 0
	for ; sc.Scan(); i++ {
		got, err := change.DecodeJSON(sc.Bytes())
		if err != nil || i >= len(batch) || !change.EqualChange(&got, &batch[i]) {
			t.Fatalf("line %d: %v (%.60q)", i, err, sc.Bytes())
		}
	}
	if i != len(batch) {
		t.Fatalf("%d lines, want %d", i, len(batch))
	}
	for j, n := range w.sizes[:len(w.sizes)-1] {
		if n < writeChunk || n > writeChunk+1024 {
			t.Errorf("write %d of %d bytes, want about %d", j, n, writeChunk)
		}
	}
	if len(w.sizes) < 4 {
		t.Errorf("%d writes for %d bytes", len(w.sizes), w.Len())
	}
	if cap(s.line) > maxKeep {
		t.Errorf("kept a buffer of %d bytes", cap(s.line))
	}
}
