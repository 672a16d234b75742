package tools

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// knownWorkload runs three transactions the stats and bigtx tests know.
func knownWorkload(t *testing.T, db string) []string {
	srv := server(t)
	exec1(t, srv, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)", "CREATE TABLE b (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE c (id INT PRIMARY KEY, s VARCHAR(100))",
		"INSERT INTO b SELECT seq, seq FROM seq_1_to_10")
	return record(t, srv, func() {
		exec1(t, srv, "USE "+db,
			"INSERT INTO a VALUES (1, 1), (2, 2), (3, 3)",
			"BEGIN", "UPDATE b SET v = 0 WHERE id <= 5", "DELETE FROM a WHERE id <= 2", "COMMIT",
			"INSERT INTO c SELECT seq, REPEAT('x', 100) FROM seq_1_to_1000")
	})
}

func TestStatsAndBigTx(t *testing.T) {
	ctx := testCtx(t)
	files := knownWorkload(t, "statsdb")
	rep, err := Stats(ctx, files, StatsOptions{Bucket: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		table             string
		ins, upd, del, tx int64
	}{
		{"statsdb.c", 1000, 0, 0, 1},
		// a and b both have 5 changed rows; b's update events are larger.
		{"statsdb.b", 0, 5, 0, 1},
		{"statsdb.a", 3, 0, 2, 2},
	}
	if len(rep.Tables) != len(want) {
		t.Fatalf("stats has %d tables, want %d", len(rep.Tables), len(want))
	}
	for i, w := range want {
		g := rep.Tables[i]
		if g.Table != w.table || g.Inserts != w.ins || g.Updates != w.upd || g.Deletes != w.del || g.Transactions != w.tx || g.Bytes <= 0 {
			t.Errorf("table %d = %+v, want %+v", i, *g, w)
		}
	}
	if rep.Transactions != 3 {
		t.Errorf("transactions = %d, want 3 (the DDL and setup are in other files)", rep.Transactions)
	}
	var bIns, bTx int64
	for _, b := range rep.Buckets {
		bIns += b.Inserts
		bTx += b.Transactions
	}
	if bIns != 1003 || bTx != 3 {
		t.Errorf("buckets sum to %d inserts, %d transactions; want 1003, 3", bIns, bTx)
	}

	big, err := BigTx(ctx, files, BigTxOptions{Top: 2})
	if err != nil {
		t.Fatal(err)
	}
	if big.Transactions != 3 || len(big.ByRows) != 2 || len(big.ByBytes) != 2 {
		t.Fatalf("bigtx: %d transactions, lists %d and %d; want 3, 2, 2", big.Transactions, len(big.ByRows), len(big.ByBytes))
	}
	top := big.ByRows[0]
	if top.Rows != 1000 || len(top.Tables) != 1 || top.Tables[0].Table != "statsdb.c" || top.Tables[0].Inserts != 1000 || top.GTID == "" {
		t.Errorf("largest by rows = %+v", *top)
	}
	if big.ByBytes[0].Start != top.Start || big.ByBytes[0].End <= top.Start {
		t.Errorf("largest by bytes starts at %d, by rows at %d", big.ByBytes[0].Start, top.Start)
	}
	second := big.ByRows[1]
	if second.Rows != 7 || len(second.Tables) != 2 || second.Tables[0].Table != "statsdb.b" || second.Tables[1].Deletes != 2 {
		t.Errorf("second by rows = %+v", *second)
	}
	filtered, err := BigTx(ctx, files, BigTxOptions{MinRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered.ByRows) != 2 {
		t.Errorf("with --min-rows 5: %d transactions, want 2", len(filtered.ByRows))
	}
}

func TestCorruptInput(t *testing.T) {
	files := knownWorkload(t, "corruptdb")
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0xff
	cases := map[string][]byte{
		"truncated":    data[:len(data)-7],
		"flipped":      flipped,
		"not a binlog": []byte("hello, world"),
	}
	for name, b := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, err1 := Stats(ctx, []string{p}, StatsOptions{})
		_, err2 := BigTx(ctx, []string{p}, BigTxOptions{})
		_, err3 := SQL(ctx, []string{p}, SQLOptions{}, discard{})
		_, err4 := Cut(ctx, []string{p}, Range{}, discard{})
		for i, err := range []error{err1, err2, err3, err4} {
			var be *binlog.Error
			if err == nil || !errors.As(err, &be) {
				t.Errorf("%s: tool %d: err = %v, want a located *binlog.Error", name, i, err)
			}
		}
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
