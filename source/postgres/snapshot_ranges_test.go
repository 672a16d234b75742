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

// TestSnapshotChunksUseTheKeyIndex: on a server where random reads look
// dear (random_page_cost 10000), the planner would read a chunk by
// sorting the whole table; the snapshot's sessions forbid sorting, so the
// chunks come from the key's index and the table is never scanned whole.
func TestSnapshotChunksUseTheKeyIndex(t *testing.T) {
	exec(t, `DROP SCHEMA IF EXISTS sorting CASCADE`, `DROP PUBLICATION IF EXISTS sorting`, `CREATE SCHEMA sorting`,
		`CREATE TABLE sorting.t (id int PRIMARY KEY, v text)`,
		`INSERT INTO sorting.t SELECT g, 'r' || g FROM (SELECT g FROM generate_series(1, 3000) g ORDER BY random()) s`,
		`ANALYZE sorting.t`, `ALTER DATABASE postgres SET random_page_cost = 10000`)
	t.Cleanup(func() { exec(t, `ALTER DATABASE postgres RESET random_page_cost`) })
	if plan := queryText(t, `SELECT current_setting('random_page_cost')`); plan != "10000" {
		t.Fatalf("random_page_cost %s", plan)
	}
	scans := func() (seq, idx string) {
		return queryText(t, `SELECT seq_scan::text FROM pg_stat_user_tables WHERE relid = 'sorting.t'::regclass`),
			queryText(t, `SELECT coalesce(idx_scan, 0)::text FROM pg_stat_user_tables WHERE relid = 'sorting.t'::regclass`)
	}
	seq0, idx0 := scans()
	dropSlot(t, "sorting")
	cfg, err := ParseURL(sourceURL("slot=sorting&publication=sorting&create-publication=sorting.t&snapshot=only&snapshot-chunk=1000"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	if err := src.Stream(t.Context(), change.Position{}, col.emit); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, c := range col.data() {
		if c.Op == change.OpRead {
			rows++
		}
	}
	if rows != 3000 {
		t.Fatalf("%d rows, want 3000", rows)
	}
	// The workers' statistics reach the table's counters when their
	// sessions end.
	deadline := time.Now().Add(15 * time.Second)
	for {
		seq, idx := scans()
		if idx != idx0 {
			if seq != seq0 {
				t.Errorf("the snapshot scanned the table whole: seq_scan %s -> %s (idx_scan %s -> %s)", seq0, seq, idx0, idx)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no index scan counted: seq_scan %s -> %s, idx_scan %s -> %s", seq0, seq, idx0, idx)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
