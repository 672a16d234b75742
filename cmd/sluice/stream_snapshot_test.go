package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/sluice-cdc/sluice/internal/testenv"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// snapCols are the columns of the snapshot kill test's table (besides id),
// with the SELECT expression that renders a value as change.AppendText
// renders the streamed one.
var snapCols = []struct{ name, def, sel string }{
	{"ti", "TINYINT UNSIGNED", "CAST(ti AS CHAR)"},
	{"n", "BIGINT", "CAST(n AS CHAR)"},
	{"d", "DECIMAL(14,3)", "CAST(d AS CHAR)"},
	{"s", "VARCHAR(60) CHARACTER SET utf8mb4", "s"},
	{"l1", "VARCHAR(20) CHARACTER SET latin1", "l1"},
	{"tx", "TEXT", "tx"},
	{"bin", "VARBINARY(16)", "bin"},
	{"dt", "DATE", "CAST(dt AS CHAR)"},
	{"dtm", "DATETIME(6)", "CAST(dtm AS CHAR)"},
	{"tm", "TIME(3)", "CAST(tm AS CHAR)"},
	{"yr", "YEAR", "CAST(yr AS CHAR)"},
	{"en", "ENUM('new','paid','shipped')", "en"},
	{"st", "SET('a','b','c')", "st"},
	{"bt", "BIT(12)", "CAST(bt+0 AS CHAR)"},
	{"js", "JSON", "js"},
	{"u", "UUID", "CAST(u AS CHAR)"},
}

// snapRow is a row of values for id k, version v (SQL literals).
func snapRow(k, v int) string {
	vals := []string{
		fmt.Sprint(k), fmt.Sprint((k + v) % 256), fmt.Sprint(int64(k)*1000003 - int64(v)), fmt.Sprintf("%d.%03d", k-v, v%1000),
		fmt.Sprintf("'row %d version %d ü'", k, v), fmt.Sprintf("'Grüße %d'", v%97), fmt.Sprintf("REPEAT('t', %d)", v%50),
		fmt.Sprintf("x'%04X%04X'", k%65536, v%65536), fmt.Sprintf("'20%02d-%02d-%02d'", k%30, 1+k%12, 1+v%28),
		fmt.Sprintf("'2024-01-02 03:04:%02d.%06d'", k%60, v%1000000), fmt.Sprintf("'-%d:%02d:%02d.%03d'", k%800, v%60, k%60, v%1000),
		fmt.Sprint(1901 + (k+v)%254), fmt.Sprintf("'%s'", []string{"new", "paid", "shipped"}[(k+v)%3]),
		fmt.Sprintf("'%s'", []string{"", "a", "a,b", "b,c", "a,b,c"}[(k+v)%5]), fmt.Sprint((k * v) % 4096),
		fmt.Sprintf(`'{"k": %d, "v": [%d, "x"]}'`, k, v), fmt.Sprintf("'%08x-0000-1000-8000-%012x'", k, v),
	}
	if (k+v)%11 == 0 {
		vals[5], vals[13] = "NULL", "NULL"
	}
	return "(" + strings.Join(vals, ", ") + ")"
}

// snapKill is one database of the snapshot kill test.
type snapKill struct {
	pace    time.Duration // between the writer's changes (default 500µs)
	name    string
	srcURL  string
	include string
	load    func(ctx context.Context, rows int) error            // creates and fills the table t and the table fin
	write   func(ctx context.Context, v, k int) error            // one change of the writer
	marker  func(ctx context.Context) error                      // inserts the caught-up marker into fin
	want    func(ctx context.Context) (map[string]string, error) // the table as the rebuilt rows render it
	noLock  func(ctx context.Context) error                      // checks the server holds no global lock
}

