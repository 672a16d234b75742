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
