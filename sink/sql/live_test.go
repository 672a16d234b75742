package sql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/sqldb"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

var (
	maria *testenv.MariaDB
	pg    *testenv.Postgres
)

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		maria, pg, err = testenv.StartMariaDBAndPostgres(ctx, c)
		return err
	})
}

// target is one of the two test servers as a sink target.
type target struct {
	name string
	eng  sqldb.Engine
	url  string // sink URL without parameters
	exec func(t *testing.T, stmts ...string)
	// rows returns the rows of a query, each row's columns joined by "|", NULL as "NULL".
	rows func(t *testing.T, q string) []string
}

func targets(t *testing.T) []target {
	return []target{mariaTarget(t, "sink"), pgTarget(t, "postgres")}
}

func mariaTarget(t *testing.T, db string) target {
	u := url.URL{Scheme: "mysql", User: url.UserPassword(testenv.MariaDBRootUser, testenv.MariaDBRootPassword), Host: maria.Addr(), Path: "/" + db}
	exec := func(t *testing.T, stmts ...string) {
		t.Helper()
		if err := maria.Exec(context.Background(), stmts...); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, "CREATE DATABASE IF NOT EXISTS "+db)
	return target{name: "mariadb", eng: sqldb.MySQL, url: u.String(), exec: exec, rows: func(t *testing.T, q string) []string {
		t.Helper()
		pool, err := maria.DB()
		if err != nil {
			t.Fatal(err)
		}
		rs, err := pool.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		cols, _ := rs.Columns()
		var out []string
		for rs.Next() {
			vals := make([]*string, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, joinRow(vals))
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}}
}

func pgTarget(t *testing.T, db string) target {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(testenv.PostgresUser, testenv.PostgresPassword), Host: pg.Addr(), Path: "/" + db, RawQuery: "sslmode=disable"}
	exec := func(t *testing.T, stmts ...string) {
		t.Helper()
		if err := pg.Exec(context.Background(), db, stmts...); err != nil {
			t.Fatal(err)
		}
	}
	return target{name: "postgres", eng: sqldb.Postgres, url: u.String(), exec: exec, rows: func(t *testing.T, q string) []string {
		t.Helper()
		ctx := context.Background()
		conn, err := pg.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rs, err := conn.Query(ctx, q, pgx.QueryResultFormats{pgx.TextFormatCode})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			raw := rs.RawValues()
			vals := make([]*string, len(raw))
			for i, b := range raw {
				if b != nil {
					s := string(b)
					vals[i] = &s
				}
			}
			out = append(out, joinRow(vals))
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}}
}

// testWriter sends a sink's log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func joinRow(vals []*string) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = *v
		}
	}
	return strings.Join(parts, "|")
}

