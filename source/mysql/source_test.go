package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// shared is the MariaDB server (ROW, FULL image, FULL metadata) most tests use.
var shared *testenv.MariaDB

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		s, err := testenv.StartMariaDB(ctx, testenv.MariaDBOptions{})
		if err != nil {
			return err
		}
		c.Add(func() { s.Close() })
		shared = s
		return nil
	})
}

// testConfig returns a Config for the replication user of srv at addr.
func testConfig(addr string) Config {
	return Config{Addr: addr, User: testenv.MariaDBReplUser, Password: testenv.MariaDBReplPassword,
		ServerID: 7001, Heartbeat: 500 * time.Millisecond, Retry: source.Retry{Min: 50 * time.Millisecond, Max: time.Second}}
}

// currentPosition reads the server's current binlog position and GTID state.
func currentPosition(t testing.TB, srv *testenv.MariaDB) change.Position {
	t.Helper()
	db, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	var file, doDB, ignDB string
	var off uint64
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &off, &doDB, &ignDB); err != nil {
		t.Fatal(err)
	}
	var gtid string
	if err := db.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	return change.Position{Flavor: change.FlavorBinlog, File: file, Offset: off, GTIDSet: gtid}
}

// collector runs a Source in the background and keeps deep copies of
// what it emits.
type collector struct {
	mu      sync.Mutex
	changes []change.Change
	done    chan struct{}
	err     error
	cancel  context.CancelFunc
}

func startCollector(t *testing.T, src *Source, from change.Position) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(c.done)
		c.err = src.Stream(ctx, from, func(b []change.Change) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, ch := range b {
				ch.Before = cloneValues(ch.Before)
				ch.After = cloneValues(ch.After)
				c.changes = append(c.changes, ch)
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *collector) stop() error {
	c.cancel()
	<-c.done
	return c.err
}

func (c *collector) snapshot() []change.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]change.Change(nil), c.changes...)
}

