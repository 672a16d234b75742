package verify

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

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

func mariaURL(db string) string {
	u := url.URL{Scheme: "mysql", User: url.UserPassword(testenv.MariaDBRootUser, testenv.MariaDBRootPassword), Host: maria.Addr(), Path: "/" + db}
	return u.String()
}

func pgURL() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(testenv.PostgresUser, testenv.PostgresPassword), Host: pg.Addr(), Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String()
}

func mexec(t *testing.T, stmts ...string) {
	t.Helper()
	if err := maria.Exec(context.Background(), stmts...); err != nil {
		t.Fatal(err)
	}
}

func pexec(t *testing.T, stmts ...string) {
	t.Helper()
	if err := pg.Exec(context.Background(), "postgres", stmts...); err != nil {
		t.Fatal(err)
	}
}

// bigRows is the size of the tables of TestVerifyBig.
func bigRows() int {
	if testing.Short() {
		return 20000
	}
	return 1000000
}

// makeBig fills MariaDB database db and PostgreSQL schema db with the same
// table of n rows: numbers, text (NULL every 97th row), decimals,
// timestamps with microseconds and floats.
func makeBig(t *testing.T, db string, n int) {
	t.Helper()
	mexec(t, "DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db,
		"CREATE TABLE "+db+".big (id BIGINT PRIMARY KEY, n INT NOT NULL, s VARCHAR(40), d DECIMAL(12,2), ts DATETIME(6), f DOUBLE, b VARBINARY(8))",
		fmt.Sprintf(`INSERT INTO %s.big SELECT seq, seq %% 1000, IF(seq %% 97 = 0, NULL, MD5(seq)), seq / 100,
			TIMESTAMPADD(MICROSECOND, seq * 1000003, '2024-01-01 00:00:00'), seq * 0.25, UNHEX(LPAD(HEX(seq), 8, '0')) FROM %s.seq_1_to_%d`, db, db, n))
	pexec(t, "DROP SCHEMA IF EXISTS "+db+" CASCADE", "CREATE SCHEMA "+db,
		"CREATE TABLE "+db+".big (id bigint PRIMARY KEY, n integer NOT NULL, s varchar(40), d numeric(12,2), ts timestamp(6), f double precision, b bytea)",
		fmt.Sprintf(`INSERT INTO %s.big SELECT g, g %% 1000, CASE WHEN g %% 97 = 0 THEN NULL ELSE md5(g::text) END, (g / 100.0)::numeric(12,2),
			timestamp '2024-01-01 00:00:00' + g::bigint * 1000003 * interval '1 microsecond', g * 0.25::float8, decode(lpad(to_hex(g), 8, '0'), 'hex') FROM generate_series(1, %d) g`, db, n),
		"ANALYZE "+db+".big")
}

// TestVerifyBig compares tables of a million rows (20,000 with -short),
// MariaDB ↔ MariaDB, PostgreSQL ↔ PostgreSQL and across in both
// directions: equal copies are equal; after deleting a row, adding one
// and changing a value in the target, exactly those three keys are
// reported, with the changed column.
func TestVerifyBig(t *testing.T) {
	n := bigRows()
	makeBig(t, "vsrc", n)
	makeBig(t, "vdst", n)
	cases := []struct {
		name, src, tgt string
		srcTable       string
		schema         string
	}{
		{"mariadb-mariadb", mariaURL("vsrc"), mariaURL("vdst"), "vsrc.big", "vdst"},
		{"postgres-postgres", pgURL(), pgURL(), "vsrc.big", "vdst"},
		{"mariadb-postgres", mariaURL("vsrc"), pgURL(), "vsrc.big", "vdst"},
		{"postgres-mariadb", pgURL(), mariaURL("vdst"), "vsrc.big", "vdst"},
	}
	run := func(t *testing.T, src, tgt, table, schema string) *TableResult {
		t.Helper()
		var got *TableResult
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		sum, err := Run(ctx, Config{Source: src, Target: tgt, Tables: []string{table}, TargetSchema: schema, RecheckWait: 10 * time.Millisecond},
			func(r *TableResult) { got = r })
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Err != nil {
			t.Fatalf("result %+v", got)
		}
		t.Logf("%s: %d + %d rows (%s) in %v: %.0f rows/s per side", table, got.SourceRows, got.TargetRows, got.Mode,
			sum.Elapsed.Round(time.Millisecond), float64(got.SourceRows)/sum.Elapsed.Seconds())
		return got
	}
	for _, tc := range cases {
		t.Run(tc.name+"/equal", func(t *testing.T) {
			r := run(t, tc.src, tc.tgt, tc.srcTable, tc.schema)
			if !r.Equal() || r.SourceRows != int64(n) || r.TargetRows != int64(n) {
				t.Fatalf("equal tables: %+v", r)
			}
		})
	}
	// Differences in the target copies.
	mid, last := n/2, n/3+7
	mexec(t, fmt.Sprintf("DELETE FROM vdst.big WHERE id = %d", mid),
		fmt.Sprintf("INSERT INTO vdst.big (id, n) VALUES (%d, 1)", n+1000),
		fmt.Sprintf("UPDATE vdst.big SET s = 'changed' WHERE id = %d", last))
	pexec(t, fmt.Sprintf("DELETE FROM vdst.big WHERE id = %d", mid),
		fmt.Sprintf("INSERT INTO vdst.big (id, n) VALUES (%d, 1)", n+1000),
		fmt.Sprintf("UPDATE vdst.big SET s = 'changed' WHERE id = %d", last))
	for _, tc := range cases {
		t.Run(tc.name+"/different", func(t *testing.T) {
			r := run(t, tc.src, tc.tgt, tc.srcTable, tc.schema)
			if r.Missing != 1 || r.Extra != 1 || r.Changed != 1 || len(r.Diffs) != 3 {
				t.Fatalf("want 1 missing, 1 extra, 1 changed: %+v", r)
			}
			want := map[DiffKind]string{Missing: fmt.Sprintf("id=%d", mid), Extra: fmt.Sprintf("id=%d", n+1000), Changed: fmt.Sprintf("id=%d", last)}
			for _, d := range r.Diffs {
				if want[d.Kind] != d.Key {
					t.Errorf("%s %s, want %s", d.Kind, d.Key, want[d.Kind])
				}
				if d.Kind == Changed && (len(d.Columns) != 1 || d.Columns[0].Name != "s" || d.Columns[0].Target != "changed") {
					t.Errorf("changed columns %+v", d.Columns)
				}
			}
		})
	}
}