// TestStreamSnapshotSIGKILL is the snapshot's no-loss test, on MariaDB and
// PostgreSQL: a table of many column types (200,000 rows, 20,000 with
// -short, SLUICE_SNAPSHOT_TEST_ROWS to choose) is snapshotted by "sluice stream" (the real binary, default
// --snapshot) while a writer inserts, updates and deletes its rows; the
// process is killed with SIGKILL 10 times during the snapshot and 10
// times during the stream that follows. The output, each change once by
// position and applied idempotently (after a resumed snapshot the stream
// replays what the resumed run already read, see package snapshot), must
// rebuild the table exactly as SELECT shows it at the end, the log must
// show the snapshot resumed in the middle of the table, and no global lock
// may be seen on the server during the snapshot.
func TestStreamSnapshotSIGKILL(t *testing.T) {
	// 200,000 rows in CI (about 2 minutes per database here);
	// SLUICE_SNAPSHOT_TEST_ROWS=500000 for the size.
	rows := 200_000
	if n, err := strconv.Atoi(os.Getenv("SLUICE_SNAPSHOT_TEST_ROWS")); err == nil && n > 0 {
		rows = n
	} else if testing.Short() {
		rows = 20_000
	}
	bin, verify := buildKillBinaries(t)
	t.Run("mariadb", func(t *testing.T) { runSnapshotKill(t, bin, verify, rows, mariaSnapKill(t)) })
	t.Run("postgres", func(t *testing.T) { runSnapshotKill(t, bin, verify, rows, pgSnapKill(t)) })
	// FerretDB on SQLite writes and serves its oplog slowly: a smaller
	// collection and a slower writer.
	t.Run("ferretdb", func(t *testing.T) { runSnapshotKill(t, bin, verify, max(rows/20, 5000), ferretSnapKill(t)) })
}

