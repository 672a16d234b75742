package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestEventsMatchServer checks `sluice binlog events` against the server's
// own SHOW BINLOG EVENTS, byte for byte, on binlogs with DDL, row events of
// every kind, multi-statement transactions, a non-transactional table,
// user variables in statements and a rotation.
func TestEventsMatchServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	stmts := []string{
		"CREATE DATABASE `we``ird`",
		"CREATE TABLE `we``ird`.t (id INT PRIMARY KEY, v VARCHAR(20), b BLOB) ENGINE=InnoDB",
		"CREATE TABLE `we``ird`.m (id INT PRIMARY KEY) ENGINE=MyISAM",
		"INSERT INTO `we``ird`.t VALUES (1, 'a\tb', x'00'), (2, 'line\nbreak', NULL)",
		"INSERT INTO `we``ird`.m VALUES (1), (2)",
		"UPDATE `we``ird`.t SET v = CONCAT(v, '\\\\') WHERE id = 1",
		"FLUSH BINARY LOGS",
		"DELETE FROM `we``ird`.t WHERE id = 2",
		"SET @x = 5",
		"INSERT INTO `we``ird`.t VALUES (@x, 'five', REPEAT('z', 20000))",
		"CREATE TABLE `we``ird`.a (id INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO `we``ird`.a VALUES (NULL), (NULL)",
		"DROP TABLE `we``ird`.m",
	}
	if err := srv.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
	// A multi-statement transaction on one connection.
	if err := srv.Exec(ctx, "BEGIN", "INSERT INTO `we``ird`.t VALUES (10, 'x', NULL)",
		"UPDATE `we``ird`.t SET v = 'y' WHERE id = 10", "DELETE FROM `we``ird`.t WHERE id = 1", "COMMIT"); err != nil {
		t.Fatal(err)
	}
	logs, err := srv.FlushBinaryLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs[:len(logs)-1] {
		cmd, err := srv.ClientCmd(ctx, "-B", "-e", "SHOW BINLOG EVENTS IN '"+l.Name+"'")
		if err != nil {
			t.Fatal(err)
		}
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("SHOW BINLOG EVENTS IN '%s': %v", l.Name, err)
		}
		var stdout, stderr bytes.Buffer
		e := &env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
		if code := run(ctx, e, []string{"binlog", "events", l.Path}); code != exitOK {
			t.Fatalf("sluice binlog events %s: exit %d: %s", l.Path, code, stderr.String())
		}
		got := stdout.String()
		if got != string(want) {
			gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
			for i := 0; i < max(len(gl), len(wl)); i++ {
				var g, w string
				if i < len(gl) {
					g = gl[i]
				}
				if i < len(wl) {
					w = wl[i]
				}
				if g != w {
					t.Errorf("%s line %d:\n sluice: %q\n server: %q", l.Name, i+1, g, w)
				}
			}
		}
	}
}
