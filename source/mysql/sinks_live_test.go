package mysql

import (
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/everytype"
	"github.com/sluice-cdc/sluice/internal/sinkcheck"
)

// TestEveryTypeIntoSinks streams the every-type table of
// TestEveryTypeEndToEnd (its rows, updates, a primary-key change and a
// delete) from a real MariaDB and writes the row changes through the
// Redis (stream, pubsub, hash as hashes and as JSON), NATS and HTTP sinks
// (internal/sinkcheck): every value arrives in each exactly as the source
// read it, which TestEveryTypeEndToEnd compares with SELECT.
func TestEveryTypeIntoSinks(t *testing.T) {
	full := "types.every_sinks"
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS types", "DROP TABLE IF EXISTS "+full,
		everytype.CreateTable(full))
	from := currentPosition(t, shared)
	cfg := testConfig(shared.Addr())
	cfg.GTID = true
	cfg.SchemaHistory = t.TempDir() + "/schema.jsonl"
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, src, from)
	stmts := append(everytype.Inserts(full, everyTypeRows()), everytype.Updates(full)...)
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
