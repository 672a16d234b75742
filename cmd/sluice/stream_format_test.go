package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
)

// TestStreamFormats runs "sluice stream --format …" against a real MariaDB
// into a file, as a user types it, for every format: each line is one
// JSON message of that format, and debezium's transaction metadata turns
// on begin and commit by itself (its BEGIN and END events are in the file
// without --begin-commit).
func TestStreamFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, `CREATE DATABASE shop`, `CREATE TABLE shop.t (id int PRIMARY KEY, name varchar(10), price decimal(8,2))`,
		`BEGIN`, `INSERT INTO shop.t VALUES (1, 'a', 1.50), (2, 'b', 2.00)`, `UPDATE shop.t SET name = 'B' WHERE id = 2`, `DELETE FROM shop.t WHERE id = 1`, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	var file, doDB, ignoreDB string
	var pos int64
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatal(err)
	}
	stopAt := file + ":" + itoa64(pos)
	srcURL := "mysql://" + testenv.MariaDBReplUser + ":" + testenv.MariaDBReplPassword + "@" + srv.Addr() + "/?server-id=4244"

	for _, tc := range []struct {
		format string
		want   []string // a substring of each line, in order
	}{
		{"sluice", []string{`"op":"insert"`, `"op":"insert"`, `"op":"update"`, `"op":"delete"`}},
		{"debezium", []string{`"op":"c"`, `"op":"c"`, `"op":"u"`, `"op":"d"`}},
		{"debezium?provide.transaction.metadata=true", []string{`"status":"BEGIN"`, `"total_order":1`, `"total_order":2`, `"total_order":3`,
			`"total_order":4`, `"status":"END","id":`}},
		{"maxwell", []string{`"type":"insert"`, `"type":"insert"`, `"type":"update"`, `"type":"delete","ts":`}},
		{"canal-json", []string{`"type":"INSERT"`, `"type":"INSERT"`, `"type":"UPDATE"`, `"type":"DELETE"`}},
		{"cloudevents", []string{`"type":"io.sluice.change.insert"`, `"type":"io.sluice.change.insert"`, `"type":"io.sluice.change.update"`, `"type":"io.sluice.change.delete"`}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.jsonl")
			var logs bytes.Buffer
			e := &env{Stdout: &bytes.Buffer{}, Stderr: &logs}
			err := streamWith(ctx, e, []string{srcURL, "--to", "file://" + out, "--state", filepath.Join(dir, "state.db"),
				"--from", "earliest", "--include", `shop\.t`, "--format", tc.format, "--stop-at", stopAt}, source.Default(), sinks.Builtin())
			if err != nil {
				t.Fatalf("%v\n%s", err, logs.String())
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if !json.Valid([]byte(l)) {
					t.Fatalf("line is not JSON: %s", l)
				}
				if strings.Contains(l, `ALTER`) || strings.Contains(l, `CREATE`) || strings.Contains(l, `"ddl"`) {
					continue // the DDL of the setup, in formats that show it
				}
				lines = append(lines, l)
			}
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), data)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d lacks %s:\n%s", i+1, w, lines[i])
				}
			}
		})
	}
}
