package mysql

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sinkcheck"
)

// TestEveryTypeIntoSinks streams the every-type table of
// TestEveryTypeEndToEnd (its rows, updates, a primary-key change and a
// delete) from a real MariaDB and writes the row changes through the
// Redis (stream, pubsub, hash as hashes and as JSON), NATS and HTTP sinks
// (internal/sinkcheck): every value arrives in each exactly as the source
// read it, which TestEveryTypeEndToEnd compares with SELECT.
func TestEveryTypeIntoSinks(t *testing.T) {
	cols, rows := everyTypeColumns(), everyTypeRows()
	var defs, names []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.def)
		names = append(names, c.name)
	}
	full := "types.every_sinks"
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS types", "DROP TABLE IF EXISTS "+full,
		"CREATE TABLE "+full+" ("+strings.Join(defs, ", ")+", PRIMARY KEY (id))")
	from := currentPosition(t, shared)
	cfg := testConfig(shared.Addr())
	cfg.GTID = true
	cfg.SchemaHistory = t.TempDir() + "/schema.jsonl"
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, src, from)
	var stmts []string
	for _, r := range rows {
		stmts = append(stmts, "INSERT INTO "+full+" ("+strings.Join(names, ", ")+") VALUES ("+strings.Join(r, ", ")+")")
	}
	stmts = append(stmts,
		"UPDATE "+full+" SET vc = CONCAT(LEFT(vc, 299), '!'), d1 = -d1, ts = '2001-01-01 00:00:00', js = JSON_SET(js, '$.b.c', 42), i6 = '::10.1.2.3', uu = '6ccd780c-baba-1026-9564-5b8c656024db', bn = x'01' WHERE id = 1",
		"UPDATE "+full+" SET id = 30, ti = -1 WHERE id = 3",
		"DELETE FROM "+full+" WHERE id = 2")
	exec(t, shared, stmts...)
	got := col.waitFor(t, 30*time.Second, "7 row changes", countData("every_sinks", 7))
	var changes []change.Change
	for _, c := range data(got, "every_sinks") {
		if c.Op >= change.OpInsert && c.Op <= change.OpDelete {
			changes = append(changes, c)
		}
	}
	sinkcheck.EveryType(t, changes)
}
