package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// TestStreamedTransactions: with logical_decoding_work_mem at 64kB the
// server streams big transactions while they run. Only committed rows may
// arrive: a subtransaction rolled back to its savepoint and a transaction
// rolled back whole deliver nothing, a small transaction committed while a
// big one runs arrives first and whole, and with memory-bytes tiny the big
// transaction goes through the spill file.
func TestStreamedTransactions(t *testing.T) {
	exec(t, `CREATE TABLE big (id int PRIMARY KEY, tag text, pad text)`)
	dropSlot(t, "big")
	r := start(t, "slot=big&publication=big&create-publication=big&memory-bytes=8192", change.Position{})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c1, err := pg.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close(context.Background())
	run := func(sql string) {
		t.Helper()
		if _, err := c1.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	pad := "repeat('x', 200)"
	// A transaction rolled back whole after streaming.
	run("BEGIN")
	run(fmt.Sprintf(`INSERT INTO big SELECT g, 'aborted', %s FROM generate_series(100001, 103000) g`, pad))
	run("ROLLBACK")
	// A big transaction with a rolled-back and a kept subtransaction, and a
	// small transaction committing in the middle of it.
	run("BEGIN")
	run(fmt.Sprintf(`INSERT INTO big SELECT g, 'kept', %s FROM generate_series(1, 2000) g`, pad))
	run("SAVEPOINT s1")
	run(fmt.Sprintf(`INSERT INTO big SELECT g, 'rolled', %s FROM generate_series(2001, 3000) g`, pad))
	run("SAVEPOINT s2") // nested inside the rolled-back one
	run(fmt.Sprintf(`INSERT INTO big SELECT g, 'rolled', %s FROM generate_series(3001, 3500) g`, pad))
	run("ROLLBACK TO SAVEPOINT s1")
	run("SAVEPOINT s3")
	run(fmt.Sprintf(`INSERT INTO big SELECT g, 'kept', %s FROM generate_series(4001, 5000) g`, pad))
	run("RELEASE SAVEPOINT s3")
	exec(t, `INSERT INTO big VALUES (0, 'small', 'x')`)
	run(`UPDATE big SET tag = 'kept2' WHERE id BETWEEN 1 AND 10`)
	run("COMMIT")

	got := r.col.waitCommits(t, 2, r)
	rs := rows(got, "big")
	if len(rs) == 0 || rs[0].Op != change.OpInsert || string(rs[0].After[1].B) != "small" {
		t.Fatalf("first row is not the small transaction's: %+v", rs[:min(1, len(rs))])
	}
	seen := make(map[int64]bool)
	updates := 0
	for _, c := range rs[1:] {
		switch c.Op {
		case change.OpInsert:
			id := c.After[0].I
			if tag := string(c.After[1].B); tag != "kept" {
				t.Fatalf("row %d with tag %q delivered", id, tag)
			}
			if seen[id] {
				t.Fatalf("row %d delivered twice", id)
			}
			seen[id] = true
		case change.OpUpdate:
			updates++
		}
	}
	if len(seen) != 3000 || updates != 10 {
		t.Fatalf("delivered %d inserts and %d updates, want 3000 and 10", len(seen), updates)
	}
	for id := int64(1); id <= 5000; id++ {
		want := id <= 2000 || id > 4000
		if seen[id] != want {
			t.Fatalf("row %d delivered=%v, want %v", id, seen[id], want)
		}
	}
	// The big transaction is one transaction: one begin, indexes in order, one last row.
	var big []change.Change
	for _, c := range got {
		if c.Tx.ID == rs[1].Tx.ID {
			big = append(big, c)
		}
	}
	if big[0].Op != change.OpBegin || big[len(big)-1].Op != change.OpCommit || !big[len(big)-2].Tx.Last {
		t.Fatalf("big transaction framing: first %v last %v", big[0].Op, big[len(big)-1].Op)
	}
	for i, c := range big[:len(big)-1] {
		if c.Tx.Index != uint64(i) || c.Pos.Index != uint64(i+1) {
			t.Fatalf("change %d has tx index %d position %v", i, c.Tx.Index, c.Pos)
		}
	}
	st := r.src.Stats()
	if !st.Streaming || st.Streamed < 1 || st.Spilled < 1 {
		t.Fatalf("stats %+v: want the big transaction streamed and spilled", st)
	}
	t.Logf("stats: %+v", st)
	r.stop(t)

	// Restart in the middle of the streamed transaction: the server streams
	// it again from its first block; exactly the tail arrives.
	k := 0
	for i, c := range got {
		if c.Tx.ID == rs[1].Tx.ID && c.Tx.Index == 1500 {
			k = i
		}
	}
	if k == 0 {
		t.Fatal("no change with index 1500 in the big transaction")
	}
	rr := start(t, "slot=big&publication=big&memory-bytes=8192", got[k].Pos)
	want := got[k+1:]
	tail := rr.col.waitCommits(t, 1, rr)
	if len(tail) != len(want) {
		t.Fatalf("restart at %v: %d changes, want %d", got[k].Pos, len(tail), len(want))
	}
	for i := range want {
		if !sameChange(tail[i], want[i]) {
			t.Fatalf("restart change %d: %v %v, want %v %v", i, tail[i].Op, tail[i].Pos, want[i].Op, want[i].Pos)
		}
	}
}

// TestProtoVersions: forced to protocol 1 the server sends a big
// transaction whole at commit (nothing streamed); protocol 2 streams it.
// Both deliver the same committed rows and none of the rolled-back ones.
func TestProtoVersions(t *testing.T) {
	exec(t, `CREATE TABLE pv (id int PRIMARY KEY, tag text, pad text)`)
	for _, tc := range []struct {
		proto    int
		streamed uint64
	}{{1, 0}, {2, 1}} {
		slot := fmt.Sprintf("pv%d", tc.proto)
		dropSlot(t, slot)
		r := start(t, fmt.Sprintf("slot=%s&publication=pv&create-publication=pv&proto-version=%d", slot, tc.proto), change.Position{})
		base := tc.proto * 10000
		exec(t,
			`BEGIN`,
			fmt.Sprintf(`INSERT INTO pv SELECT g, 'kept', repeat('x', 300) FROM generate_series(%d, %d) g`, base, base+999),
			`SAVEPOINT a`,
			fmt.Sprintf(`INSERT INTO pv SELECT g, 'rolled', repeat('x', 300) FROM generate_series(%d, %d) g`, base+1000, base+1999),
			`ROLLBACK TO SAVEPOINT a`,
			`COMMIT`,
		)
		got := r.col.waitCommits(t, 1, r)
		rs := rows(got, "pv")
		if len(rs) != 1000 {
			t.Fatalf("proto %d: %d rows, want 1000", tc.proto, len(rs))
		}
		for _, c := range rs {
			if string(c.After[1].B) != "kept" {
				t.Fatalf("proto %d: row %d tagged %q", tc.proto, c.After[0].I, c.After[1].B)
			}
		}
		if st := r.src.Stats(); st.Proto != tc.proto || st.Streamed != tc.streamed {
			t.Fatalf("proto %d: stats %+v, want %d streamed", tc.proto, st, tc.streamed)
		}
		r.stop(t)
	}
}