// openSink opens a sink on tg with extra URL parameters, closed when the test ends.
func openSink(t *testing.T, tg target, params string) *Sink {
	t.Helper()
	raw := tg.url
	if params != "" {
		if strings.Contains(raw, "?") {
			raw += "&" + params
		} else {
			raw += "?" + params
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromURL(u)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// cols builds column descriptions: "name type [key] [null]".
func mkCols(specs ...string) []change.Column {
	var out []change.Column
	for _, s := range specs {
		f := strings.Fields(s)
		c := change.Column{Name: f[0], Type: f[1]}
		for _, x := range f[2:] {
			switch x {
			case "key":
				c.Key = true
			case "null":
				c.Nullable = true
			}
		}
		out = append(out, c)
	}
	return out
}

// row is a shorthand for an image: int64 → Int(32), string → String,
// nil → Null, change.Value as is.
func row(vals ...any) []change.Value {
	out := make([]change.Value, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			out[i] = change.Null()
		case int:
			out[i] = change.Int(int64(v), 32)
		case string:
			out[i] = change.String([]byte(v))
		case change.Value:
			out[i] = v
		default:
			panic(fmt.Sprintf("row: %T", v))
		}
	}
	return out
}

// changeLog builds changes with increasing LSN positions.
type changeLog struct {
	db  string
	lsn uint64
	out []change.Change
}

func (l *changeLog) add(op change.Op, table string, cols []change.Column, before, after []change.Value) {
	l.lsn++
	l.out = append(l.out, change.Change{Op: op, Source: "mysql", Namespace: change.Namespace{Database: l.db, Table: table},
		Columns: cols, Before: before, After: after, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 1000, Index: l.lsn}})
}

func lsn(off, idx uint64) change.Position {
	return change.Position{Flavor: change.FlavorLSN, Offset: off, Index: idx}
}

func mustWrite(t *testing.T, s *Sink, batch []change.Change, through change.Position) {
	t.Helper()
	if err := s.WriteAt(context.Background(), batch, through); err != nil {
		t.Fatal(err)
	}
}

// TestApply applies inserts, full and partial updates, key changes,
// deletes, composite keys, a keyless table and a transaction spanning
// writes, on MariaDB and PostgreSQL, and checks the tables and the
// stored position; a second sink resumes from it.
func TestApply(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			ctx := context.Background()
			db := "app"
			if tg.eng == sqldb.Postgres {
				tg.exec(t, "DROP SCHEMA IF EXISTS app CASCADE", "CREATE SCHEMA app",
					"CREATE TABLE app.t (id int PRIMARY KEY, v varchar(20), n int)",
					"CREATE TABLE app.k (a int, b varchar(10), v int, PRIMARY KEY (a, b))",
					"CREATE TABLE app.nokey (x int, y varchar(10))")
			} else {
				tg.exec(t, "DROP DATABASE IF EXISTS app", "CREATE DATABASE app",
					"CREATE TABLE app.t (id int PRIMARY KEY, v varchar(20), n int)",
					"CREATE TABLE app.k (a int, b varchar(10), v int, PRIMARY KEY (a, b))",
					"CREATE TABLE app.nokey (x int, y varchar(10))")
			}
			tc := mkCols("id int key", "v varchar(20) null", "n int null")
			kc := mkCols("a int key", "b varchar(10) key", "v int null")
			nc := mkCols("x int null", "y varchar(10) null")
			s := openSink(t, tg, "")
			if _, err := s.Load(ctx, "p1"); !errors.Is(err, checkpoint.ErrNotFound) {
				t.Fatalf("Load of a new pipeline: %v", err)
			}
			l := &changeLog{db: db}
			for i := 1; i <= 5; i++ {
				l.add(change.OpInsert, "t", tc, nil, row(i, fmt.Sprint("v", i), i*10))
			}
			// A snapshot's row that the stream inserted too.
			l.add(change.OpRead, "t", tc, nil, row(5, "v5", 50))
			l.add(change.OpInsert, "k", kc, nil, row(1, "a", 1))
			l.add(change.OpInsert, "k", kc, nil, row(1, "b", 2))
			l.add(change.OpInsert, "nokey", nc, nil, row(1, "x"))
			l.add(change.OpInsert, "nokey", nc, nil, row(1, "x"))
			l.add(change.OpInsert, "nokey", nc, nil, row(2, "y"))
			mustWrite(t, s, l.out, lsn(100, 0))

			l.out = nil
			l.add(change.OpUpdate, "t", tc, row(2, "v2", 20), row(2, "two", 20))
			l.add(change.OpUpdate, "t", tc, row(3, "v3", 30), row(30, "v3", 31))
			l.add(change.OpDelete, "t", tc, row(4, "v4", 40), nil)
			l.add(change.OpUpdate, "k", kc, row(1, "a", 1), row(1, "a", 9))
			first := l.out
			l.out = nil
			l.add(change.OpDelete, "k", kc, row(1, "b", 2), nil)
			l.add(change.OpUpdate, "nokey", nc, row(1, "x"), row(1, "z"))
			l.add(change.OpDelete, "nokey", nc, row(2, "y"), nil)
			// A MINIMAL-image update: only the key and the changed column.
			l.add(change.OpUpdate, "t", tc, row(5, change.Absent(), change.Absent()), row(5, change.Absent(), 50))
			// PostgreSQL's unchanged TOAST value.
			l.add(change.OpUpdate, "t", tc, nil, row(1, change.Unchanged(), 11))
			// One transaction over two writes: the first leaves it open.
			mustWrite(t, s, first, lsn(200, 4))
			if got := tg.rows(t, "SELECT v FROM app.t WHERE id = 2"); got[0] != "v2" {
				t.Errorf("a half-applied transaction is visible: %v", got)
			}
			mustWrite(t, s, l.out, lsn(250, 0))

			want := map[string][]string{
				"SELECT id, v, n FROM app.t ORDER BY id":   {"1|v1|11", "2|two|20", "5|v5|50", "30|v3|31"},
				"SELECT a, b, v FROM app.k ORDER BY a, b":  {"1|a|9"},
				"SELECT x, y FROM app.nokey ORDER BY x, y": {"1|x", "1|z"},
			}
			for q, w := range want {
				if got := tg.rows(t, q); strings.Join(got, " ") != strings.Join(w, " ") {
					t.Errorf("%s: %v, want %v", q, got, w)
				}
			}
			if got := tg.rows(t, checkpointQuery(tg)); got[0] != lsn(250, 0).String() {
				t.Errorf("stored position %v", got)
			}
			s2 := openSink(t, tg, "")
			pos, err := s2.Load(ctx, "p1")
			if err != nil || pos != lsn(250, 0) {
				t.Fatalf("Load: %v %v", pos, err)
			}
			// Only the position moves (changes nobody applies): Save writes it.
			if err := s2.WriteAt(ctx, nil, lsn(300, 0)); err != nil {
				t.Fatal(err)
			}
			if err := s2.Save(ctx, "p1", lsn(300, 0)); err != nil {
				t.Fatal(err)
			}
			// The first sink is fenced: the position is not what it committed.
			l.out = nil
			l.add(change.OpInsert, "t", tc, nil, row(99, "late", 0))
			err = s.WriteAt(ctx, l.out, lsn(400, 0))
			if err == nil || !strings.Contains(err.Error(), "another process applies this pipeline") {
				t.Errorf("a second writer of the pipeline: %v", err)
			}
			if got := tg.rows(t, "SELECT count(*) FROM app.t WHERE id = 99"); got[0] != "0" {
				t.Errorf("the fenced write was applied")
			}
			if got := tg.rows(t, checkpointQuery(tg)); got[0] != lsn(300, 0).String() {
				t.Errorf("stored position %v after Save", got)
			}
		})
	}
}

