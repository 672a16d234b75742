package tools

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog/changes"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// bigRows is the size of the large table whose UPDATE and DELETE without
// WHERE the flashback tests undo.
const bigRows = 20000

var fbTables = []string{"big", "small", "nopk"}

// setupFlashbackDB creates db with a large table of mixed types, a small
// one and one without primary key.
func setupFlashbackDB(t *testing.T, srv *testenv.MariaDB, db string) {
	exec1(t, srv,
		"DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		`CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) CHARACTER SET utf8mb4,
			d DECIMAL(12,2), ts TIMESTAMP(3) NULL, dt DATETIME(6), b BLOB, f DOUBLE, j JSON,
			e ENUM('a','b','c'), st SET('x','y'), y YEAR, tm TIME(2), bt BIT(5), n INT NULL)`,
		`CREATE TABLE small (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20) CHARACTER SET utf8mb4, u BIGINT UNSIGNED)`,
		`CREATE TABLE nopk (a INT, b VARCHAR(10) CHARACTER SET latin1, c DATE)`,
		fmt.Sprintf(`INSERT INTO big SELECT seq, seq %% 97, CONCAT('r', seq, ' é''\\'), seq / 7, FROM_UNIXTIME(1700000000 + seq + 0.125),
			'2024-02-29 12:34:56.789012', UNHEX(REPEAT(HEX(seq), 3)), seq / 3, CONCAT('{"k":', seq, '}'),
			ELT(1 + seq %% 3, 'a','b','c'), 'x,y', 2000 + seq %% 50, '-12:00:01.5', seq %% 32, NULL FROM seq_1_to_%d`, bigRows),
		"INSERT INTO small (name, u) VALUES ('ann', 18446744073709551615), ('bob', 0), (NULL, 7)",
		"INSERT INTO nopk VALUES (1, 'one', '2020-01-01'), (2, 'two', NULL), (2, 'two', NULL)",
	)
}

// flashbackWorkload changes all three tables, with an UPDATE and a DELETE
// without WHERE on the large table and a multi-table transaction.
func flashbackWorkload(t *testing.T, srv *testenv.MariaDB, db string) {
	exec1(t, srv, "USE "+db,
		"INSERT INTO small (name, u) VALUES ('carl', 1), ('dora\n', 2)",
		"UPDATE big SET v = v + 1, s = CONCAT(s, '!'), n = id",
		"BEGIN",
		"UPDATE small SET name = 'zed' WHERE id = 1",
		"DELETE FROM nopk WHERE a = 2 LIMIT 1",
		"INSERT INTO big (id, v) VALUES (-1, 5)",
		"INSERT INTO nopk VALUES (3, 'three', '1999-12-31')",
		"COMMIT",
		"DELETE FROM big",
		"UPDATE nopk SET b = 'uno' WHERE a = 1",
	)
}

func TestFlashbackSQLRoundTrip(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	const db = "fbsql"
	setupFlashbackDB(t, srv, db)
	want := checksums(t, srv, db, fbTables...)
	files := record(t, srv, func() { flashbackWorkload(t, srv, db) })
	if got := checksums(t, srv, db, fbTables...); got["big"] == want["big"] {
		t.Fatal("the workload did not change table big")
	}
	out := filepath.Join(t.TempDir(), "undo.sql")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := FlashbackSQL(ctx, files, SQLOptions{Filter: changes.Filter{Databases: []string{db}}, TempDir: t.TempDir()}, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if wantRows := int64(2 + bigRows + 4 + bigRows + 1 + 1); res.Rows != wantRows {
		t.Errorf("undo rows = %d, want %d", res.Rows, wantRows)
	}
	applySQL(t, srv, out)
	if got := checksums(t, srv, db, fbTables...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checksums after undo = %v, want %v", got, want)
	}
}

func TestSQLForwardRoundTrip(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	const db = "fwdsql"
	setupFlashbackDB(t, srv, db)
	files := record(t, srv, func() { flashbackWorkload(t, srv, db) })
	want := checksums(t, srv, db, fbTables...)
	// Back to the start state, then replay the changes as SQL.
	setupFlashbackDB(t, srv, db)
	out := filepath.Join(t.TempDir(), "redo.sql")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SQL(ctx, files, SQLOptions{Filter: changes.Filter{Databases: []string{db}}}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	applySQL(t, srv, out)
	if got := checksums(t, srv, db, fbTables...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checksums after replay = %v, want %v", got, want)
	}
}

// TestFlashbackSelection undoes a time window, then one table, with the
// SQL and with the binlog flashback.
func TestFlashbackSelection(t *testing.T) {
	for _, binary := range []bool{false, true} {
		name := "sql"
		if binary {
			name = "binlog"
		}
		t.Run(name, func(t *testing.T) { testFlashbackSelection(t, binary) })
	}
}

func testFlashbackSelection(t *testing.T, binary bool) {
	srv := server(t)
	ctx := testCtx(t)
	const db = "fbsel"
	exec1(t, srv, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db, "USE "+db,
		"CREATE TABLE t1 (id INT PRIMARY KEY, v INT)", "CREATE TABLE t2 (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE t3 (id INT PRIMARY KEY, v INT)",
		"INSERT INTO t1 SELECT seq, seq FROM seq_1_to_100", "INSERT INTO t2 SELECT seq, seq FROM seq_1_to_100",
		"INSERT INTO t3 SELECT seq, seq FROM seq_1_to_100")
	tabs := []string{"t1", "t2", "t3"}
	start := checksums(t, srv, db, tabs...)
	var t0, t1 time.Time
	pause := func() time.Time {
		// Event timestamps have one-second resolution: move to a fresh second.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
		return time.Now().Truncate(time.Second)
	}
	var afterWindow map[string]string
	files := record(t, srv, func() {
		exec1(t, srv, "USE "+db, "UPDATE t1 SET v = v * 2", "DELETE FROM t3 WHERE id > 50")
		t0 = pause()
		exec1(t, srv, "USE "+db, "UPDATE t2 SET v = -v", "DELETE FROM t2 WHERE id < 10", "INSERT INTO t1 VALUES (1000, 1)")
		t1 = pause()
		afterWindow = checksums(t, srv, db, tabs...)
		exec1(t, srv, "USE "+db, "UPDATE t3 SET v = 0")
	})
	end := checksums(t, srv, db, tabs...)
	run := func(flt changes.Filter) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "undo")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		if binary {
			_, err = Flashback(ctx, files, FlashbackOptions{Filter: flt}, f)
		} else {
			_, err = FlashbackSQL(ctx, files, SQLOptions{Filter: flt}, f)
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if binary {
			applyBinlog(t, srv, out)
		} else {
			applySQL(t, srv, out)
		}
	}
	// The time window holds the changes of t2 and one insert into t1:
	// undoing it brings t2 back to its start; t1 loses row 1000.
	run(changes.Filter{Databases: []string{db}, StartTime: t0, StopTime: t1})
	got := checksums(t, srv, db, tabs...)
	if got["t2"] != start["t2"] || got["t3"] != end["t3"] || got["t1"] == afterWindow["t1"] {
		t.Errorf("after undoing the window: %v; start %v, end %v", got, start, end)
	}
	// Back to the end state.
	exec1(t, srv, "USE "+db, "INSERT INTO t1 VALUES (1000, 1)", "UPDATE t2 SET v = -v", "DELETE FROM t2 WHERE id < 10")
	if got := checksums(t, srv, db, tabs...); fmt.Sprint(got) != fmt.Sprint(end) {
		t.Fatalf("could not restore the end state: %v, want %v", got, end)
	}
	// One table only: t3 back to its start, the others as they are.
	run(changes.Filter{Tables: []string{db + ".t3"}})
	got = checksums(t, srv, db, tabs...)
	if got["t3"] != start["t3"] || got["t1"] != end["t1"] || got["t2"] != end["t2"] {
		t.Errorf("after undoing t3: %v; start %v, end %v", got, start, end)
	}
}

func TestFlashbackBinaryRoundTrip(t *testing.T) {
	srv := server(t)
	ctx := testCtx(t)
	const db = "fbbin"
	setupFlashbackDB(t, srv, db)
	want := checksums(t, srv, db, fbTables...)
	files := record(t, srv, func() { flashbackWorkload(t, srv, db) })
	out := filepath.Join(t.TempDir(), "undo.bin")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Flashback(ctx, files, FlashbackOptions{Filter: changes.Filter{Databases: []string{db}}, TempDir: t.TempDir()}, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if wantRows := int64(2 + bigRows + 4 + bigRows + 1 + 1); res.Rows != wantRows || res.Transactions != 5 {
		t.Errorf("undo: %+v, want %d rows in 5 transactions", res, wantRows)
	}
	applyBinlog(t, srv, out)
	if got := checksums(t, srv, db, fbTables...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("checksums after undo = %v, want %v", got, want)
	}
}
