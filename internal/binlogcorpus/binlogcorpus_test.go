package binlogcorpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDir finds the corpus from this package's directory, with every file
// its README lists as damaged.
func TestDir(t *testing.T) {
	dir := Dir(t)
	if !filepath.IsAbs(dir) || !strings.HasSuffix(filepath.ToSlash(dir), "/"+rel) {
		t.Fatalf("Dir = %q, want an absolute path ending in %s", dir, rel)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 41 {
		t.Errorf("%d files in %s, want the 41 of the README", len(ents), dir)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"binlog_truncated_event.000001", "corrupt-relay-bin.000624", "bug40482-bin.000001",
		"ver_5_1-wl2325_r.001", "ver_5_1-wl2325_s.001", "binlog_truncated_prev_gtid_event.000001"} {
		Path(t, name)
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not list the damaged file %s", name)
		}
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and
// returns, so that a test can see what Dir and Path would fail with.
type fatalRecorder struct {
	testing.TB
	msgs []string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

// TestMissing: a missing file, and a checkout without the corpus, fail the
// test with a message naming what is missing.
func TestMissing(t *testing.T) {
	r := &fatalRecorder{TB: t}
	Path(r, "no-such.000001")
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "no-such.000001") {
		t.Errorf("Path of a missing file: Fatalf calls %q, want one naming the file", r.msgs)
	}

	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+module+"\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(root, "binlog")
	if err := os.Mkdir(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkg)
	r = &fatalRecorder{TB: t}
	Dir(r)
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], rel+" is missing from the checkout at "+root) {
		t.Errorf("Dir in a checkout without the corpus: Fatalf calls %q", r.msgs)
	}
}
