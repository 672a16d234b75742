package tools

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
)

// decodeAll returns the changes of files as JSON lines without positions.
func decodeAll(t *testing.T, files []string) []string {
	t.Helper()
	var out []string
	var buf []byte
	err := changes.DecodeFiles(context.Background(), files, changes.NewDecoder(changes.Filter{}), func(c *change.Change) error {
		c.Pos = change.Position{}
		buf = change.AppendJSON(buf[:0], c)
		out = append(out, string(buf))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cutTo(t *testing.T, path string, files []string, rg Range) CutResult {
	t.Helper()
	var b bytes.Buffer
	res, err := Cut(context.Background(), files, rg, &b)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCutJoin cuts a binlog of two files into three parts, by positions
// (the middle part spans the two files) and by datetimes, and joins them:
// the parts' changes follow each other without gap or overlap, and the
// joined file decodes to exactly the original's changes.
func TestCutJoin(t *testing.T) {
	srv := server(t)
	const db = "cutdb"
	exec1(t, srv, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "CREATE TABLE u (id INT PRIMARY KEY, w INT)")
	var times []time.Time
	files := record(t, srv, func() {
		for i := 0; i < 12; i++ {
			if i == 4 || i == 8 {
				times = append(times, pause())
			}
			if i == 6 {
				exec1(t, srv, "FLUSH BINARY LOGS")
			}
			stmts := []string{"USE " + db,
				"INSERT INTO t SELECT seq + " + itoa(i*100) + ", 'x' FROM seq_1_to_50",
				"BEGIN", "UPDATE t SET v = 'y' WHERE id % 7 = " + itoa(i%7), "INSERT INTO u (id, w) VALUES (" + itoa(i) + ", 1)", "COMMIT",
				"DELETE FROM t WHERE id % 11 = " + itoa(i%11)}
			if i == 5 {
				stmts = append(stmts, "ALTER TABLE u ADD COLUMN z INT DEFAULT 3")
			}
			exec1(t, srv, stmts...)
		}
	})
	want := decodeAll(t, files)
	// Transaction starts per file, to cut at.
	starts := map[string][]int64{}
	var ntx int64
	s := &txScanner{onTx: func(tx *Transaction) error { starts[tx.File] = append(starts[tx.File], tx.Start); ntx++; return nil }}
	if err := s.scanFiles(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || ntx < 30 {
		t.Fatalf("workload gave %d files, %d transactions", len(files), ntx)
	}
	s1, s2 := starts[filepath.Base(files[0])], starts[filepath.Base(files[1])]
	a, b := s1[len(s1)/2], s2[len(s2)/2]
	for _, tc := range []struct {
		name  string
		parts []func() ([]string, Range)
	}{
		{"positions", []func() ([]string, Range){
			func() ([]string, Range) { return files[:1], Range{StopPosition: a} },
			func() ([]string, Range) { return files, Range{StartPosition: a, StopPosition: b} },
			func() ([]string, Range) { return files[1:], Range{StartPosition: b} },
		}},
		{"datetimes", []func() ([]string, Range){
			func() ([]string, Range) { return files, Range{StopTime: times[0]} },
			func() ([]string, Range) { return files, Range{StartTime: times[0], StopTime: times[1]} },
			func() ([]string, Range) { return files, Range{StartTime: times[1]} },
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var parts, concat []string
			var n int64
			for i, part := range tc.parts {
				p := filepath.Join(dir, "p"+itoa(i+1))
				in, rg := part()
				n += cutTo(t, p, in, rg).Transactions
				got := decodeAll(t, []string{p})
				if len(got) == 0 {
					t.Errorf("%s decodes to nothing", filepath.Base(p))
				}
				parts, concat = append(parts, p), append(concat, got...)
			}
			if n != ntx { // the DDL counts as a transaction of its own in both
				t.Errorf("parts hold %d transactions, want %d", n, ntx)
			}
			same(t, "the parts one after the other", concat, want)
			all := filepath.Join(dir, "all")
			var joined bytes.Buffer
			res, err := Join(context.Background(), parts, &joined)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(all, joined.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if res.Transactions != ntx || res.Bytes != int64(joined.Len()) {
				t.Errorf("join: %+v; want %d transactions, %d bytes", res, ntx, joined.Len())
			}
			same(t, "the joined parts", decodeAll(t, []string{all}), want)
			// mariadb-binlog reads the joined file and every part.
			for _, p := range append(parts, all) {
				cmd, err := srv.BinlogCmd(testCtx(t), p)
				if err != nil {
					t.Fatal(err)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("mariadb-binlog %s: %v: %s", filepath.Base(p), err, out)
				}
			}
		})
	}
}

// same fails t when the decoded changes got differ from want.
func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s decode to %d changes, the original to %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: change %d differs:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
