package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// splitRows is the size of the transaction the split test cuts up.
const splitRows = 200000

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
	out := filepath.Join(t.TempDir(), "split.bin")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Split(ctx, files, SplitOptions{MaxRows: 1000}, f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	total := splitRows + 2 + splitRows/3
	if res.Split != 1 || res.Pieces != int64((total+999)/1000) || res.Transactions != 3 {
		t.Errorf("split: %+v, want 1 transaction split into %d pieces of 3", res, (total+999)/1000)
	}
	big, err := BigTx(context.Background(), []string{out}, BigTxOptions{Top: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(big.ByRows) != 1 || big.ByRows[0].Rows != 1000 || big.Transactions != res.Pieces+2 {
		t.Errorf("bigtx on the output: %d transactions, largest %+v", big.Transactions, big.ByRows)
	}
	// Apply to a fresh copy of the schema. The transactions that were not
	// split keep their GTIDs, older than the server's: replay them out of
	// order, as a restore would.
	exec1(t, srv, schema...)
	exec1(t, srv, "SET GLOBAL gtid_strict_mode = OFF")
	defer exec1(t, srv, "SET GLOBAL gtid_strict_mode = ON")
	applyBinlog(t, srv, out)
	if got := checksums(t, srv, db, "t", "u"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checksums after applying the split binlog = %v, want %v", got, want)
	}
}
