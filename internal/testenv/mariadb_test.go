package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"
)

// rowsEvents parses a closed binary log file with go-mysql's parser (an
// independent decoder) and returns its table maps and rows events for table.
func rowsEvents(t *testing.T, path, table string) ([]*replication.TableMapEvent, []*replication.RowsEvent) {
	t.Helper()
	p := replication.NewBinlogParser()
	p.SetFlavor("mariadb")
	var maps []*replication.TableMapEvent
	var rows []*replication.RowsEvent
	err := p.ParseFile(path, 0, func(e *replication.BinlogEvent) error {
		switch ev := e.Event.(type) {
		case *replication.TableMapEvent:
			if string(ev.Table) == table {
				maps = append(maps, ev)
			}
		case *replication.RowsEvent:
			if string(ev.Table.Table) == table {
				rows = append(rows, ev)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return maps, rows
}

// writeAndFlush creates a table, inserts and updates one row, flushes the
// binary log and returns the path of the closed file holding the changes.
func writeAndFlush(t *testing.T, s *MariaDB, db, table string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := s.FlushBinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Exec(ctx,
		"CREATE DATABASE IF NOT EXISTS "+db,
		"USE "+db,
		"CREATE TABLE "+table+" (id INT PRIMARY KEY, name VARCHAR(20), n INT)",
		"INSERT INTO "+table+" VALUES (1, 'a', 10)",
		"UPDATE "+table+" SET name = 'b' WHERE id = 1",
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FlushBinaryLogs(ctx); err != nil {
		t.Fatal(err)
	}
	return before[len(before)-1].Path
}

func TestMariaDBFullRowEvents(t *testing.T) {
	s := sharedMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"log_bin":             "ON",
		"binlog_format":       "ROW",
		"binlog_row_image":    "FULL",
		"binlog_row_metadata": "FULL",
		"gtid_strict_mode":    "ON",
		"log_slave_updates":   "ON",
		"server_id":           fmt.Sprint(s.ServerID()),
		"port":                fmt.Sprint(s.Port()),
		"bind_address":        "127.0.0.1",
		"log_bin_basename":    s.BinlogDir() + "/mariadb-bin",
	}
	for name, value := range want {
		t.Run(name, func(t *testing.T) {
			var v string
			q := "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = UPPER(?)"
			if err := db.QueryRowContext(ctx, q, name).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != value {
				t.Errorf("%s = %q, want %q", name, v, value)
			}
		})
	}

	path := writeAndFlush(t, s, "full_db", "full_t")
	maps, rows := rowsEvents(t, path, "full_t")
	if len(maps) == 0 || len(rows) != 2 {
		t.Fatalf("got %d table maps and %d rows events, want >0 and 2", len(maps), len(rows))
	}
	if got := maps[0].ColumnNameString(); !slices.Equal(got, []string{"id", "name", "n"}) {
		t.Errorf("table map column names = %q, want full metadata [id name n]", got)
	}
	update := rows[1]
	for i, skipped := range update.SkippedColumns {
		if len(skipped) != 0 {
			t.Errorf("full image: update row image %d skips columns %v", i, skipped)
		}
	}

	var gtid string
	if err := db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gtid, fmt.Sprintf("0-%d-", s.ServerID())) {
		t.Errorf("gtid_binlog_pos = %q, want 0-%d-N", gtid, s.ServerID())
	}
}

func TestMariaDBMinimalRowEvents(t *testing.T) {
	s := NewMariaDB(t, MariaDBOptions{RowImage: "MINIMAL", RowMetadata: "MINIMAL"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	var image, meta string
	if err := db.QueryRowContext(ctx, "SELECT @@binlog_row_image, @@binlog_row_metadata").Scan(&image, &meta); err != nil {
		t.Fatal(err)
	}
	if image != "MINIMAL" || meta != "MINIMAL" {
		t.Fatalf("binlog_row_image=%s binlog_row_metadata=%s, want MINIMAL MINIMAL", image, meta)
	}
	if s.ServerID() == sharedMariaDB(t).ServerID() {
		t.Errorf("two servers share server_id %d", s.ServerID())
	}
	path := writeAndFlush(t, s, "min_db", "min_t")
	maps, rows := rowsEvents(t, path, "min_t")
	if len(maps) == 0 || len(rows) != 2 {
		t.Fatalf("got %d table maps and %d rows events, want >0 and 2", len(maps), len(rows))
	}
	if got := maps[0].ColumnNameString(); len(got) != 0 {
		t.Errorf("minimal metadata logged column names %q", got)
	}
	update := rows[1]
	if len(update.SkippedColumns) != 2 {
		t.Fatalf("update has %d row images, want 2", len(update.SkippedColumns))
	}
	if got := update.SkippedColumns[0]; !slices.Equal(got, []int{1, 2}) {
		t.Errorf("minimal before image skips %v, want [1 2] (key only)", got)
	}
	if got := update.SkippedColumns[1]; !slices.Equal(got, []int{0, 2}) {
		t.Errorf("minimal after image skips %v, want [0 2] (changed column only)", got)
	}
}

func TestMariaDBExtraConfig(t *testing.T) {
	s := NewMariaDB(t, MariaDBOptions{RowMetadata: "NO_LOG", ExtraConfig: []string{"binlog_checksum=NONE"}})
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	var checksum, meta string
	if err := db.QueryRow("SELECT @@binlog_checksum, @@binlog_row_metadata").Scan(&checksum, &meta); err != nil {
		t.Fatal(err)
	}
	if checksum != "NONE" || meta != "NO_LOG" {
		t.Errorf("binlog_checksum=%s binlog_row_metadata=%s, want NONE NO_LOG", checksum, meta)
	}
}

func TestMariaDBReplUser(t *testing.T) {
	s := sharedMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS repl_db", "CREATE TABLE IF NOT EXISTS repl_db.t (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	repl, err := sql.Open("mysql", s.ReplDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer repl.Close()
	tests := []struct {
		query  string
		denied bool
	}{
		{"SHOW BINARY LOGS", false},
		{"SHOW MASTER STATUS", false},
		{"SELECT COUNT(*) FROM repl_db.t", false},
		{"SELECT @@gtid_binlog_pos", false},
		{"INSERT INTO repl_db.t VALUES (1)", true},
		{"CREATE DATABASE repl_denied", true},
		{"FLUSH BINARY LOGS", true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rows, err := repl.QueryContext(ctx, tt.query)
			if err == nil {
				rows.Close()
			}
			var me *mysql.MySQLError
			switch {
			case tt.denied && err == nil:
				t.Errorf("replication user may run %q", tt.query)
			case tt.denied && !errors.As(err, &me):
				t.Errorf("%q: want an access error, got %v", tt.query, err)
			case !tt.denied && err != nil:
				t.Errorf("%q: %v", tt.query, err)
			}
		})
	}
}

// TestMariaDBReplDump streams the binary log over the replication protocol
// as the replication user.
func TestMariaDBReplDump(t *testing.T) {
	s := sharedMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs, err := s.BinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "CREATE DATABASE IF NOT EXISTS dump_db", "CREATE TABLE dump_db.t (id INT PRIMARY KEY)", "INSERT INTO dump_db.t VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: s.ServerID() + 1000,
		Flavor:   "mariadb",
		Host:     "127.0.0.1",
		Port:     uint16(s.Port()),
		User:     MariaDBReplUser,
		Password: MariaDBReplPassword,
		Logger:   slogDiscard(),
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(gomysql.Position{Name: logs[len(logs)-1].Name, Pos: 4})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("no rows event for dump_db.t over replication: %v", err)
		}
		if rows, ok := ev.Event.(*replication.RowsEvent); ok && string(rows.Table.Table) == "t" && string(rows.Table.Schema) == "dump_db" {
			if len(rows.Rows) != 1 || rows.Rows[0][0] != int32(7) {
				t.Errorf("rows event has %v, want [[7]]", rows.Rows)
			}
			return
		}
	}
}

func TestMariaDBClients(t *testing.T) {
	s := sharedMariaDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, err := s.ClientCmd(ctx, "--batch", "--skip-column-names", "-e", "SELECT @@port")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprint(s.Port()) {
		t.Errorf("mariadb client printed %q, want port %d", got, s.Port())
	}

	path := writeAndFlush(t, s, "client_db", "client_t")
	cmd, err = s.BinlogCmd(ctx, "--base64-output=decode-rows", "--verbose", path)
	if err != nil {
		t.Fatal(err)
	}
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb-binlog: %v\n%s", err, out)
	}
	for _, want := range []string{"### INSERT INTO `client_db`.`client_t`", "### UPDATE `client_db`.`client_t`", "GTID 0-"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("mariadb-binlog output lacks %q", want)
		}
	}
}

func TestMariaDBRestart(t *testing.T) {
	s := NewMariaDB(t, MariaDBOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Exec(ctx, "CREATE DATABASE r", "CREATE TABLE r.t (id INT PRIMARY KEY)", "INSERT INTO r.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB(); err == nil {
		t.Error("DB on a stopped server did not fail")
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Exec(ctx, "INSERT INTO r.t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, s.Addr())
	}
	db, err := s.DB()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM r.t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("after restarts the table has %d rows, want 2", n)
	}
	logs, err := s.BinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) < 3 {
		t.Errorf("after two restarts there are %d binary logs, want at least 3", len(logs))
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