func checkpointQuery(tg target) string {
	if tg.eng == sqldb.Postgres {
		return "SELECT position FROM public.sluice_checkpoint WHERE pipeline = 'p1'"
	}
	return "SELECT position FROM sink.sluice_checkpoint WHERE pipeline = 'p1'"
}

// TestBadInput: a wrong password, a missing table, a constraint violation
// and values the target column cannot hold each stop the sink with an
// error that names the problem (and the change and its position), without
// the password, and without moving the stored position: once the problem
// is fixed, the same writes apply.
func TestBadInput(t *testing.T) {
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			ctx := context.Background()
			if tg.eng == sqldb.Postgres {
				tg.exec(t, "DROP SCHEMA IF EXISTS bad CASCADE", "CREATE SCHEMA bad",
					"CREATE TABLE bad.u (id int PRIMARY KEY, email varchar(5) UNIQUE, n int CHECK (n >= 0))")
			} else {
				tg.exec(t, "DROP DATABASE IF EXISTS bad", "CREATE DATABASE bad",
					"CREATE TABLE bad.u (id int PRIMARY KEY, email varchar(5) UNIQUE, n int CHECK (n >= 0))")
			}
			// A wrong password: refused at once, the password in no error.
			u, _ := url.Parse(tg.url)
			u.User = url.UserPassword(u.User.Username(), "s3cret-wrong")
			cfg, err := FromURL(u)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			_, err = New(ctx, cfg)
			if err == nil || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("wrong password: %v", err)
			}
			if time.Since(began) > 10*time.Second {
				t.Errorf("a refused login was retried for %v", time.Since(began))
			}
			t.Logf("wrong password: %v", err)

			s := openSink(t, tg, "")
			if _, err := s.Load(ctx, "bad"); !errors.Is(err, checkpoint.ErrNotFound) {
				t.Fatal(err)
			}
			uc := mkCols("id int key", "email varchar(5) null", "n int null")
			l := &changeLog{db: "bad"}
			l.add(change.OpInsert, "u", uc, nil, row(1, "a@x", 1))
			mustWrite(t, s, l.out, lsn(10, 0))
			stored := func() string {
				t.Helper()
				q := "SELECT position FROM sink.sluice_checkpoint WHERE pipeline = 'bad'"
				if tg.eng == sqldb.Postgres {
					q = "SELECT position FROM public.sluice_checkpoint WHERE pipeline = 'bad'"
				}
				return tg.rows(t, q)[0]
			}
			for _, bad := range []struct {
				name  string
				build func(l *changeLog)
				want  []string // in the error
			}{
				{"missing table", func(l *changeLog) {
					l.add(change.OpInsert, "nope", uc, nil, row(1, "x", 1))
				}, []string{"bad.nope", "does not exist", "create-tables"}},
				{"unique violation in a multi-row insert", func(l *changeLog) {
					for i := 2; i <= 6; i++ {
						email := fmt.Sprint("e", i)
						if i == 5 {
							email = "a@x"
						}
						l.add(change.OpInsert, "u", uc, nil, row(i, email, i))
					}
				}, []string{"insert of bad.u", "key id=5", "lsn:0/3E8#"}},
				{"check constraint", func(l *changeLog) {
					l.add(change.OpInsert, "u", uc, nil, row(7, "ok", -1))
				}, []string{"insert of bad.u", "key id=7"}},
				{"text too long", func(l *changeLog) {
					l.add(change.OpInsert, "u", uc, nil, row(8, "too long for five", 1))
				}, []string{"insert of bad.u", "key id=8"}},
				{"NaN into an integer", func(l *changeLog) {
					l.add(change.OpInsert, "u", uc, nil, row(9, "x", change.Value{Kind: change.KindDecimal, B: []byte("NaN")}))
				}, []string{"insert of bad.u", "key id=9", "NaN"}},
				{"update of a row the target lacks", func(l *changeLog) {
					l.add(change.OpUpdate, "u", uc, row(42, change.Absent(), change.Absent()), row(42, change.Absent(), 3))
				}, []string{"update of bad.u", "key id=42", "not in the target"}},
			} {
				l := &changeLog{db: "bad", lsn: 100}
				bad.build(l)
				err := s.WriteAt(ctx, l.out, lsn(20, 0))
				if err == nil {
					t.Errorf("%s: no error", bad.name)
					continue
				}
				for _, w := range bad.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s: error %q does not say %q", bad.name, err, w)
					}
				}
				t.Logf("%s: %v", bad.name, err)
				if got := stored(); got != lsn(10, 0).String() {
					t.Errorf("%s: the stored position moved to %s", bad.name, got)
				}
				if got := tg.rows(t, "SELECT count(*) FROM bad.u"); got[0] != "1" {
					t.Errorf("%s: %s rows in the table, want 1 (nothing applied)", bad.name, got[0])
				}
			}
			// Nothing was lost: the first bad write, its table created, applies.
			tg.exec(t, "CREATE TABLE bad.nope (id int PRIMARY KEY, email varchar(5), n int)")
			l = &changeLog{db: "bad", lsn: 100}
			l.add(change.OpInsert, "nope", uc, nil, row(1, "x", 1))
			mustWrite(t, s, l.out, lsn(20, 0))
			if got := stored(); got != lsn(20, 0).String() {
				t.Errorf("stored position %s after the fix", got)
			}
		})
	}
}

