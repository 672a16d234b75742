package tools

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// splitRows is the size of the transaction the split test cuts up.
const splitRows = 200000

// rowChanges returns the row changes of files as JSON lines without
// positions and transaction fields, which splitting changes.
func rowChanges(t *testing.T, files ...string) []string {
	t.Helper()
	var out []string
	var buf []byte
	err := changes.DecodeFiles(context.Background(), files, changes.NewDecoder(changes.Filter{}), func(c *change.Change) error {
		if c.Op != change.OpInsert && c.Op != change.OpUpdate && c.Op != change.OpDelete {
			return nil
		}
		c.Pos, c.Tx = change.Position{}, change.Tx{}
		buf = change.AppendJSON(buf[:0], c)
		out = append(out, string(buf))
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRowChanges fails t when the split output's row changes differ from
// the original's.
func sameRowChanges(t *testing.T, orig []string, out string) {
	t.Helper()
	want, got := rowChanges(t, orig...), rowChanges(t, out)
	if len(got) != len(want) {
		t.Fatalf("the split binlog holds %d row changes, the original %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row change %d differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// eachTransaction calls fn with the row changes of each transaction of
// file, in order (the slices are reused).
func eachTransaction(t *testing.T, file string, fn func(rows []*change.Change)) {
	t.Helper()
	var rows []*change.Change
	err := changes.DecodeFiles(context.Background(), []string{file}, changes.NewDecoder(changes.Filter{}), func(c *change.Change) error {
		switch c.Op {
		case change.OpBegin:
			rows = rows[:0]
		case change.OpCommit:
			fn(rows)
		case change.OpInsert, change.OpUpdate, change.OpDelete:
			cc := *c
			cc.Before, cc.After = cloneValues(c.Before), cloneValues(c.After)
			rows = append(rows, &cc)
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

func cloneValues(vs []change.Value) []change.Value {
	if vs == nil {
		return nil
	}
	out := make([]change.Value, len(vs))
	for i, v := range vs {
		out[i] = v.Clone()
	}
	return out
}

// splitTo splits files into a new file and returns its path.
func splitTo(t *testing.T, files []string, opt SplitOptions) (string, SplitResult) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "split.bin")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Split(testCtx(t), files, opt, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out, res
}

// applyToFresh recreates the schema and applies the binlog out to it with
// mariadb-binlog | mariadb. The transactions that were not split keep
// their GTIDs, older than the server's: they are replayed out of order,
// as a restore would.
func applyToFresh(t *testing.T, srv *testenv.MariaDB, schema []string, out string) {
	t.Helper()
	exec1(t, srv, schema...)
	exec1(t, srv, "SET GLOBAL gtid_strict_mode = OFF")
	defer exec1(t, srv, "SET GLOBAL gtid_strict_mode = ON")
	applyBinlog(t, srv, out)
}

func TestSplitRoundTrip(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	const db = "splitdb"
	schema := []string{"DROP DATABASE IF EXISTS " + db, "CREATE DATABASE " + db, "USE " + db,
		"CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(30), d DATETIME(3))",
		"CREATE TABLE u (id INT PRIMARY KEY, v INT)"}
	exec1(t, srv, schema...)
	files := record(t, srv, func() {
		exec1(t, srv, "USE "+db,
			"INSERT INTO u VALUES (1, 1), (2, 2)",
			"BEGIN",
			fmt.Sprintf("INSERT INTO t SELECT seq, CONCAT('row ', seq), '2024-01-01 00:00:00.5' + INTERVAL seq SECOND FROM seq_1_to_%d", splitRows),
			"UPDATE u SET v = v + 10",
			"UPDATE t SET s = 'changed' WHERE id % 3 = 0",
			"COMMIT",
			"UPDATE u SET v = 0 WHERE id = 1")
	})
	want := checksums(t, srv, db, "t", "u")
	total := int64(splitRows + 2 + splitRows/3)
	in, err := BigTx(ctx, files, BigTxOptions{Top: 1})
	if err != nil {
		t.Fatal(err)
	}
	if in.Transactions != 3 || in.ByRows[0].Rows != total {
		t.Fatalf("bigtx on the input: %d transactions, largest %d rows; want 3, %d", in.Transactions, in.ByRows[0].Rows, total)
	}
	out, res := splitTo(t, files, SplitOptions{MaxRows: 1000})
	if res.Split != 1 || res.Pieces != (total+999)/1000 || res.Transactions != 3 {
		t.Errorf("split: %+v, want 1 transaction split into %d pieces of 3", res, (total+999)/1000)
	}
	// bigtx on the output: no transaction over the limit.
	big, err := BigTx(ctx, []string{out}, BigTxOptions{Top: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(big.ByRows) != 1 || big.ByRows[0].Rows != 1000 || big.Transactions != res.Pieces+2 {
		t.Errorf("bigtx on the output: %d transactions, largest %+v", big.Transactions, big.ByRows)
	}
	sameRowChanges(t, files, out)
	// mariadb-binlog reads the output (applyToFresh fails on any error of
	// it) and the changes apply to a fresh copy of the database.
	applyToFresh(t, srv, schema, out)
	if got := checksums(t, srv, db, "t", "u"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checksums after applying the split binlog = %v, want %v", got, want)
	}
}

// TestSplitMaxBytes splits by bytes a transaction of rows of known sizes:
// the row images of every output transaction add up to at most the limit,
// except the one holding alone a row larger than the limit.
func TestSplitMaxBytes(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	const (
		db    = "splitbytes"
		limit = 64 << 10
		huge  = 100000 // bytes of the row larger than the limit
	)
	schema := []string{"DROP DATABASE IF EXISTS " + db, "CREATE DATABASE " + db, "USE " + db,
		"CREATE TABLE w (id INT PRIMARY KEY, pad MEDIUMBLOB)"}
	exec1(t, srv, schema...)
	files := record(t, srv, func() {
		exec1(t, srv, "USE "+db,
			"INSERT INTO w VALUES (0, 'seed')",
			"BEGIN",
			"INSERT INTO w SELECT seq, REPEAT(CHAR(65 + seq % 26), seq % 700) FROM seq_1_to_20000",
			fmt.Sprintf("INSERT INTO w VALUES (-1, REPEAT('h', %d))", huge),
			"UPDATE w SET pad = CONCAT(pad, 'u') WHERE id % 10 = 0",
			"INSERT INTO w VALUES (-2, 'after the huge row')",
			"DELETE FROM w WHERE id % 7 = 0",
			"COMMIT")
	})
	want := checksums(t, srv, db, "w")
	out, res := splitTo(t, files, SplitOptions{MaxBytes: limit})
	if res.Split != 1 || res.Transactions != 2 {
		t.Errorf("split: %+v, want 1 of 2 transactions split", res)
	}
	// The size of a row image of w in a rows event: the null bitmap (one
	// byte), the INT, the MEDIUMBLOB's 3-byte length and its bytes.
	image := func(vs []change.Value) int64 {
		if vs == nil {
			return 0
		}
		return 1 + 4 + 3 + int64(len(vs[1].B))
	}
	var txs, rows, total, largest int64
	var alone bool
	eachTransaction(t, out, func(tx []*change.Change) {
		txs++
		var size int64
		for _, c := range tx {
			size += image(c.Before) + image(c.After)
		}
		rows += int64(len(tx))
		total += size
		largest = max(largest, size)
		if size > limit {
			if len(tx) != 1 || tx[0].After == nil || len(tx[0].After[1].B) != huge {
				t.Errorf("transaction %d: %d rows of %d bytes of row images, over the limit of %d", txs, len(tx), size, limit)
			}
			alone = true
		}
	})
	if !alone {
		t.Errorf("the %d-byte row is not in a transaction of its own", huge)
	}
	if txs != res.Pieces+1 {
		t.Errorf("the output holds %d transactions, want %d pieces and the seed", txs, res.Pieces)
	}
	// The pieces are full: no more of them than the rows need, packed
	// greedily (each piece but the last and the huge row's neighbours
	// would go over with one more row of at most 1.4 KB).
	if maxPieces := total/(limit-2*(1+4+3+701)) + 3; res.Pieces > maxPieces {
		t.Errorf("%d pieces for %d bytes of row images; at most %d expected", res.Pieces, total, maxPieces)
	}
	t.Logf("%d rows, %d bytes of row images in %d pieces; largest %d bytes", rows, total, res.Pieces, largest)
	// What the limit does not count: event headers, TABLE_MAPs, BEGIN and
	// XID, which come on top (see SplitOptions.MaxBytes).
	big, err := BigTx(ctx, []string{out}, BigTxOptions{Top: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("largest output transactions in the file: %d and %d bytes", big.ByBytes[0].Bytes(), big.ByBytes[1].Bytes())
	if b := big.ByBytes[1].Bytes(); b > limit*5/4 {
		t.Errorf("the largest piece without the huge row takes %d bytes in the file, over 1.25 x the limit", b)
	}
	sameRowChanges(t, files, out)
	applyToFresh(t, srv, schema, out)
	if got := checksums(t, srv, db, "w"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checksums after applying the split binlog = %v, want %v", got, want)
	}
}

// TestSplitDecisionWindow checks the bound documented on
// SplitOptions.MaxBuffer: a transaction that goes over the limit only
// after that many bytes of events is split all the same (its events wait
// in a temporary file), with the same output as with a window that holds
// it whole.
func TestSplitDecisionWindow(t *testing.T) {
	srv := server(t)
	const db = "splitwindow"
	exec1(t, srv, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		"CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(60))")
	files := record(t, srv, func() {
		// About 130 KB of rows events; over 1500 rows only after ~100 KB.
		exec1(t, srv, "USE "+db, "INSERT INTO t SELECT seq, REPEAT('x', 50) FROM seq_1_to_2000")
	})
	outputs := map[int64][]byte{}
	for _, tc := range []struct {
		maxRows     int64
		buffer      int64
		split       int64
		largestRows int64
	}{
		{1500, 0, 1, 1500},        // the default window holds the whole transaction
		{1500, 32 << 10, 1, 1500}, // over the limit only past the window: split from the file
		{1500, 1 << 10, 1, 1500},  // nearly every event waits in the file
		{5000, 1 << 10, 0, 2000},  // never over the limit: copied whole from the file
	} {
		out, res := splitTo(t, files, SplitOptions{MaxRows: tc.maxRows, MaxBuffer: tc.buffer})
		big, err := BigTx(testCtx(t), []string{out}, BigTxOptions{Top: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Split != tc.split || big.ByRows[0].Rows != tc.largestRows {
			t.Errorf("window %d: %+v, largest output transaction %d rows; want %d split, largest %d", tc.buffer, res, big.ByRows[0].Rows, tc.split, tc.largestRows)
		}
		sameRowChanges(t, files, out)
		if tc.maxRows == 1500 {
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outputs[tc.buffer] = b
		}
	}
	for buffer, b := range outputs {
		if !bytes.Equal(b, outputs[0]) {
			t.Errorf("window %d: output differs from the default window's (%d vs %d bytes)", buffer, len(b), len(outputs[0]))
		}
	}
}