func runSnapshotKill(t *testing.T, bin, verify string, rows int, db snapKill) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	loaded := time.Now()
	if err := db.load(ctx, rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d rows in %v", rows, time.Since(loaded).Round(time.Millisecond))
	dir := t.TempDir()
	out, state := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "state.db")
	args := []string{"stream", db.srcURL, "--to", "file://" + out, "--state", state, "--include", db.include,
		"--checkpoint-interval", "50ms", "--snapshot-workers", "2"}
	var logs testenv.Logs
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd
	}
	kill := func(cmd *exec.Cmd, what string) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("%s: sluice stream ended by itself before the kill (%v):\n%s", what, cmd.ProcessState, tail(logs.String(), 4000))
		}
	}

	// The writer: inserts, updates and deletes of the table's keys (and
	// new ones) until told to stop.
	var writes atomic.Int64
	wctx, stopWriter := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for v := 1; wctx.Err() == nil; v++ {
			if err := db.write(wctx, v, rng.IntN(rows+rows/10)); err != nil && wctx.Err() == nil {
				werr <- err
				return
			}
			writes.Add(1)
			time.Sleep(cmp.Or(db.pace, 500*time.Microsecond))
		}
		werr <- nil
	}()

	// Ten kills while the snapshot runs: when the output holds another
	// eleventh of the rows.
	lines := &lineCounter{path: out}
	for i := 0; i < 10; i++ {
		cmd := start()
		want := int64(rows) * int64(i+1) / 11
		for lines.count() < want {
			if ctx.Err() != nil {
				t.Fatalf("kill %d: the output never reached %d lines:\n%s", i+1, want, tail(logs.String(), 4000))
			}
			time.Sleep(2 * time.Millisecond)
		}
		if i == 3 {
			if err := db.noLock(ctx); err != nil {
				t.Error(err)
			}
		}
		// Long enough for a checkpoint inside the snapshot: a kill before
		// any makes the next run start the snapshot again. On a loaded
		// machine the first checkpoints can come later: once two runs
		// started without resuming in the middle of the table, wait longer.
		pause := 150 * time.Millisecond
		if i >= 2 && !strings.Contains(logs.String(), "snapshot resumes in the middle of a table") {
			pause = time.Duration(i) * 300 * time.Millisecond
		}
		time.Sleep(pause)
		kill(cmd, fmt.Sprintf("snapshot kill %d", i+1))
	}
	if !strings.Contains(logs.String(), "snapshot resumes in the middle of a table") {
		t.Errorf("the log does not say the snapshot resumed in the middle of the table; its snapshot lines:\n%s", tail(grepLines(logs.String(), "snapshot", "killed", "level=ERROR"), 6000))
	}
	// Ten kills while the stream runs after it, the first within two
	// checkpoint intervals of the snapshot's end: the stream's first
	// changes may be out, and the next run must not read any of the
	// snapshot again (pipeline: snapshotEnds).
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := 0; i < 10; i++ {
		done := strings.Count(logs.String(), "snapshot done")
		cmd := start()
		pause := time.Duration(300+rng.IntN(500)) * time.Millisecond
		if i == 0 {
			// Let this one finish the snapshot, unless the last kill came
			// after its end (then the run streams at once).
			for end := time.Now().Add(20 * time.Second); strings.Count(logs.String(), "snapshot done") == done; {
				if time.Now().After(end) {
					if done == 0 {
						t.Fatalf("the snapshot never ended:\n%s", tail(logs.String(), 4000))
					}
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			if strings.Count(logs.String(), "snapshot done") > done {
				pause = time.Duration(rng.IntN(100)) * time.Millisecond
			}
		}
		time.Sleep(pause)
		kill(cmd, fmt.Sprintf("stream kill %d", i+1))
	}
	stopWriter()
	if err := <-werr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err := db.marker(ctx); err != nil {
		t.Fatal(err)
	}
	cmd := start()
	if err := waitForMarker(ctx, out, 0, []byte("caught-up-marker")); err != nil {
		t.Fatalf("%v\n%s", err, tail(logs.String(), 4000))
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice stream after SIGINT: %v", err)
	}
	tables, unique, dups, ops := rebuildFromOutput(t, verify, out, "-upsert")
	want, err := db.want(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compareRebuilt(t, "t", tables["t"], want)
	t.Logf("%s: %d rows snapshotted under %d writes; output: %d distinct changes (%v), %d delivered again after the kills",
		db.name, rows, writes.Load(), unique, ops, dups)
	if ops["read"] < rows*9/10 {
		t.Errorf("only %d rows read by the snapshot", ops["read"])
	}
}

// mariaSnapKill is the MariaDB side of the test: a table of 17 column
// types, written with REPLACE, UPDATE and DELETE.
func mariaSnapKill(t *testing.T) snapKill {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	pool, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	return snapKill{
		name:    "mariadb",
		srcURL:  fmt.Sprintf("mariadb://%s:%s@%s/?server-id=5301", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, srv.Addr()),
		include: `snap\..*`,
		load: func(ctx context.Context, rows int) error {
			defs := []string{"id INT PRIMARY KEY"}
			for _, c := range snapCols {
				defs = append(defs, c.name+" "+c.def+" NULL")
			}
			if err := srv.Exec(ctx, "CREATE DATABASE snap", "CREATE TABLE snap.t ("+strings.Join(defs, ", ")+")",
				"CREATE TABLE snap.fin (id INT PRIMARY KEY, s VARCHAR(20))"); err != nil {
				return err
			}
			for k := 0; k < rows; k += 1000 {
				var vals []string
				for j := k; j < k+1000 && j < rows; j++ {
					vals = append(vals, snapRow(j, 0))
				}
				if _, err := pool.ExecContext(ctx, "INSERT INTO snap.t VALUES "+strings.Join(vals, ",")); err != nil {
					return err
				}
			}
			return nil
		},
		write: func(ctx context.Context, v, k int) error {
			var q string
			switch v % 4 {
			case 0:
				q = "DELETE FROM snap.t WHERE id = " + fmt.Sprint(k)
			case 1:
				q = "REPLACE INTO snap.t VALUES " + snapRow(k, v)
			default:
				q = fmt.Sprintf("UPDATE snap.t SET n = n + 1, s = 'upd %d', js = JSON_SET(js, '$.v', %d), tm = '%d:00:00' WHERE id = %d", v, v, v%838, k)
			}
			_, err := pool.ExecContext(ctx, q)
			return err
		},
		marker: func(ctx context.Context) error {
			_, err := pool.ExecContext(ctx, "INSERT INTO snap.fin VALUES (1, 'caught-up-marker')")
			return err
		},
		want: func(ctx context.Context) (map[string]string, error) {
			sels := []string{"CAST(id AS CHAR)"}
			for _, c := range snapCols {
				sels = append(sels, "COALESCE("+c.sel+", 'NULL')")
			}
			return queryRows(ctx, pool, "SELECT "+strings.Join(sels, ", ")+" FROM snap.t")
		},
		noLock: func(ctx context.Context) error { return processListClean(ctx, pool) },
	}
}

// pgSnapKill is the PostgreSQL side: a table of 12 column types, written
// with INSERT … ON CONFLICT, UPDATE and DELETE.
func pgSnapKill(t *testing.T) snapKill {
	srv := testenv.NewPostgres(t, testenv.PostgresOptions{})
	pool, err := sql.Open("pgx", srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	row := func(k, v int) string {
		return fmt.Sprintf("(%d, %d, %d, '%d.%03d', 'row %d version %d ü', 'v%d', '20%02d-%02d-%02d', '2024-01-02 03:04:%02d.%06d', %t, '{\"k\": %d, \"v\": [%d, \"x\"]}', '%08x-0000-1000-8000-%012x', '%s')",
			k, (k+v)%32000, int64(k)*1000003-int64(v), k-v, v%1000, k, v, v%97, k%30, 1+k%12, 1+v%28, k%60, v%1000000, (k+v)%2 == 0,
			k, v, k, v, []string{"new", "paid", "shipped"}[(k+v)%3])
	}
	return snapKill{
		name:    "postgres",
		srcURL:  srv.DSN("postgres") + "&slot=snapkill&publication=snapkill&create-publication=public.t,public.fin",
		include: `public\.(t|fin)`,
		load: func(ctx context.Context, rows int) error {
			if err := srv.Exec(ctx, "postgres", `CREATE TYPE status AS ENUM ('new', 'paid', 'shipped')`,
				`CREATE TABLE t (id int PRIMARY KEY, si smallint, n bigint, d numeric(14,3), s text, vc varchar(20), dt date,
					ts timestamp(6), b boolean, j jsonb, u uuid, st status)`,
				`CREATE TABLE fin (id int PRIMARY KEY, s text)`); err != nil {
				return err
			}
			for k := 0; k < rows; k += 1000 {
				var vals []string
				for j := k; j < k+1000 && j < rows; j++ {
					vals = append(vals, row(j, 0))
				}
				if _, err := pool.ExecContext(ctx, "INSERT INTO t VALUES "+strings.Join(vals, ",")); err != nil {
					return err
				}
			}
			return nil
		},
		write: func(ctx context.Context, v, k int) error {
			var q string
			switch v % 4 {
			case 0:
				q = "DELETE FROM t WHERE id = " + fmt.Sprint(k)
			case 1:
				q = "INSERT INTO t VALUES " + row(k, v) + " ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n, s = EXCLUDED.s, j = EXCLUDED.j"
			default:
				q = fmt.Sprintf("UPDATE t SET n = n + 1, s = 'upd %d', j = jsonb_set(j, '{v}', '%d'), b = NOT b WHERE id = %d", v, v, k)
			}
			_, err := pool.ExecContext(ctx, q)
			return err
		},
		marker: func(ctx context.Context) error {
			_, err := pool.ExecContext(ctx, "INSERT INTO fin VALUES (1, 'caught-up-marker')")
			return err
		},
		want: func(ctx context.Context) (map[string]string, error) {
			return queryRows(ctx, pool, `SELECT id::text, si::text, n::text, d::text, s, vc, dt::text,
				to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'), b::text, j::text, u::text, st::text FROM t`)
		},
		noLock: func(ctx context.Context) error {
			// The snapshot's sessions hold no lock stronger than a read's.
			var n int
			err := pool.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE a.application_name = 'sluice' AND l.locktype = 'relation' AND l.mode <> 'AccessShareLock'`).Scan(&n)
			if err == nil && n > 0 {
				err = fmt.Errorf("%d relation locks stronger than AccessShareLock held by sluice during the snapshot", n)
			}
			return err
		},
	}
}

// ferretSnapKill is the FerretDB side (oplog mode): a collection of
// documents with int, long, string and bool fields, written with
// deleteOne and insertOne, whose oplog entries carry whole documents.
func ferretSnapKill(t *testing.T) snapKill {
	srv := testenv.NewFerretDB(t)
	client, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	coll := client.Database("snap").Collection("t")
	doc := func(k, v int) bson.D {
		return bson.D{{Key: "_id", Value: int32(k)}, {Key: "n", Value: int64(k)*1000003 - int64(v)},
			{Key: "s", Value: fmt.Sprintf("row %d version %d ü", k, v)}, {Key: "b", Value: (k+v)%2 == 0}}
	}
	return snapKill{
		name:    "ferretdb",
		pace:    5 * time.Millisecond,
		srcURL:  srv.URI() + "&mode=auto",
		include: `snap\..*`,
		load: func(ctx context.Context, rows int) error {
			for k := 0; k < rows; k += 1000 {
				var docs []any
				for j := k; j < k+1000 && j < rows; j++ {
					docs = append(docs, doc(j, 0))
				}
				if _, err := coll.InsertMany(ctx, docs); err != nil {
					return err
				}
			}
			return nil
		},
		write: func(ctx context.Context, v, k int) error {
			if v%3 == 0 {
				_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: int32(k)}})
				return err
			}
			// A new version as a delete and an insert: FerretDB logs a
			// replacement as a description of the fields it sets, not the
			// document, and this test rebuilds documents.
			if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: int32(k)}}); err != nil {
				return err
			}
			_, err := coll.InsertOne(ctx, doc(k, v))
			return err
		},
		marker: func(ctx context.Context) error {
			_, err := client.Database("snap").Collection("fin").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}, {Key: "s", Value: "caught-up-marker"}})
			return err
		},
		want: func(ctx context.Context) (map[string]string, error) {
			cur, err := coll.Find(ctx, bson.D{})
			if err != nil {
				return nil, err
			}
			defer cur.Close(ctx)
			out := map[string]string{}
			for cur.Next(ctx) {
				var d struct {
					ID int32  `bson:"_id"`
					N  int64  `bson:"n"`
					S  string `bson:"s"`
					B  bool   `bson:"b"`
				}
				if err := cur.Decode(&d); err != nil {
					return nil, err
				}
				out[fmt.Sprint(d.ID)] = fmt.Sprintf("%d|%d|%s|%t", d.ID, d.N, d.S, d.B)
			}
			return out, cur.Err()
		},
		noLock: func(context.Context) error { return nil }, // MongoDB's snapshot takes no lock to check
	}
}

// queryRows returns a query's rows as "col|col|…" keyed by the first
// column, NULL as "NULL".
func queryRows(ctx context.Context, pool *sql.DB, q string) (map[string]string, error) {
	rs, err := pool.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	out := map[string]string{}
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out[parts[0]] = strings.Join(parts, "|")
	}
	return out, rs.Err()
}

// processListClean checks that nothing in the server's process list holds
// or waits for a global lock.
func processListClean(ctx context.Context, pool *sql.DB) error {
	rs, err := pool.QueryContext(ctx, "SELECT COALESCE(INFO, ''), COALESCE(STATE, '') FROM information_schema.PROCESSLIST")
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var info, state string
		if err := rs.Scan(&info, &state); err != nil {
			return err
		}
		u := strings.ToUpper(info + " " + state)
		for _, bad := range []string{"FLUSH TABLES", "READ LOCK", "BACKUP STAGE", "LOCK INSTANCE", "LOCK TABLES", "WAITING FOR"} {
			if strings.Contains(u, bad) {
				return fmt.Errorf("a lock in the process list during the snapshot: %q (%s)", info, state)
			}
		}
	}
	return rs.Err()
}

// lineCounter counts the lines of a growing file, reading only what was
// appended since the last count, and no further than the size the file had
// when the count began: reading to the end of a file that grows faster than
// the reader (a snapshot, read by a race-enabled test) returned only once
// the writer paused, after the whole snapshot, so no kill fell inside it.
type lineCounter struct {
	path string
	off  int64
	n    int64
	buf  []byte
}

func (l *lineCounter) count() int64 {
	f, err := os.Open(l.path)
	if err != nil {
		return l.n
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return l.n
	}
	if st.Size() < l.off {
		// sluice truncated a torn last line on open.
		l.off = st.Size()
	}
	if l.buf == nil {
		l.buf = make([]byte, 1<<20)
	}
	r := io.NewSectionReader(f, l.off, st.Size()-l.off)
	for {
		k, err := r.Read(l.buf)
		l.off += int64(k)
		l.n += int64(bytes.Count(l.buf[:k], []byte{'\n'}))
		if err != nil {
			return l.n
		}
	}
}

// TestSnapshotCommandUsage: sluice snapshot's usage errors exit 2 and say
// what is wrong.
func TestSnapshotCommandUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshot", "mariadb://u@127.0.0.1:1/"}, "--table"},
		{[]string{"snapshot", "mariadb://u@127.0.0.1:1/", "--table", "orders"}, "DB.TABLE"},
		{[]string{"snapshot", "mongodb://127.0.0.1:1/", "--table", "a.b"}, "cannot snapshot incrementally"},
		{[]string{"snapshot", "mariadb://u@127.0.0.1:1/?nope=1", "--table", "a.b"}, "nope"},
		{[]string{"snapshot", "--table", "a.b"}, "one SOURCE-URL"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), &env{Stdout: &stdout, Stderr: &stderr}, tt.args)
		if code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, %q; want exit %d saying %q", tt.args, code, stderr.String(), exitUsage, tt.want)
		}
	}
}
