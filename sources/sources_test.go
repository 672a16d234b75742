package sources_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/address"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/sources"
)

// collect calls Next until n row changes came, acknowledging each (and
// the DDL changes between them), and returns their "op id" texts.
func collect(t *testing.T, ctx context.Context, s *sluice.Stream, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		if !s.Next(ctx) {
			t.Fatalf("Next stopped after %d of %d changes: %v", len(got), n, s.Err())
		}
		c := s.Change()
		if c.Op != change.OpInsert && c.Op != change.OpUpdate && c.Op != change.OpDelete {
			if err := s.Ack(c); err != nil { // DDL
				t.Fatal(err)
			}
			continue
		}
		img := c.After
		if c.Op == change.OpDelete {
			img = c.Before
		}
		got = append(got, fmt.Sprintf("%s %s", c.Op, change.AppendText(nil, img[0])))
		if err := s.Ack(c); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// TestOpenLive uses the library as a program does — one blank import, then
// sluice.Open on a real server's URL, Next/Ack, Close — and checks that a
// second Open on the same state file resumes after the acknowledged
// changes: nothing repeated, nothing lost.
func TestOpenLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
		exec := func(stmts ...string) {
			t.Helper()
			if err := srv.Exec(ctx, stmts...); err != nil {
				t.Fatal(err)
			}
		}
		exec("CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))",
			"INSERT INTO app.t VALUES (1, 'a'), (2, 'b')", "UPDATE app.t SET v = 'B' WHERE id = 2")
		url := fmt.Sprintf("mariadb://%s:%s@%s/?server-id=9301", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, srv.Addr())
		state := filepath.Join(t.TempDir(), "state.db")
		open := func() *sluice.Stream {
			s, err := sluice.Open(ctx, url, sluice.WithStateFile(state), sluice.WithStart(source.StartEarliest),
				sluice.WithFilter(pipeline.FilterSpec{Include: `app\.t`}), sluice.WithCheckpointInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := open()
		equal(t, "first run", collect(t, ctx, s, 3), []string{"insert 1", "insert 2", "update 2"})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		exec("DELETE FROM app.t WHERE id = 1", "INSERT INTO app.t VALUES (3, 'c')")
		s = open()
		defer s.Close()
		equal(t, "after reopening", collect(t, ctx, s, 2), []string{"delete 1", "insert 3"})
	})

	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
		exec := func(stmts ...string) {
			t.Helper()
			if err := pg.Exec(ctx, "postgres", stmts...); err != nil {
				t.Fatal(err)
			}
		}
		exec(`CREATE TABLE t (id int PRIMARY KEY, v text)`, `CREATE PUBLICATION lib FOR ALL TABLES`,
			`SELECT pg_create_logical_replication_slot('lib', 'pgoutput')`,
			`INSERT INTO t VALUES (1, 'a'), (2, 'b')`, `UPDATE t SET v = 'B' WHERE id = 2`)
		url := pg.DSN("postgres") + "&slot=lib&publication=lib"
		state := filepath.Join(t.TempDir(), "state.db")
		open := func() *sluice.Stream {
			s, err := sluice.Open(ctx, url, sluice.WithStateFile(state), sluice.WithCheckpointInterval(0))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		s := open()
		equal(t, "first run", collect(t, ctx, s, 3), []string{"insert 1", "insert 2", "update 2"})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		exec(`DELETE FROM t WHERE id = 1`, `INSERT INTO t VALUES (3, 'c')`)
		s = open()
		defer s.Close()
		equal(t, "after reopening", collect(t, ctx, s, 2), []string{"delete 1", "insert 3"})
	})
}

// TestRegister checks the schemes the blank import registered and that a
// registry of one's own can be filled with them.
func TestRegister(t *testing.T) {
	have := map[string]bool{}
	for _, s := range source.Default().Schemes() {
		have[s] = true
	}
	for scheme := range sources.Schemes {
		if !have[scheme] {
			t.Errorf("default registry lacks %s", scheme)
		}
	}
	r := source.NewRegistry()
	if err := sources.Register(r); err != nil {
		t.Fatal(err)
	}
	if err := sources.Register(r); err == nil {
		t.Error("registering twice: no error")
	}
	_, err := source.Open(context.Background(), r, "mysql://u:secret@127.0.0.1:1/?server-id=x", source.Config{})
	if err == nil || errors.Is(err, address.ErrUnknownScheme) || err.Error() != `source mysql://u:***@127.0.0.1:1/?server-id=x: parameter server-id="x": want an integer from 1 to 4294967295` {
		t.Errorf("bad server-id: %v", err)
	}
}
