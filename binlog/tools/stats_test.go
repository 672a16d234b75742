package tools

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// knownWorkload runs four transactions whose contents the stats and bigtx
// tests know (knownTxs), the last two at least a second after the first
// two (from the time it returns), in a binlog of their own.
func knownWorkload(t *testing.T, db string) ([]string, time.Time) {
	t.Helper()
	srv := server(t)
	exec1(t, srv, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		"DROP DATABASE IF EXISTS "+db+"2", "CREATE DATABASE "+db+"2",
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)", "CREATE TABLE b (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE c (id INT PRIMARY KEY, s VARCHAR(100))", "CREATE TABLE "+db+"2.a (id INT PRIMARY KEY, v INT)",
		"INSERT INTO b SELECT seq, seq FROM seq_1_to_10")
	var second time.Time
	files := record(t, srv, func() {
		exec1(t, srv, "USE "+db,
			"INSERT INTO a VALUES (1, 1), (2, 2), (3, 3)",
			"BEGIN", "UPDATE b SET v = 0 WHERE id <= 5", "DELETE FROM a WHERE id <= 2", "INSERT INTO "+db+"2.a VALUES (1, 1)", "COMMIT")
		second = pause()
		exec1(t, srv, "USE "+db,
			// Over 100 KB: several rows events.
			"INSERT INTO c SELECT seq, REPEAT('x', 100) FROM seq_1_to_1000",
			"BEGIN", "UPDATE c SET s = 'y' WHERE id <= 300", "DELETE FROM c WHERE id > 900", "UPDATE b SET v = 1 WHERE id > 5", "COMMIT")
	})
	return files, second
}

// knownTx is what a transaction of knownWorkload changed, per table:
// inserts, updates, deletes.
type knownTx map[string][3]int64

// knownTxs returns the transactions of knownWorkload(t, db) in order.
func knownTxs(db string) []knownTx {
	return []knownTx{
		{db + ".a": {3, 0, 0}},
		{db + ".b": {0, 5, 0}, db + ".a": {0, 0, 2}, db + "2.a": {1, 0, 0}},
		{db + ".c": {1000, 0, 0}},
		{db + ".c": {0, 300, 100}, db + ".b": {0, 5, 0}},
	}
}

// serverTx is a transaction as the server's SHOW BINLOG EVENTS shows it.
type serverTx struct {
	gtid       string
	start, end int64
	bytes      map[string]int64 // bytes of rows events per db.table
	rowsEvents int
}

