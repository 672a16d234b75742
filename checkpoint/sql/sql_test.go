package sql

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/checkpoint/storetest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

var (
	maria *testenv.MariaDB
	pg    *testenv.Postgres
)

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		var err error
		if maria, pg, err = testenv.StartMariaDBAndPostgres(ctx, c); err != nil {
			return err
		}
		if err := maria.Exec(ctx, "CREATE DATABASE state"); err != nil {
			return err
		}
		return pg.Exec(ctx, "postgres", "CREATE SCHEMA state")
	})
}

// urls are the two databases' URLs for table (the MariaDB one in
// database state, the PostgreSQL one in schema state).
func urls(table string) map[string]string {
	return map[string]string{
		"mariadb":  fmt.Sprintf("mysql://%s:%s@%s/state?table=%s&tls=off", testenv.MariaDBRootUser, testenv.MariaDBRootPassword, maria.Addr(), table),
		"postgres": fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&table=state.%s", testenv.PostgresUser, testenv.PostgresPassword, pg.Addr(), table),
	}
}

func open(t *testing.T, raw string) *Store {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var tables atomic.Int64

func TestContract(t *testing.T) {
	for _, db := range []string{"mariadb", "postgres"} {
		t.Run(db, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) checkpoint.Store {
				return open(t, urls(fmt.Sprintf("cp%d", tables.Add(1)))[db])
			})
		})
	}
}

// TestRows: the row a save writes is what the documentation says, in the
// database's own terms.
func TestRows(t *testing.T) {
	ctx := context.Background()
	for db, raw := range urls("rows") {
		t.Run(db, func(t *testing.T) {
			s := open(t, raw)
			p := change.Position{Flavor: change.FlavorBinlog, File: "bin.000002", Offset: 77, Index: 3}
			if err := s.Save(ctx, "p1", p); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Fence(ctx, "p1", checkpoint.Fence{Token: 12, Owner: "host-b"}); err != nil {
				t.Fatal(err)
			}
			var pos, owner string
			var epoch int64
			err := s.db.QueryRowContext(ctx, "SELECT position, epoch, owner FROM "+s.table+" WHERE pipeline = "+s.d.q(1), "p1").Scan(&pos, &epoch, &owner)
			if err != nil {
				t.Fatal(err)
			}
			if pos != "binlog:bin.000002:77#3" || epoch != 12 || owner != "host-b" {
				t.Fatalf("row = %q %d %q", pos, epoch, owner)
			}
		})
	}
}

// TestSinkShapedTable: a table of the SQL sink's shape (no fence columns)
// gets them added and serves as a store.
func TestSinkShapedTable(t *testing.T) {
	ctx := context.Background()
	if err := maria.Exec(ctx, "CREATE TABLE state.sinkshape (pipeline VARCHAR(191) NOT NULL PRIMARY KEY, position TEXT NOT NULL, ddl TEXT NULL, updated_at DATETIME(6) NOT NULL)",
		"INSERT INTO state.sinkshape VALUES ('sinks-own', 'binlog:b.000001:4', NULL, NOW(6))"); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE TABLE state.sinkshape (pipeline text PRIMARY KEY, position text NOT NULL, ddl text, updated_at timestamptz(6) NOT NULL)",
		"INSERT INTO state.sinkshape VALUES ('sinks-own', 'binlog:b.000001:4', NULL, now())"); err != nil {
		t.Fatal(err)
	}
	for db, raw := range urls("sinkshape") {
		t.Run(db, func(t *testing.T) {
			s := open(t, raw)
			if got, err := s.Load(ctx, "sinks-own"); err != nil || got.Offset != 4 {
				t.Fatalf("Load of the sink's row = %+v, %v", got, err)
			}
			f, err := s.Fence(ctx, "p", checkpoint.Fence{Token: 5, Owner: "a"})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Save(ctx, "p", change.Position{Flavor: change.FlavorLSN, Offset: 9}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadURLs(t *testing.T) {
	for raw, want := range map[string]string{
		"mysql://u:pw-secret@127.0.0.1:1/":                 "no database",
		"mysql://u:pw-secret@127.0.0.1:1/db?bogus=1":       "bogus",
		"mysql://u:pw-secret@127.0.0.1:1/db?table=a.b.c":   "table",
		"mysql://u:pw-secret@127.0.0.1:1/db?tls=maybe":     "tls",
		"postgres://u:pw-secret@127.0.0.1:1/db?table=.x":   "table",
		"postgres://u:pw-secret@127.0.0.1:1/db?sslmode=x":  "sslmode",
		"mysql://u:pw-secret@127.0.0.1:1/db?timeout=300ms": "connect",
	} {
		u, _ := url.Parse(raw)
		_, err := Open(context.Background(), u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error about %s", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("Open(%s) shows the password: %v", raw, err)
		}
	}
}

// TestTokenRange: a token past the signed 64-bit column is refused, not
// wrapped.
func TestTokenRange(t *testing.T) {
	s := open(t, urls("range")["postgres"])
	_, err := s.Fence(context.Background(), "p", checkpoint.Fence{Token: 1 << 63, Owner: "a"})
	if err == nil || errors.Is(err, checkpoint.ErrFenced) {
		t.Fatalf("Fence with token 2^63: %v, want a range error", err)
	}
}