// TestVerifyRowHash: the same-engine row hashes tell apart what the text
// of a row does — a changed value, NULL from an empty string, values
// moved across a column boundary, a decimal's trailing zero, 0 from -0,
// equal intervals written differently — on tables with nullable columns
// and without; a column whose type differs between the sides (int and
// bigint) with equal values is equal.
func TestVerifyRowHash(t *testing.T) {
	mexec(t, "DROP DATABASE IF EXISTS hsrc", "DROP DATABASE IF EXISTS hdst", "CREATE DATABASE hsrc", "CREATE DATABASE hdst")
	pexec(t, "DROP SCHEMA IF EXISTS hsrc CASCADE", "DROP SCHEMA IF EXISTS hdst CASCADE", "CREATE SCHEMA hsrc", "CREATE SCHEMA hdst")
	for _, db := range []string{"hsrc", "hdst"} {
		mexec(t, "CREATE TABLE "+db+".nullable (id int PRIMARY KEY, a varchar(10), b varchar(10), d decimal(10,2), f double)",
			"CREATE TABLE "+db+".notnull (id int PRIMARY KEY, a varchar(10) NOT NULL, b varchar(10) NOT NULL)")
		pexec(t, "CREATE TABLE "+db+".nullable (id int PRIMARY KEY, a text, b varchar(10), n numeric, f float8, i interval, ts timestamp, u uuid, by bytea)",
			"CREATE TABLE "+db+".notnull (id int PRIMARY KEY, a text NOT NULL, b varchar(10) NOT NULL)")
	}
	mexec(t, "CREATE TABLE hsrc.types (id int PRIMARY KEY, v int)", "CREATE TABLE hdst.types (id int PRIMARY KEY, v bigint)",
		"INSERT INTO hsrc.types VALUES (1, 7), (2, NULL)", "INSERT INTO hdst.types VALUES (1, 7), (2, NULL)")
	pexec(t, "CREATE TABLE hsrc.types (id int PRIMARY KEY, v int)", "CREATE TABLE hdst.types (id int PRIMARY KEY, v bigint)",
		"INSERT INTO hsrc.types VALUES (1, 7), (2, NULL)", "INSERT INTO hdst.types VALUES (1, 7), (2, NULL)")
	mexec(t,
		"INSERT INTO hsrc.nullable VALUES (1, 'ab', 'c', 1, 1), (2, NULL, 'x', 2, 2), (3, 'same', 'same', 3.5, 0.1), (4, '', 'y', 4, 4), (5, 'v', 'w', 5, 5), (6, 'n', NULL, 6, 6)",
		"INSERT INTO hdst.nullable VALUES (1, 'a', 'bc', 1, 1), (2, '', 'x', 2, 2), (3, 'same', 'same', 3.5, 0.1), (4, NULL, 'y', 4, 4), (5, 'v', 'W', 5, 5), (6, 'n', NULL, 6, 6.000001)",
		"INSERT INTO hsrc.notnull VALUES (1, 'ab', 'c'), (2, 'same', 'same'), (3, 'x', '')",
		"INSERT INTO hdst.notnull VALUES (1, 'a', 'bc'), (2, 'same', 'same'), (3, 'x', ' ')")
	pexec(t,
		`INSERT INTO hsrc.nullable VALUES (1, 'ab', 'c', 1, 1, '1 day', '2024-01-01 00:00:00.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x01'),
			(2, NULL, 'x', 2, 2, NULL, NULL, NULL, NULL), (3, 'same', 'same', 3.25, 0.1, '1 hour', '2024-01-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00'),
			(4, '', 'y', 4, 4, NULL, NULL, NULL, NULL), (5, 'v', 'w', 1.5, 5, NULL, NULL, NULL, NULL), (6, 'n', NULL, 6, 0, NULL, NULL, NULL, NULL),
			(7, 'i', 'i', 7, 7, '1 day', NULL, NULL, NULL), (8, 't', 't', 8, 8, NULL, '2024-01-01 00:00:00.5', NULL, ''), (9, 'é', 'é', 9, 9, NULL, NULL, NULL, '\x00')`,
		`INSERT INTO hdst.nullable VALUES (1, 'a', 'bc', 1, 1, '1 day', '2024-01-01 00:00:00.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x01'),
			(2, '', 'x', 2, 2, NULL, NULL, NULL, NULL), (3, 'same', 'same', 3.25, 0.1, '1 hour', '2024-01-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00'),
			(4, NULL, 'y', 4, 4, NULL, NULL, NULL, NULL), (5, 'v', 'w', 1.50, 5, NULL, NULL, NULL, NULL), (6, 'n', NULL, 6, '-0', NULL, NULL, NULL, NULL),
			(7, 'i', 'i', 7, 7, '24 hours', NULL, NULL, NULL), (8, 't', 't', 8, 8, NULL, '2024-01-01 00:00:00.5', NULL, NULL), (9, 'é', 'é', 9, 9, NULL, NULL, NULL, '\x00')`,
		"INSERT INTO hsrc.notnull VALUES (1, 'ab', 'c'), (2, 'same', 'same'), (3, 'x', '')",
		"INSERT INTO hdst.notnull VALUES (1, 'a', 'bc'), (2, 'same', 'same'), (3, 'x', ' ')")
	for _, tc := range []struct {
		name, url, table string
		changed          []int
	}{
		{"mariadb", mariaURL("hsrc"), "nullable", []int{1, 2, 4, 5, 6}},
		{"mariadb", mariaURL("hsrc"), "notnull", []int{1, 3}},
		{"mariadb", mariaURL("hsrc"), "types", nil},
		{"postgres", pgURL(), "nullable", []int{1, 2, 4, 5, 6, 7, 8}},
		{"postgres", pgURL(), "notnull", []int{1, 3}},
		{"postgres", pgURL(), "types", nil},
	} {
		t.Run(tc.name+"/"+tc.table, func(t *testing.T) {
			var got *TableResult
			_, err := Run(context.Background(), Config{Source: tc.url, Target: tc.url, Tables: []string{"hsrc." + tc.table}, TargetSchema: "hdst", Recheck: -1},
				func(r *TableResult) { got = r })
			if err != nil {
				t.Fatal(err)
			}
			if got.Err != nil || got.Mode != "checksum" {
				t.Fatalf("result %+v", got)
			}
			var keys []string
			for _, d := range got.Diffs {
				if d.Kind != Changed {
					t.Errorf("%s %s", d.Kind, d.Key)
				}
				keys = append(keys, d.Key)
			}
			var want []string
			for _, id := range tc.changed {
				want = append(want, fmt.Sprintf("id=%d", id))
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) || got.Missing != 0 || got.Extra != 0 {
				t.Errorf("changed %v, want %v (%+v)", keys, want, got)
			}
		})
	}
}