// serverTxs reads the transactions of the binlog file from the server's
// SHOW BINLOG EVENTS: an independent account of offsets, GTIDs and rows
// event sizes.
func serverTxs(t *testing.T, srv *testenv.MariaDB, file string) []serverTx {
	t.Helper()
	sdb, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := sdb.QueryContext(testCtx(t), "SHOW BINLOG EVENTS IN '"+filepath.Base(file)+"'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var txs []serverTx
	tables := map[string]string{} // table_id → db.table
	var cur *serverTx
	for rows.Next() {
		var logName, typ, info string
		var pos, serverID, end int64
		if err := rows.Scan(&logName, &pos, &typ, &serverID, &end, &info); err != nil {
			t.Fatal(err)
		}
		id := func() string { // table_id: N ...
			f := strings.Fields(info)
			if len(f) < 2 || f[0] != "table_id:" {
				t.Fatalf("%s at %d: unexpected info %q", typ, pos, info)
			}
			return f[1]
		}
		switch {
		case typ == "Gtid":
			_, g, _ := strings.Cut(info, "GTID ")
			txs = append(txs, serverTx{gtid: strings.Fields(g)[0], start: pos, bytes: map[string]int64{}})
			cur = &txs[len(txs)-1]
		case typ == "Table_map":
			name := strings.Trim(strings.Fields(info)[2], "()")
			tables[id()] = strings.ReplaceAll(name, "`", "")
		case strings.HasSuffix(typ, "_rows_v1"):
			cur.bytes[tables[id()]] += end - pos
			cur.rowsEvents++
		case typ == "Xid", typ == "Query" && info == "COMMIT":
			cur.end = end
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return txs
}

func TestStatsAndBigTx(t *testing.T) {
	ctx := testCtx(t)
	const db = "statsdb"
	files, second := knownWorkload(t, db)
	if len(files) != 1 {
		t.Fatalf("the workload is in %d files", len(files))
	}
	known := knownTxs(db)
	srvTxs := serverTxs(t, server(t), files[0])
	if len(srvTxs) != len(known) {
		t.Fatalf("the server shows %d transactions, want %d", len(srvTxs), len(known))
	}

	// bigtx lists every transaction exactly: GTID, offsets, rows and
	// bytes per table.
	big, err := BigTx(ctx, files, BigTxOptions{Top: 10})
	if err != nil {
		t.Fatal(err)
	}
	if big.Transactions != int64(len(known)) || len(big.ByRows) != len(known) || len(big.ByBytes) != len(known) {
		t.Fatalf("bigtx: %d transactions, lists of %d and %d; want %d", big.Transactions, len(big.ByRows), len(big.ByBytes), len(known))
	}
	byGTID := map[string]*Transaction{}
	for _, tx := range big.ByRows {
		byGTID[tx.GTID] = tx
	}
	for i, k := range known {
		s := srvTxs[i]
		tx := byGTID[s.gtid]
		if tx == nil {
			t.Errorf("transaction %d (GTID %s) not listed by bigtx", i, s.gtid)
			continue
		}
		if tx.Start != s.start || tx.End != s.end || tx.File != filepath.Base(files[0]) {
			t.Errorf("transaction %s at %s %d-%d, the server says %d-%d", s.gtid, tx.File, tx.Start, tx.End, s.start, s.end)
		}
		var rows int64
		got := knownTx{}
		for _, tr := range tx.Tables {
			got[tr.Table] = [3]int64{tr.Inserts, tr.Updates, tr.Deletes}
			rows += tr.Rows()
			if tr.Bytes != s.bytes[tr.Table] {
				t.Errorf("transaction %s, table %s: %d bytes of rows events, the server says %d", s.gtid, tr.Table, tr.Bytes, s.bytes[tr.Table])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(k) || tx.Rows != rows {
			t.Errorf("transaction %s: %d rows, tables %v; want %v", s.gtid, tx.Rows, got, k)
		}
		if first := time.Unix(int64(tx.FirstTime), 0); (i >= 2) != !first.Before(second) || tx.CommitTime < tx.FirstTime {
			t.Errorf("transaction %d: first event at %v, commit at %d; the second pair started at %v", i, first, tx.CommitTime, second)
		}
	}
	if srvTxs[2].rowsEvents < 2 {
		t.Errorf("the 1000-row insert is in %d rows event, want several", srvTxs[2].rowsEvents)
	}
	// The lists are ordered largest first.
	for i := 1; i < len(known); i++ {
		if big.ByRows[i-1].Rows < big.ByRows[i].Rows || big.ByBytes[i-1].Bytes() < big.ByBytes[i].Bytes() {
			t.Errorf("bigtx lists out of order at %d", i)
		}
	}
	if big.ByRows[0].GTID != srvTxs[2].gtid || big.ByRows[1].GTID != srvTxs[3].gtid {
		t.Errorf("largest by rows: %s, %s; want the insert into c, then its update", big.ByRows[0].GTID, big.ByRows[1].GTID)
	}
	// --min-rows and --min-bytes keep the transactions at or over them.
	for _, tc := range []struct {
		opt  BigTxOptions
		want int
	}{
		{BigTxOptions{MinRows: 5}, 3},
		{BigTxOptions{MinRows: 9}, 2},
		{BigTxOptions{MinRows: 1001}, 0},
		{BigTxOptions{MinBytes: big.ByBytes[1].Bytes()}, 2},
		{BigTxOptions{MinBytes: big.ByBytes[0].Bytes() + 1}, 0},
		{BigTxOptions{Top: 1}, 1},
	} {
		r, err := BigTx(ctx, files, tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.ByRows) != tc.want || len(r.ByBytes) != tc.want || r.Transactions != int64(len(known)) {
			t.Errorf("bigtx %+v: lists of %d and %d of %d transactions, want %d", tc.opt, len(r.ByRows), len(r.ByBytes), r.Transactions, tc.want)
		}
	}

	// stats: the same counts per table, the most changed first.
	rep, err := Stats(ctx, files, StatsOptions{Bucket: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		table             string
		ins, upd, del, tx int64
	}{
		{db + ".c", 1000, 300, 100, 2},
		{db + ".b", 0, 10, 0, 2},
		{db + ".a", 3, 0, 2, 2},
		{db + "2.a", 1, 0, 0, 1},
	}
	if len(rep.Tables) != len(want) {
		t.Fatalf("stats has %d tables, want %d", len(rep.Tables), len(want))
	}
	for i, w := range want {
		g := rep.Tables[i]
		var bytes int64
		for _, s := range srvTxs {
			bytes += s.bytes[w.table]
		}
		if g.Table != w.table || g.Inserts != w.ins || g.Updates != w.upd || g.Deletes != w.del || g.Transactions != w.tx || g.Bytes != bytes {
			t.Errorf("table %d = %+v, want %+v and %d bytes", i, *g, w, bytes)
		}
	}
	st, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if rep.Transactions != int64(len(known)) || rep.Bytes != st.Size() {
		t.Errorf("stats: %d transactions, %d bytes read; want %d, %d", rep.Transactions, rep.Bytes, len(known), st.Size())
	}
	// Buckets of one second: those before the second pair hold exactly
	// the first pair's rows and transactions.
	var early, late [4]int64
	for _, b := range rep.Buckets {
		sum := &late
		if b.Start.Before(second) {
			sum = &early
		}
		sum[0] += b.Inserts
		sum[1] += b.Updates
		sum[2] += b.Deletes
		sum[3] += b.Transactions
	}
	if early != [4]int64{4, 5, 2, 2} || late != [4]int64{1000, 305, 100, 2} {
		t.Errorf("buckets: before %v sum to %v, after to %v; want [4 5 2 2] and [1000 305 100 2]", second, early, late)
	}
	// Without buckets: none.
	if rep, err := Stats(ctx, files, StatsOptions{}); err != nil {
		t.Error(err)
	} else if len(rep.Buckets) != 0 {
		t.Errorf("stats without buckets: %d buckets", len(rep.Buckets))
	}
}

func TestCorruptInput(t *testing.T) {
	files, _ := knownWorkload(t, "corruptdb")
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
