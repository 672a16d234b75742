package postgres

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSnapshotKeyRanges: a table whose key is one integer column, with
// negative keys, gaps and outliers at both ends, is read by three workers
// in key ranges cut by ANALYZE's histogram (the log says so), and every
// row arrives once, in key order; a bigint key (no statistics: ranges of
// equal width) and a text key (read by one worker) too.
func TestSnapshotKeyRanges(t *testing.T) {
	exec(t, `DROP SCHEMA IF EXISTS ranges CASCADE`, `DROP PUBLICATION IF EXISTS ranges`, `CREATE SCHEMA ranges`,
		`CREATE TABLE ranges.i (id int PRIMARY KEY, v text)`,
		`INSERT INTO ranges.i SELECT g * 7 - 9000, 'r' || g FROM generate_series(0, 2999) g WHERE g % 11 <> 3`,
		`INSERT INTO ranges.i VALUES (2147483647, 'max'), (-2147483648, 'min')`,
		`CREATE TABLE ranges.b (id bigint PRIMARY KEY)`,
		`INSERT INTO ranges.b SELECT g::bigint * 1000000007 FROM generate_series(-1000, 1000) g`,
		`CREATE TABLE ranges.s (k text PRIMARY KEY)`,
		`INSERT INTO ranges.s SELECT 'k' || g FROM generate_series(1, 1000) g`,
		`ANALYZE ranges.i`)
	want := map[string][]string{
		"i": strings.Fields(queryText(t, `SELECT string_agg(id::text, ' ' ORDER BY id) FROM ranges.i`)),
		"b": strings.Fields(queryText(t, `SELECT string_agg(id::text, ' ' ORDER BY id) FROM ranges.b`)),
		"s": strings.Fields(queryText(t, `SELECT string_agg(k, ' ' ORDER BY k COLLATE "C") FROM ranges.s`)),
	}
	dropSlot(t, "ranges")
	cfg, err := ParseURL(sourceURL("slot=ranges&publication=ranges&create-publication=ranges.i,ranges.b,ranges.s&snapshot=only&snapshot-workers=3&snapshot-chunk=20"))
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.Logs
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	r := &running{src: src, col: col, done: make(chan struct{})}
	go func() {
		r.err = src.Stream(t.Context(), change.Position{}, col.emit)
		close(r.done)
	}()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the snapshot did not end")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := map[string][]string{}
	for _, c := range col.data() {
		if c.Op == change.OpRead {
			got[c.Table] = append(got[c.Table], string(change.AppendText(nil, c.After[0])))
		}
	}
	for table, keys := range want {
		if strings.Join(got[table], " ") != strings.Join(keys, " ") {
			t.Errorf("table %s: %d rows, want %d in key order", table, len(got[table]), len(keys))
		}
	}
	for _, table := range []string{"ranges.i", "ranges.b"} {
		if !strings.Contains(logs.String(), fmt.Sprintf("read a table in key ranges\" table=%s", table)) {
			t.Errorf("the log does not say table %s was read in key ranges:\n%s", table, logs.String())
		}
	}
	// Table i has outliers at both ends of int: ranges of equal width
	// would leave almost every row in one; ANALYZE's histogram cuts it
	// by rows.
	if lines := logs.Lines("key ranges", "table=ranges.i ", "cut_by=statistics"); len(lines) != 1 {
		t.Errorf("table i was not cut by its statistics:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "key ranges\" table=ranges.s") {
		t.Errorf("a text key was split into ranges:\n%s", logs.String())
	}
}