// waitFor waits until cond holds for the changes collected so far.
func (c *collector) waitFor(t *testing.T, d time.Duration, what string, cond func([]change.Change) bool) []change.Change {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := c.snapshot()
		if cond(got) {
			return got
		}
		select {
		case <-c.done:
			t.Fatalf("stream ended while waiting for %s: %v (have %d changes)", what, c.err, len(got))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %d changes:\n%s", what, len(got), dump(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// data keeps the row, DDL and truncate changes of one table.
func data(cs []change.Change, table string) []change.Change {
	var out []change.Change
	for _, c := range cs {
		switch c.Op {
		case change.OpBegin, change.OpCommit, change.OpHeartbeat:
			continue
		}
		if table == "" || c.Table == table {
			out = append(out, c)
		}
	}
	return out
}

func countData(table string, n int) func([]change.Change) bool {
	return func(cs []change.Change) bool { return len(data(cs, table)) >= n }
}

func dump(cs []change.Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%v %s.%s tx=%s/%d last=%t pos=%s", c.Op, c.Database, c.Table, c.Tx.ID, c.Tx.Index, c.Tx.Last, c.Pos.String())
		if c.After != nil {
			fmt.Fprintf(&b, " after=%s", rowText(c.Columns, c.After))
		} else if c.Before != nil {
			fmt.Fprintf(&b, " before=%s", rowText(c.Columns, c.Before))
		}
		if c.SQL != "" {
			fmt.Fprintf(&b, " sql=%q", c.SQL)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// rowText renders a row as name=value pairs.
func rowText(cols []change.Column, vals []change.Value) string {
	var parts []string
	for i, v := range vals {
		name := fmt.Sprintf("@%d", i+1)
		if i < len(cols) && cols[i].Name != "" {
			name = cols[i].Name
		}
		parts = append(parts, name+"="+string(change.AppendText(nil, v)))
	}
	return strings.Join(parts, " ")
}

// selectText returns the rows of a query as rowText-style strings, with
// NULL as "NULL", in the order the query gives.
func selectText(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for i, v := range vals {
			s := "NULL"
			if v.Valid {
				s = v.String
			}
			parts = append(parts, names[i]+"="+s)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func exec(t *testing.T, srv *testenv.MariaDB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
}

// checkTransactions verifies the framing every stream must have: each
// transaction is begin, changes, commit with consecutive Tx.Index, one
// Tx.ID, Last on its final data change, and positions strictly increase.
func checkTransactions(t *testing.T, cs []change.Change) {
	t.Helper()
	var prev change.Position
	open := false
	var id string
	var idx uint64
	var lastData int = -1
	for i, c := range cs {
		if i > 0 && change.Compare(c.Pos, prev) <= 0 {
			t.Fatalf("position %d (%s) does not follow %s:\n%s", i, c.Pos.String(), prev.String(), dump(cs))
		}
		prev = c.Pos
		switch c.Op {
		case change.OpHeartbeat:
			continue
		case change.OpBegin:
			if open {
				t.Fatalf("change %d: begin inside a transaction:\n%s", i, dump(cs))
			}
			open, id, idx, lastData = true, c.Tx.ID, 0, -1
		case change.OpCommit:
			if lastData >= 0 && !cs[lastData].Tx.Last {
				t.Fatalf("change %d: last data change of tx %s lacks Tx.Last:\n%s", lastData, id, dump(cs))
			}
			open = false
		default:
			if c.Tx.Last && i+1 < len(cs) && cs[i+1].Op != change.OpCommit {
				t.Fatalf("change %d has Tx.Last but is not last:\n%s", i, dump(cs))
			}
			lastData = i
		}
		if c.Tx.ID != id || c.Tx.Index != idx {
			t.Fatalf("change %d: tx %s/%d, want %s/%d:\n%s", i, c.Tx.ID, c.Tx.Index, id, idx, dump(cs))
		}
		idx++
	}
}

const mixedTable = `CREATE TABLE %s (
	id INT NOT NULL PRIMARY KEY,
	name VARCHAR(40) NOT NULL,
	price DECIMAL(12,2),
	at DATETIME(3),
	day DATE,
	note TEXT,
	big BIGINT UNSIGNED,
	f DOUBLE,
	bits BIT(5),
	raw VARBINARY(8),
	kind ENUM('a','b','c'),
	flags SET('x','y')
)`

const mixedInsert = `INSERT INTO %s VALUES
	(1, 'alpha', 12.50, '2024-01-02 03:04:05.123', '2024-02-29', 'hello', 18446744073709551615, 1.5, b'10101', x'00ff10', 'b', 'x,y'),
	(2, 'bêta ✓', -0.01, NULL, '1999-12-31', NULL, 0, -2.25, b'0', '', 'a', ''),
	(3, 'gamma', NULL, '2000-01-01 00:00:00.000', NULL, REPEAT('z', 300), 42, 0, NULL, NULL, NULL, 'y')`

func TestStreamRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		gtid bool
	}{{"filepos", false}, {"gtid", true}} {
		t.Run(tc.name, func(t *testing.T) {
			table := "mixed_" + tc.name
			exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop."+table,
				fmt.Sprintf(mixedTable, "shop."+table))
			from := currentPosition(t, shared)
			if !tc.gtid {
				from.GTIDSet = ""
			}
			cfg := testConfig(shared.Addr())
			cfg.GTID = tc.gtid
			src, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			col := startCollector(t, src, from)
			exec(t, shared, fmt.Sprintf(mixedInsert, "shop."+table))
			db, err := shared.DB()
			if err != nil {
				t.Fatal(err)
			}
			want := selectText(t, db, "SELECT id, name, price, CAST(at AS CHAR) AS at, CAST(day AS CHAR) AS day, note, big, f, bits+0 AS bits, raw, kind, flags FROM shop."+table+" ORDER BY id")
			exec(t, shared, "UPDATE shop."+table+" SET name = 'ALPHA', price = price * 2 WHERE id = 1",
				"DELETE FROM shop."+table+" WHERE id = 2")
			afterUpdate := selectText(t, db, "SELECT id, name, price, CAST(at AS CHAR) AS at, CAST(day AS CHAR) AS day, note, big, f, bits+0 AS bits, raw, kind, flags FROM shop."+table+" WHERE id = 1")
			got := col.waitFor(t, 20*time.Second, "5 row changes", countData(table, 5))
			checkTransactions(t, got)
			rows := data(got, table)
			ops := []change.Op{change.OpInsert, change.OpInsert, change.OpInsert, change.OpUpdate, change.OpDelete}
			for i, op := range ops {
				if rows[i].Op != op {
					t.Fatalf("change %d is %v, want %v:\n%s", i, rows[i].Op, op, dump(rows))
				}
				if rows[i].Source != "mariadb" || rows[i].Database != "shop" {
					t.Fatalf("change %d: source %q database %q", i, rows[i].Source, rows[i].Database)
				}
			}
			if !rows[0].Columns[0].Key || rows[0].Columns[1].Key {
				t.Errorf("key columns: %+v", rows[0].Columns)
			}
			for i := 0; i < 3; i++ {
				if g := rowText(rows[i].Columns, rows[i].After); g != want[i] {
					t.Errorf("insert %d:\n got %s\nwant %s", i, g, want[i])
				}
			}
			if g := rowText(rows[3].Columns, rows[3].Before); g != want[0] {
				t.Errorf("update before:\n got %s\nwant %s", g, want[0])
			}
			if g := rowText(rows[3].Columns, rows[3].After); g != afterUpdate[0] {
				t.Errorf("update after:\n got %s\nwant %s", g, afterUpdate[0])
			}
			if g := rowText(rows[4].Columns, rows[4].Before); g != want[1] {
				t.Errorf("delete before:\n got %s\nwant %s", g, want[1])
			}
			// MariaDB transactions carry GTIDs.
			if !strings.Contains(rows[0].Tx.ID, "-") || rows[0].Pos.GTIDSet == "" && tc.gtid {
				t.Errorf("tx id %q, gtid set %q", rows[0].Tx.ID, rows[0].Pos.GTIDSet)
			}
			if err := col.stop(); !errors.Is(err, context.Canceled) {
				t.Fatalf("Stream returned %v after cancel", err)
			}
		})
	}
}

// TestResumeInsideTransaction restarts from every position of a stream and
// checks that exactly the changes after it follow.
func TestResumeInsideTransaction(t *testing.T) {
	for _, gtid := range []bool{false, true} {
		t.Run(fmt.Sprintf("gtid=%t", gtid), func(t *testing.T) {
			table := fmt.Sprintf("resume_%t", gtid)
			exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop."+table,
				"CREATE TABLE shop."+table+" (id INT PRIMARY KEY, v VARCHAR(10))")
			from := currentPosition(t, shared)
			exec(t, shared, "BEGIN", "INSERT INTO shop."+table+" VALUES (1,'a'),(2,'b')",
				"INSERT INTO shop."+table+" VALUES (3,'c')", "UPDATE shop."+table+" SET v='z'", "COMMIT",
				"INSERT INTO shop."+table+" VALUES (4,'d')")
			cfg := testConfig(shared.Addr())
			cfg.GTID = gtid
			src, _ := New(cfg)
			col := startCollector(t, src, from)
			all := col.waitFor(t, 20*time.Second, "7 changes", countData(table, 7))
			col.stop()
			all = all[:indexOfData(all, table, 7)+2] // through the commit of the last insert
			checkTransactions(t, all)
			for i := 0; i < len(all)-1; i++ {
				src, _ := New(cfg)
				col := startCollector(t, src, all[i].Pos)
				rest := all[i+1:]
				got := col.waitFor(t, 20*time.Second, fmt.Sprintf("%d changes after %s", len(rest), all[i].Pos.String()),
					func(cs []change.Change) bool { return len(cs) >= len(rest) })
				col.stop()
				for j := range rest {
					if got[j].Op != rest[j].Op || change.Compare(got[j].Pos, rest[j].Pos) != 0 ||
						rowText(got[j].Columns, got[j].After) != rowText(rest[j].Columns, rest[j].After) {
						t.Fatalf("resume from %s: change %d:\n got %s\nwant %s", all[i].Pos.String(), j, dump(got[j:j+1]), dump(rest[j:j+1]))
					}
				}
			}
		})
	}
}

func indexOfData(cs []change.Change, table string, n int) int {
	k := 0
	for i, c := range cs {
		if c.Table == table && c.Op != change.OpBegin && c.Op != change.OpCommit {
			k++
			if k == n {
				return i
			}
		}
	}
	return len(cs) - 2
}

// TestDDLMidStream changes a table's shape while rows are written: every
// row must carry the columns valid when it was written, with the names
// from the metadata (FULL) or from the schema history (MINIMAL).
func TestDDLMidStream(t *testing.T) {
	for _, meta := range []string{"FULL", "MINIMAL"} {
		t.Run(meta, func(t *testing.T) {
			srv := shared
			if meta != "FULL" {
				srv = testenv.NewMariaDB(t, testenv.MariaDBOptions{RowMetadata: meta})
			}
			exec(t, srv, "CREATE DATABASE IF NOT EXISTS app", "DROP TABLE IF EXISTS app.evolve, app.evolved, app.marker",
				"CREATE TABLE app.evolve (id INT PRIMARY KEY, a VARCHAR(10))")
			from := currentPosition(t, srv)
			cfg := testConfig(srv.Addr())
			cfg.SchemaHistory = t.TempDir() + "/schema.jsonl"
			src, _ := New(cfg)
			col := startCollector(t, src, from)
			// The schema snapshot is taken when the stream connects: let it
			// connect before the DDL, or the snapshot already has it (the
			// stream would then stop with a SchemaMismatchError).
			exec(t, srv, "CREATE TABLE app.marker (id INT PRIMARY KEY)", "INSERT INTO app.marker VALUES (1)")
			col.waitFor(t, 20*time.Second, "the marker row", countData("marker", 1))
			exec(t, srv,
				"INSERT INTO app.evolve VALUES (1, 'one')",
				"ALTER TABLE app.evolve ADD COLUMN b INT NOT NULL DEFAULT 7",
				"INSERT INTO app.evolve VALUES (2, 'two', 2)",
				"ALTER TABLE app.evolve RENAME COLUMN a TO title",
				"INSERT INTO app.evolve VALUES (3, 'three', 3)",
				"ALTER TABLE app.evolve DROP COLUMN b",
				"INSERT INTO app.evolve VALUES (4, 'four')",
				"TRUNCATE TABLE app.evolve",
				"RENAME TABLE app.evolve TO app.evolved",
				"INSERT INTO app.evolved VALUES (5, 'five')",
			)
			got := col.waitFor(t, 20*time.Second, "10 changes", func(cs []change.Change) bool {
				return len(data(cs, "evolve"))+len(data(cs, "evolved")) >= 10
			})
			checkTransactions(t, got)
			var lines []string
			for _, c := range data(got, "") {
				if c.Database != "app" || c.Table == "marker" {
					continue
				}
				switch c.Op {
				case change.OpInsert:
					lines = append(lines, "insert "+c.Table+" "+rowText(c.Columns, c.After))
				default:
					lines = append(lines, c.Op.String()+" "+c.Table+" "+c.SQL)
				}
			}
			want := []string{
				"insert evolve id=1 a=one",
				"ddl evolve ALTER TABLE app.evolve ADD COLUMN b INT NOT NULL DEFAULT 7",
				"insert evolve id=2 a=two b=2",
				"ddl evolve ALTER TABLE app.evolve RENAME COLUMN a TO title",
				"insert evolve id=3 title=three b=3",
				"ddl evolve ALTER TABLE app.evolve DROP COLUMN b",
				"insert evolve id=4 title=four",
				"truncate evolve TRUNCATE TABLE app.evolve",
				"ddl evolve RENAME TABLE app.evolve TO app.evolved",
				"insert evolved id=5 title=five",
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			col.stop()
			if meta == "MINIMAL" {
				// A restart from the start replays the persisted history:
				// the first row is again seen with its original columns.
				src, _ := New(cfg)
				col := startCollector(t, src, from)
				again := col.waitFor(t, 20*time.Second, "first insert", countData("evolve", 1))
				if g := rowText(data(again, "evolve")[0].Columns, data(again, "evolve")[0].After); g != "id=1 a=one" {
					t.Fatalf("after restart the first row reads %s", g)
				}
			}
		})
	}
}

// TestSchemaMismatch starts without history at a position older than the
// current schema (MINIMAL metadata): the stream must stop with an error
// naming the table and both shapes rather than mislabel columns.
func TestSchemaMismatch(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{RowMetadata: "MINIMAL"})
	exec(t, srv, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, a VARCHAR(10))")
	from := currentPosition(t, srv)
	exec(t, srv, "INSERT INTO app.t VALUES (1, 'x')")
	// Change the table behind a statement the history will not see
	// (the stream starts after it, from information_schema).
	exec(t, srv, "SET SESSION sql_log_bin = 0", "ALTER TABLE app.t ADD COLUMN c INT")
	src, _ := New(testConfig(srv.Addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := src.Stream(ctx, from, func([]change.Change) error { return nil })
	var me *SchemaMismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("Stream returned %v, want a SchemaMismatchError", err)
	}
	for _, s := range []string{"app.t", from.File, "int", "varchar"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// TestRotation flushes the binlog mid-stream: changes continue in the new
// file with positions in it.
func TestRotation(t *testing.T) {
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop.rot",
		"CREATE TABLE shop.rot (id INT PRIMARY KEY)")
	from := currentPosition(t, shared)
	src, _ := New(testConfig(shared.Addr()))
	col := startCollector(t, src, from)
	exec(t, shared, "INSERT INTO shop.rot VALUES (1)", "FLUSH BINARY LOGS", "INSERT INTO shop.rot VALUES (2)",
		"FLUSH BINARY LOGS", "FLUSH BINARY LOGS", "INSERT INTO shop.rot VALUES (3)")
	got := col.waitFor(t, 20*time.Second, "3 inserts", countData("rot", 3))
	checkTransactions(t, got)
	rows := data(got, "rot")
	if rows[0].Pos.File != from.File || rows[1].Pos.File == rows[0].Pos.File || rows[2].Pos.File == rows[1].Pos.File {
		t.Fatalf("files do not follow the rotations:\n%s", dump(rows))
	}
	now := currentPosition(t, shared)
	if rows[2].Pos.File != now.File {
		t.Fatalf("last insert in %s, server now writes %s", rows[2].Pos.File, now.File)
	}
}

// TestPositionPurged resumes from a purged file and GTID: the stream must
// fail with source.ErrPositionLost, not start elsewhere.
func TestPositionPurged(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	exec(t, srv, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")
	old := currentPosition(t, srv)
	exec(t, srv, "INSERT INTO app.t VALUES (2)", "FLUSH BINARY LOGS", "INSERT INTO app.t VALUES (3)")
	// MariaDB keeps a file until its binlog checkpoint is written: retry.
	for deadline := time.Now().Add(20 * time.Second); ; {
		exec(t, srv, "FLUSH BINARY LOGS", "PURGE BINARY LOGS TO '"+currentPosition(t, srv).File+"'")
		logs, err := srv.BinaryLogs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if logs[0].Name > old.File {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PURGE BINARY LOGS left %v", logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, gtid := range []bool{false, true} {
		cfg := testConfig(srv.Addr())
		cfg.GTID = gtid
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
		src, _ := New(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		emitted := 0
		err := src.Stream(ctx, old, func(b []change.Change) error { emitted += len(b); return nil })
		cancel()
		if !errors.Is(err, source.ErrPositionLost) {
			t.Fatalf("gtid=%t: Stream returned %v, want source.ErrPositionLost", gtid, err)
		}
		if emitted != 0 {
			t.Fatalf("gtid=%t: %d changes emitted from a purged position", gtid, emitted)
		}
	}
}

// TestWrongPassword: a clear authentication error that does not contain
// the password, and no retry loop.
func TestWrongPassword(t *testing.T) {
	cfg := testConfig(shared.Addr())
	cfg.Password = "not-the-Secret-42"
	src, _ := New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := src.Stream(ctx, change.Position{}, func([]change.Change) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("Stream returned %v, want access denied", err)
	}
	if strings.Contains(err.Error(), cfg.Password) {
		t.Fatalf("error contains the password: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("authentication failure took %v: retried?", time.Since(start))
	}
	if _, err := ParseURL("mysql://repl:" + cfg.Password + "@127.0.0.1:1/?bogus=1"); err == nil || strings.Contains(err.Error(), cfg.Password) {
		t.Fatalf("ParseURL error %v", err)
	}
}

// TestMinimalRowImage reads a server with binlog_row_image=MINIMAL and
// binlog_row_metadata=MINIMAL: updates carry the key in the before image
// and the changed columns in the after image; other columns are absent
// (not NULL), and names come from the schema history.
func TestMinimalRowImage(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{RowImage: "MINIMAL", RowMetadata: "MINIMAL"})
	exec(t, srv, "CREATE DATABASE app", "CREATE TABLE app.m (id INT PRIMARY KEY, a VARCHAR(10), b INT, c TEXT)",
		"INSERT INTO app.m VALUES (1, 'x', 1, 'keep')")
	from := currentPosition(t, srv)
	for _, gtid := range []bool{false, true} {
		cfg := testConfig(srv.Addr())
		cfg.GTID = gtid
		if !gtid {
			from.GTIDSet = ""
		} else {
			from = currentPosition(t, srv)
		}
		src, _ := New(cfg)
		col := startCollector(t, src, from)
		exec(t, srv, "UPDATE app.m SET b = b + 1 WHERE id = 1", "DELETE FROM app.m WHERE id = 1",
			"INSERT INTO app.m (id, a) VALUES (1, 'y')")
		got := col.waitFor(t, 20*time.Second, "3 changes", countData("m", 3))
		col.stop()
		checkTransactions(t, got)
		rows := data(got, "m")
		wantB := map[bool]int{false: 2, true: 3}[gtid]
		lines := []string{
			"update " + presentText(rows[0].Columns, rows[0].Before) + " -> " + presentText(rows[0].Columns, rows[0].After),
			"delete " + presentText(rows[1].Columns, rows[1].Before),
			"insert " + presentText(rows[2].Columns, rows[2].After),
		}
		want := []string{
			fmt.Sprintf("update id=1 -> b=%d", wantB),
			"delete id=1",
			"insert id=1 a=y", // MINIMAL logs only the columns the INSERT gave
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("gtid=%t:\n got %s\nwant %s", gtid, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		exec(t, srv, "DELETE FROM app.m", "INSERT INTO app.m VALUES (1, 'x', 2, 'keep')")
	}
}

// presentText renders only the columns present in an image.
func presentText(cols []change.Column, vals []change.Value) string {
	var parts []string
	for i, v := range vals {
		if v.Present() {
			parts = append(parts, cols[i].Name+"="+string(change.AppendText(nil, v)))
		}
	}
	return strings.Join(parts, " ")
}

// TestHeartbeats: with EmitHeartbeats an idle stream reports heartbeats
// once its position moved without a transaction (a rotation), and never
// repeats a position.
func TestHeartbeats(t *testing.T) {
	from := currentPosition(t, shared)
	cfg := testConfig(shared.Addr())
	cfg.EmitHeartbeats = true
	src, _ := New(cfg)
	col := startCollector(t, src, from)
	time.Sleep(3 * cfg.Heartbeat) // idle at the start position: nothing to report
	if got := col.snapshot(); len(got) != 0 {
		t.Fatalf("idle stream emitted:\n%s", dump(got))
	}
	exec(t, shared, "FLUSH BINARY LOGS")
	now := currentPosition(t, shared)
	got := col.waitFor(t, 20*time.Second, "a heartbeat in the new file", func(cs []change.Change) bool {
		return len(cs) > 0 && cs[len(cs)-1].Op == change.OpHeartbeat && cs[len(cs)-1].Pos.File == now.File
	})
	time.Sleep(3 * cfg.Heartbeat)
	got = col.snapshot()
	checkTransactions(t, got)
	for _, c := range got {
		if c.Op != change.OpHeartbeat {
			t.Fatalf("unexpected change:\n%s", dump(got))
		}
	}
}

// TestResumeInsideHugeTransaction stops in the middle of a 30,000-row
// transaction and resumes from the last change received: the rest follows
// exactly, without the delivered rows again.
func TestResumeInsideHugeTransaction(t *testing.T) {
	const n, stopAt = 30000, 12345
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop.huge",
		"CREATE TABLE shop.huge (id INT PRIMARY KEY, pad VARCHAR(100))")
	from := currentPosition(t, shared)
	exec(t, shared, fmt.Sprintf("INSERT INTO shop.huge SELECT seq, REPEAT('h', 100) FROM shop.seq_1_to_%d", n))
	cfg := testConfig(shared.Addr())
	// First run: stop once stopAt rows are delivered (emit fails, as a
	// pipeline does when it shuts down).
	errStop := errors.New("stop")
	var last change.Position
	rows := 0
	src, _ := New(cfg)
	err := src.Stream(context.Background(), from, func(b []change.Change) error {
		for _, c := range b {
			if c.Op == change.OpInsert {
				rows++
			}
			last = c.Pos
			if rows == stopAt {
				return errStop
			}
		}
		return nil
	})
	if !errors.Is(err, errStop) || rows != stopAt {
		t.Fatalf("first run: %v after %d rows", err, rows)
	}
	// Second run from the last delivered position.
	src, _ = New(cfg)
	col := startCollector(t, src, last)
	got := col.waitFor(t, 60*time.Second, "the rest", countData("huge", n-stopAt))
	rest := data(got, "huge")
	for i, c := range rest[:n-stopAt] {
		if g, want := string(change.AppendText(nil, c.After[0])), fmt.Sprint(stopAt+1+i); g != want {
			t.Fatalf("row %d after resume has id %s, want %s", i, g, want)
		}
	}
	if !rest[n-stopAt-1].Tx.Last {
		t.Fatalf("the last row lacks Tx.Last")
	}
	if c := got[len(got)-1]; c.Op != change.OpCommit && len(rest) == n-stopAt {
		col.waitFor(t, 10*time.Second, "the commit", func(cs []change.Change) bool { return cs[len(cs)-1].Op == change.OpCommit })
	}
}

// cloneValues copies an image and the bytes its values point to.
func cloneValues(v []change.Value) []change.Value {
	if v == nil {
		return nil
	}
	out := make([]change.Value, len(v))
	for i := range v {
		out[i] = v[i].Clone()
	}
	return out
}

// TestXAAndSavepoints streams an XA transaction (prepared, then
// committed) and a transaction that rolls back to a savepoint: each ends
// where the server ended it (XA PREPARE ends the first group), the rows
// rolled back are not there, and the stream goes on after them.
func TestXAAndSavepoints(t *testing.T) {
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop.xa",
		"CREATE TABLE shop.xa (id INT PRIMARY KEY)")
	from := currentPosition(t, shared)
	src, err := New(testConfig(shared.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, src, from)
	exec(t, shared, "XA START 'sluice1'", "INSERT INTO shop.xa VALUES (1)", "XA END 'sluice1'",
		"XA PREPARE 'sluice1'", "XA COMMIT 'sluice1'")
	exec(t, shared, "BEGIN", "INSERT INTO shop.xa VALUES (2)", "SAVEPOINT a", "INSERT INTO shop.xa VALUES (3)",
		"ROLLBACK TO SAVEPOINT a", "INSERT INTO shop.xa VALUES (4)", "COMMIT")
	exec(t, shared, "INSERT INTO shop.xa VALUES (5)")
	got := col.waitFor(t, 20*time.Second, "4 inserts", countData("xa", 4))
	if err := col.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream returned %v after cancel", err)
	}
	checkTransactions(t, got)
	var ids []string
	for _, c := range data(got, "xa") {
		ids = append(ids, rowText(c.Columns, c.After))
	}
	if want := []string{"id=1", "id=2", "id=4", "id=5"}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v:\n%s", ids, want, dump(got))
	}
	// The XA insert is committed by the XA PREPARE group, before row 2's
	// transaction begins.
	for i, c := range got {
		if c.Op == change.OpInsert && c.Table == "xa" && rowText(c.Columns, c.After) == "id=1" {
			if i+1 >= len(got) || got[i+1].Op != change.OpCommit {
				t.Errorf("the XA insert is not followed by its commit:\n%s", dump(got))
			}
		}
	}
}
