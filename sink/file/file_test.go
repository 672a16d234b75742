package file

import (
	"bufio"
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/change"
)

func batchOf(offsets ...uint64) []change.Change {
	var out []change.Change
	for _, o := range offsets {
		out = append(out, change.Change{Op: change.OpInsert, Source: "mysql", Namespace: change.Namespace{Database: "d", Table: "t"},
			Columns: []change.Column{{Name: "id", Key: true}}, After: []change.Value{change.Uint(o, 64)},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: o}})
	}
	return out
}

func readOffsets(t *testing.T, path string) []uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		c, err := change.DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, c.Pos.Offset)
	}
	return out
}

func TestAppendAcrossOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, batchOf(1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	// Acknowledged means on disk: readable before Close.
	if got := readOffsets(t, path); len(got) != 3 {
		t.Fatalf("after Write: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, batchOf(9)); err == nil {
		t.Error("Write after Close succeeded")
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, batchOf(4)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := readOffsets(t, path); len(got) != 4 || got[3] != 4 {
		t.Fatalf("after reopen: %v", got)
	}
}

func TestRepairTornTail(t *testing.T) {
	line := func(o uint64) string {
		return string(change.AppendJSON(nil, &batchOf(o)[0])) + "\n"
	}
	long := strings.Repeat("x", 200<<10) // longer than the repair's read chunk
	tests := []struct {
		name    string
		content string
		want    []uint64
	}{
		{"empty", "", nil},
		{"intact", line(1) + line(2), []uint64{1, 2}},
		{"torn last line", line(1) + line(2)[:10], []uint64{1}},
		{"only a torn line", line(1)[:5], nil},
		{"torn line longer than a chunk", line(1) + long, []uint64{1}},
		{"torn and nothing before, long", long, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(context.Background(), batchOf(7)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			got := readOffsets(t, path)
			want := append(tt.want, 7)
			if len(got) != len(want) {
				t.Fatalf("offsets %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("offsets %v, want %v", got, want)
				}
			}
		})
	}
}

func TestFromURL(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"file://" + filepath.Join(dir, "a.jsonl"), true},
		{"file://localhost" + filepath.Join(dir, "b.jsonl"), true},
		{"file://remote/x.jsonl", false},
		{"file://", false},
		{"file://" + filepath.Join(dir, "c.jsonl") + "?x=1", false},
		{"file://" + filepath.Join(dir, "missing", "d.jsonl"), false},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		s, err := FromURL(u, nil)
		if (err == nil) != tt.ok {
			t.Errorf("FromURL(%s) err = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if s != nil {
			s.Close()
		}
	}
}