// TestOpenTransactionSurvivesCut: a source transaction spread over three
// writes stays one target transaction; the connection is cut between the
// writes (and the target rolls back what it held), so the sink applies
// the spilled changes again on a new connection; the table then holds the
// whole transaction, committed once, and nothing of it was visible before.
func TestOpenTransactionSurvivesCut(t *testing.T) {
	for _, base := range targets(t) {
		t.Run(base.name, func(t *testing.T) {
			ctx := context.Background()
			addr := maria.Addr()
			if base.eng == sqldb.Postgres {
				addr = pg.Addr()
			}
			proxy := testenv.NewProxy(t, addr, 0)
			tg := base
			u, _ := url.Parse(tg.url)
			u.Host = proxy.Addr()
			tg.url = u.String()
			base.exec(t, "DROP TABLE IF EXISTS app.big")
			if base.eng == sqldb.Postgres {
				base.exec(t, "CREATE SCHEMA IF NOT EXISTS app")
			} else {
				base.exec(t, "CREATE DATABASE IF NOT EXISTS app")
			}
			base.exec(t, "CREATE TABLE app.big (id int PRIMARY KEY, v varchar(20))")
			s := openSink(t, tg, "")
			s.Load(ctx, "cut")
			bc := mkCols("id int key", "v varchar(20) null")
			l := &changeLog{db: "app"}
			write := func(from, to int, through change.Position) {
				t.Helper()
				l.out = nil
				for i := from; i < to; i++ {
					l.add(change.OpInsert, "big", bc, nil, row(i, fmt.Sprint("v", i)))
				}
				mustWrite(t, s, l.out, through)
			}
			write(0, 1500, lsn(500, 1500))
			proxy.Cut()
			// A write without a position of its own (begin/commit shown,
			// changes held back) ends nothing either.
			write(1500, 3000, change.Position{})
			if got := base.rows(t, "SELECT count(*) FROM app.big"); got[0] != "0" {
				t.Errorf("%s rows of an open transaction visible", got[0])
			}
			proxy.Cut()
			write(3000, 3100, lsn(600, 0))
			if got := base.rows(t, "SELECT count(*), min(id), max(id) FROM app.big"); got[0] != "3100|0|3099" {
				t.Errorf("after the commit: %v", got)
			}
			if proxy.Cuts() < 2 {
				t.Errorf("%d cuts", proxy.Cuts())
			}
		})
	}
}
