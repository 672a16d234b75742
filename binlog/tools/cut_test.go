package tools

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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

func TestCutJoin(t *testing.T) {
	srv := server(t)
	const db = "cutdb"
	exec1(t, srv, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "CREATE TABLE u (id INT PRIMARY KEY, w INT)")
	files := record(t, srv, func() {
		var stmts []string
		stmts = append(stmts, "USE "+db)
		for i := 0; i < 12; i++ {
			stmts = append(stmts,
				"INSERT INTO t SELECT seq + "+itoa(i*100)+", 'x' FROM seq_1_to_50",
				"BEGIN", "UPDATE t SET v = 'y' WHERE id % 7 = "+itoa(i%7), "INSERT INTO u (id, w) VALUES ("+itoa(i)+", 1)", "COMMIT",
				"DELETE FROM t WHERE id % 11 = "+itoa(i%11))
			if i == 5 {
				stmts = append(stmts, "ALTER TABLE u ADD COLUMN z INT DEFAULT 3")
			}
		}
		exec1(t, srv, stmts...)
	})
	want := decodeAll(t, files)
	// Transaction starts, to cut at.
	var starts []int64
	s := &txScanner{onTx: func(tx *Transaction) error { starts = append(starts, tx.Start); return nil }}
	if err := s.scanFiles(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || len(starts) < 30 {
		t.Fatalf("workload gave %d files, %d transactions", len(files), len(starts))
	}
	a, b := starts[len(starts)/3], starts[2*len(starts)/3]
	dir := t.TempDir()
	parts := []string{filepath.Join(dir, "p1"), filepath.Join(dir, "p2"), filepath.Join(dir, "p3")}
	var n int64
	n += cutTo(t, parts[0], files, Range{StopPosition: a}).Transactions
	n += cutTo(t, parts[1], files, Range{StartPosition: a, StopPosition: b}).Transactions
	n += cutTo(t, parts[2], files, Range{StartPosition: b}).Transactions
	if n != int64(len(starts)) { // the DDL counts as a transaction of its own in both
		t.Errorf("parts hold %d transactions, want %d", n, len(starts))
	}
	for _, p := range parts {
		if len(decodeAll(t, []string{p})) == 0 {
			t.Errorf("%s decodes to nothing", filepath.Base(p))
		}
	}
	all := filepath.Join(dir, "all")
	var joined bytes.Buffer
	if _, err := Join(context.Background(), parts, &joined); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(all, joined.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, []string{all})
	if len(got) != len(want) {
		t.Fatalf("joined parts decode to %d changes, the original to %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("change %d differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
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
}

func itoa(i int) string { return strconv.Itoa(i) }
