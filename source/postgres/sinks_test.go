package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sinkcheck"
)

// TestEveryTypeIntoSinks inserts a row of every type of
// TestTypesAndReplicaIdentity, updates it leaving a TOASTed column alone
// (an after image with an unchanged value), changes its primary key and
// deletes it, and writes the changes through the Redis (stream, pubsub,
// hash as hashes and as JSON), NATS and HTTP sinks
// (internal/sinkcheck): every value arrives in each exactly as the source
// read it, which TestTypesAndReplicaIdentity checks against the literals
// and SELECT; the Redis mirror keeps the TOASTed column through the
// update and follows the key change.
func TestEveryTypeIntoSinks(t *testing.T) {
	// The types of typeCases, which TestTypesAndReplicaIdentity creates
	// too: made here if missing, dropped after the test.
	exec(t,
		`DO $$ BEGIN CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`DO $$ BEGIN CREATE DOMAIN posint AS integer CHECK (VALUE > 0); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`DO $$ BEGIN CREATE TYPE pair AS (a int, b text); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
	)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pg := server(t)
		pg.Exec(ctx, "postgres", `DROP TABLE IF EXISTS every_sinks`)
		// Fails, harmlessly, while other tables use the types.
		pg.Exec(ctx, "postgres", `DROP TYPE IF EXISTS mood, pair`, `DROP DOMAIN IF EXISTS posint`)
	})
	cases := typeCases()
	var cols, lits []string
	for i, c := range cases {
		cols = append(cols, fmt.Sprintf("c%d %s", i, c.typ))
		lits = append(lits, c.lit)
	}
	toast := `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)`
	exec(t, fmt.Sprintf(`CREATE TABLE every_sinks (id int PRIMARY KEY, k int NOT NULL, n int, big text, %s)`, strings.Join(cols, ", ")))
	dropSlot(t, "sinks")
	r := start(t, "slot=sinks&publication=sinks&create-publication=every_sinks", change.Position{})
	exec(t,
		fmt.Sprintf(`INSERT INTO every_sinks VALUES (1, 100, 5, %s, %s)`, toast, strings.Join(lits, ", ")),
		fmt.Sprintf(`INSERT INTO every_sinks VALUES (2, 200, NULL, 'small', %s)`, strings.Join(lits, ", ")),
		`UPDATE every_sinks SET n = 6 WHERE id = 1`,
		`UPDATE every_sinks SET id = 10, n = 7 WHERE id = 1`,
		`DELETE FROM every_sinks WHERE id = 2`,
	)
	got := r.col.waitCommits(t, 5, r)
	changes := rows(got, "every_sinks")
	if len(changes) != 5 {
		t.Fatalf("%d changes, want 5", len(changes))
	}
	if v := changes[2].After[3]; v.Kind != change.KindUnchanged {
		t.Fatalf("the update's TOASTed column is %v, want unchanged", v.Kind)
	}
	sinkcheck.EveryType(t, changes)
}
