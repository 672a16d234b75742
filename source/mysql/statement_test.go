package mysql

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// statements renders the changes other than begin, commit and heartbeat
// as "op sql" ("op db.table" for rows).
func statements(cs []change.Change) []string {
	var out []string
	for _, c := range data(cs, "") {
		s := c.Op.String() + " "
		if c.SQL != "" {
			s += c.SQL
		} else {
			s += c.Database + "." + c.Table
		}
		out = append(out, s)
	}
	return out
}

// TestStatementFormat streams from a server with binlog_format=STATEMENT:
// by default the source refuses it at connect with ErrBinlogFormat (not
// retried, and the error says what to set and how to opt in); with
// allow-statement=on, DML arrives as statement changes and DDL as ddl.
func TestStatementFormat(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{ExtraConfig: []string{"binlog_format=STATEMENT"}})
	exec(t, srv, "CREATE DATABASE app", "CREATE TABLE app.s (id INT PRIMARY KEY, a VARCHAR(10))")
	from := currentPosition(t, srv)

	src, err := New(testConfig(srv.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	err = src.Stream(ctx, from, func([]change.Change) error { return nil })
	if !errors.Is(err, ErrBinlogFormat) {
		t.Fatalf("Stream on a STATEMENT server: %v, want ErrBinlogFormat", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Stream took %v to refuse: was the error retried?", d)
	}
	for _, want := range []string{srv.Addr(), "it is STATEMENT", "SET GLOBAL binlog_format=ROW", "binlog_row_image=FULL", "allow-statement=on"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	cfg, err := ParseURL("mysql://" + testenv.MariaDBReplUser + ":" + testenv.MariaDBReplPassword + "@" + srv.Addr() + "/?server-id=7002&allow-statement=on&heartbeat=500ms")
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.Logs
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	src, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, src, from)
	exec(t, srv, "INSERT INTO app.s VALUES (1, 'x'), (2, 'y')", "/* by app */ UPDATE app.s SET a = 'z' WHERE id = 1",
		"ALTER TABLE app.s ADD COLUMN b INT", "DELETE FROM app.s WHERE id = 2", "TRUNCATE TABLE app.s")
	got := col.waitFor(t, 20*time.Second, "5 changes", func(cs []change.Change) bool { return len(data(cs, "")) >= 5 })
	col.stop()
	checkTransactions(t, got)
	want := []string{
		"statement INSERT INTO app.s VALUES (1, 'x'), (2, 'y')",
		"statement /* by app */ UPDATE app.s SET a = 'z' WHERE id = 1",
		"ddl ALTER TABLE app.s ADD COLUMN b INT",
		"statement DELETE FROM app.s WHERE id = 2",
		"truncate TRUNCATE TABLE app.s",
	}
	if g := statements(got); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range data(got, "") {
		if c.Op == change.OpStatement && (c.Before != nil || c.After != nil || !c.Tx.Last || c.Source != "mariadb") {
			t.Errorf("statement change %+v: want no images, Tx.Last, source mariadb", c)
		}
	}
	if !strings.Contains(logs.String(), "binlog_format is not ROW") {
		t.Errorf("no warning about binlog_format in the log:\n%s", logs.String())
	}
}

// TestStatementInRowBinlog checks that on a ROW server, DML a session logs
// as a statement (SET SESSION binlog_format=STATEMENT) is delivered as a
// statement change with a warning, not dropped.
func TestStatementInRowBinlog(t *testing.T) {
	exec(t, shared, "CREATE DATABASE sessfmt", "CREATE TABLE sessfmt.t (id INT PRIMARY KEY)")
	from := currentPosition(t, shared)
	cfg := testConfig(shared.Addr())
	var logs testenv.Logs
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, src, from)
	db, err := shared.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION binlog_format=STATEMENT", "INSERT INTO sessfmt.t VALUES (1)",
		"SET SESSION binlog_format=ROW", "INSERT INTO sessfmt.t VALUES (2)"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	got := col.waitFor(t, 20*time.Second, "2 changes", func(cs []change.Change) bool { return len(data(cs, "")) >= 2 })
	col.stop()
	want := []string{"statement INSERT INTO sessfmt.t VALUES (1)", "insert sessfmt.t"}
	if g := statements(got); strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(logs.String(), "the binlog holds DML as SQL text") {
		t.Errorf("no warning about the statement in the log:\n%s", logs.String())
	}
}
