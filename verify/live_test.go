package verify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
		errs := make(chan error, 2)
		go func() {
			var err error
			maria, err = testenv.StartMariaDB(ctx, testenv.MariaDBOptions{})
			if err == nil {
				c.Add(func() { maria.Close() })
			}
			errs <- err
		}()
		go func() {
			var err error
			pg, err = testenv.StartPostgres(ctx, testenv.PostgresOptions{})
			if err == nil {
				c.Add(func() { pg.Close() })
			}
			errs <- err
		}()
		return errors.Join(<-errs, <-errs)
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