// TestVerifyChunks: the same-engine chunks, cut by key range for an
// integer key — dense, with a far outlier making one chunk hold nearly
// every row (cut again by walking it when it differs), negative, and past
// int64 (walked) — and walked for a text key and a two-column key, find
// exactly the rows that differ: before the first key, inside the crowded
// chunk, past the last key — and no narrowing holds more than twice
// ChunkRows source rows; empty tables are equal.
func TestVerifyChunks(t *testing.T) {
	mexec(t, "DROP DATABASE IF EXISTS csrc", "DROP DATABASE IF EXISTS cdst", "CREATE DATABASE csrc", "CREATE DATABASE cdst")
	pexec(t, "DROP SCHEMA IF EXISTS csrc CASCADE", "DROP SCHEMA IF EXISTS cdst CASCADE", "CREATE SCHEMA csrc", "CREATE SCHEMA cdst")
	const n = 3000
	tables := []struct {
		name, myKey, pgKey string // key column types
		key                func(i int) string
		first, last        string // a key before every other and after
	}{
		{"skewed", "BIGINT", "bigint", func(i int) string {
			if i == n {
				return "1000000000000000"
			}
			return fmt.Sprint(i)
		}, "-5", "1000000000000001"},
		{"negative", "INT", "integer", func(i int) string { return fmt.Sprint(i*7 - 10000) }, "-20000", "20000"},
		{"huge", "BIGINT UNSIGNED", "numeric(20)", func(i int) string { return fmt.Sprint(uint64(18446744073709000000) + uint64(i)) }, "1", "18446744073709551615"},
		{"text", "VARCHAR(20)", "varchar(20)", func(i int) string { return fmt.Sprintf("'k%05d'", i) }, "'a'", "'z'"},
	}
	for _, tb := range tables {
		var vals []string
		for i := 1; i <= n; i++ {
			vals = append(vals, fmt.Sprintf("(%s, %d)", tb.key(i), i))
		}
		rows := strings.Join(vals, ", ")
		for _, db := range []string{"csrc", "cdst"} {
			mexec(t, fmt.Sprintf("CREATE TABLE %s.%s (k %s PRIMARY KEY, v int)", db, tb.name, tb.myKey), fmt.Sprintf("INSERT INTO %s.%s VALUES %s", db, tb.name, rows),
				fmt.Sprintf("ANALYZE TABLE %s.%s", db, tb.name))
			pexec(t, fmt.Sprintf("CREATE TABLE %s.%s (k %s PRIMARY KEY, v int)", db, tb.name, tb.pgKey), fmt.Sprintf("INSERT INTO %s.%s VALUES %s", db, tb.name, rows),
				fmt.Sprintf("ANALYZE %s.%s", db, tb.name))
		}
		// In the target: a row before the first key and one after the
		// last, one missing and one changed in the middle.
		for _, stmt := range []string{
			fmt.Sprintf("INSERT INTO cdst.%s VALUES (%s, 0), (%s, 0)", tb.name, tb.first, tb.last),
			fmt.Sprintf("DELETE FROM cdst.%s WHERE k = %s", tb.name, tb.key(n/2)),
			fmt.Sprintf("UPDATE cdst.%s SET v = -1 WHERE k = %s", tb.name, tb.key(n/3)),
		} {
			mexec(t, stmt)
			pexec(t, stmt)
		}
	}
	mexec(t, "CREATE TABLE csrc.two (a int, b varchar(5), v int, PRIMARY KEY (a, b))", "CREATE TABLE cdst.two (a int, b varchar(5), v int, PRIMARY KEY (a, b))")
	pexec(t, "CREATE TABLE csrc.two (a int, b varchar(5), v int, PRIMARY KEY (a, b))", "CREATE TABLE cdst.two (a int, b varchar(5), v int, PRIMARY KEY (a, b))")
	unquote := func(k string) string { return strings.Trim(k, "'") }
	for _, eng := range []struct{ name, url string }{{"mariadb", mariaURL("csrc")}, {"postgres", pgURL()}} {
		for _, tb := range tables {
			t.Run(eng.name+"/"+tb.name, func(t *testing.T) {
				var got *TableResult
				_, err := Run(context.Background(), Config{Source: eng.url, Target: eng.url, Tables: []string{"csrc." + tb.name}, TargetSchema: "cdst",
					ChunkRows: 100, Recheck: -1}, func(r *TableResult) { got = r })
				if err != nil {
					t.Fatal(err)
				}
				if got.narrowPeak == 0 || got.narrowPeak > 2*100 {
					t.Errorf("a narrowing held %d source rows, want 1–200 (chunks of 100)", got.narrowPeak)
				}
				if got.Err != nil || got.SourceRows != n || got.TargetRows != n+1 {
					t.Fatalf("result %+v", got)
				}
				want := map[string]DiffKind{"k=" + unquote(tb.first): Extra, "k=" + unquote(tb.last): Extra,
					"k=" + unquote(tb.key(n/2)): Missing, "k=" + unquote(tb.key(n/3)): Changed}
				for _, d := range got.Diffs {
					if want[d.Key] != d.Kind {
						t.Errorf("%s %s", d.Kind, d.Key)
					}
					delete(want, d.Key)
				}
				if len(want) > 0 {
					t.Errorf("not found: %v", want)
				}
			})
		}
		t.Run(eng.name+"/empty", func(t *testing.T) {
			var got *TableResult
			_, err := Run(context.Background(), Config{Source: eng.url, Target: eng.url, Tables: []string{"csrc.two"}, TargetSchema: "cdst", ChunkRows: 100},
				func(r *TableResult) { got = r })
			if err != nil || !got.Equal() || got.SourceRows != 0 {
				t.Fatalf("%v %+v", err, got)
			}
		})
	}
}
