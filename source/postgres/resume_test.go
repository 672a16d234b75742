package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/source"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// sameChange compares what a restart must reproduce exactly.
func sameChange(a, b change.Change) bool {
	if a.Op != b.Op || a.Pos != b.Pos || a.Tx != b.Tx || a.Namespace != b.Namespace || len(a.After) != len(b.After) || len(a.Before) != len(b.Before) {
		return false
	}
	for i := range a.After {
		if !change.Equal(a.After[i], b.After[i]) {
			return false
		}
	}
	for i := range a.Before {
		if !change.Equal(a.Before[i], b.Before[i]) {
			return false
		}
	}
	return true
}

// TestResume restarts from positions at every kind of point (begin, inside
// a multi-row statement whose rows share one commit LSN, the last row,
// a commit) and checks each restart delivers exactly the tail: nothing
// twice, nothing lost.
func TestResume(t *testing.T) {
	exec(t, `CREATE TABLE res (id int PRIMARY KEY, v text)`)
	dropSlot(t, "res")
	params := "slot=res&publication=res&create-publication=res&batch-size=7"
	r := start(t, params, change.Position{})
	exec(t,
		`INSERT INTO res VALUES (1, 'a'), (2, 'b'), (3, 'c')`,
		`INSERT INTO res SELECT g, 'multi' FROM generate_series(10, 109) g`,
		`UPDATE res SET v = 'u' WHERE id < 3`,
	)
	all := r.col.waitCommits(t, 3, r)
	r.stop(t)
	if len(all) != 3*2+3+100+2 {
		t.Fatalf("%d changes", len(all))
	}
	cuts := []int{0, 1, 3, 4, 5, 50, 104, 105, 106, len(all) - 2}
	for _, k := range cuts {
		t.Run(fmt.Sprintf("after_%d_%v", k, all[k].Op), func(t *testing.T) {
			rr := start(t, params, all[k].Pos)
			want := all[k+1:]
			deadline := time.Now().Add(30 * time.Second)
			var got []change.Change
			for time.Now().Before(deadline) {
				if got = rr.col.data(); len(got) >= len(want) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // anything extra would show now
			got = rr.col.data()
			if len(got) != len(want) {
				t.Fatalf("restart after %v delivered %d changes, want %d", all[k].Pos, len(got), len(want))
			}
			for i := range want {
				if !sameChange(got[i], want[i]) {
					t.Fatalf("change %d after restart: %v %v, want %v %v", i, got[i].Op, got[i].Pos, want[i].Op, want[i].Pos)
				}
			}
		})
	}
}

// confirmedFlush reads the slot's confirmed_flush_lsn.
func confirmedFlush(t *testing.T, slot string) uint64 {
	t.Helper()
	s := queryText(t, fmt.Sprintf(`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '%s'`, slot))
	lsn, err := parseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

func waitFlush(t *testing.T, slot string, cond func(uint64) bool, what string) uint64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var lsn uint64
	for time.Now().Before(deadline) {
		if lsn = confirmedFlush(t, slot); cond(lsn) {
			return lsn
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("confirmed_flush_lsn %s: %s never happened", formatLSN(lsn), what)
	return 0
}

// TestFeedback: the slot's confirmed_flush_lsn does not move while
// nothing is acknowledged, moves to exactly the acknowledged position after
// Ack, follows the server on an idle publication through an acknowledged
// heartbeat, and a restart from before it is refused.
func TestFeedback(t *testing.T) {
	exec(t, `CREATE TABLE fb (id int PRIMARY KEY)`, `CREATE TABLE fb_other (id int)`)
	dropSlot(t, "fb")
	params := "slot=fb&publication=fb&create-publication=fb&status-interval=200ms"
	r := start(t, params, change.Position{})
	initial := confirmedFlush(t, "fb")
	exec(t, `INSERT INTO fb VALUES (1)`, `INSERT INTO fb VALUES (2)`)
	got := r.col.waitCommits(t, 2, r)
	time.Sleep(500 * time.Millisecond) // several status intervals
	if lsn := confirmedFlush(t, "fb"); lsn != initial {
		t.Fatalf("confirmed_flush_lsn moved from %s to %s with nothing acknowledged", formatLSN(initial), formatLSN(lsn))
	}
	firstCommit := got[2].Pos
	r.src.Ack(firstCommit)
	waitFlush(t, "fb", func(l uint64) bool { return l == firstCommit.Offset }, "reach the first commit "+formatLSN(firstCommit.Offset))
	// A row in the middle of a transaction: the slot may go to the
	// transaction's LSN (it will be sent again), not past it.
	r.src.Ack(got[4].Pos)
	if got[4].Pos.Offset <= firstCommit.Offset {
		t.Fatalf("second transaction at %v is not after the first commit %v", got[4].Pos, firstCommit)
	}
	waitFlush(t, "fb", func(l uint64) bool { return l == got[4].Pos.Offset }, "reach the second transaction")
	last := got[len(got)-1].Pos
	r.src.Ack(last)
	waitFlush(t, "fb", func(l uint64) bool { return l == last.Offset }, "reach the last commit")

	// Idle publication: WAL moves (a table outside the publication), a
	// heartbeat past the last commit arrives; once acknowledged the slot follows.
	var hb change.Change
	deadline := time.Now().Add(30 * time.Second)
	for hb.Op == 0 && time.Now().Before(deadline) {
		exec(t, `INSERT INTO fb_other VALUES (1)`)
		for _, c := range r.col.all() {
			if c.Op == change.OpHeartbeat && c.Pos.Offset > last.Offset {
				hb = c
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if hb.Op == 0 {
		t.Fatal("no heartbeat past the last commit on an idle publication")
	}
	if lsn := confirmedFlush(t, "fb"); lsn != last.Offset {
		t.Fatalf("slot moved to %s before the heartbeat was acknowledged", formatLSN(lsn))
	}
	r.src.Ack(hb.Pos)
	waitFlush(t, "fb", func(l uint64) bool { return l >= hb.Pos.Offset }, "follow the acknowledged heartbeat")
	r.stop(t)

	// Resuming from before what the slot kept is refused, not skipped.
	src, err := Open(sourceURL(params))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Stream(ctx, got[1].Pos, (&collector{}).emit)
	if !errors.Is(err, source.ErrPositionLost) {
		t.Fatalf("resume from a released position: %v, want source.ErrPositionLost", err)
	}
	// From the heartbeat nothing old comes back, and new rows do.
	r2 := startSource(t, src, hb.Pos, &collector{})
	exec(t, `INSERT INTO fb VALUES (3)`)
	got2 := r2.col.waitCommits(t, 1, r2)
	if rs := rows(got2, "fb"); len(rs) != 1 || !change.Equal(rs[0].After[0], change.Int(3, 32)) {
		t.Fatalf("after restart at the heartbeat: %+v", rs)
	}
}

// TestSlowSink: emit blocks far longer than wal_sender_timeout (10s on the
// test server) while the server has more to send; the connection must
// survive, and everything arrives once emit returns.
func TestSlowSink(t *testing.T) {
	if testing.Short() {
		t.Skip("blocks for 13 seconds")
	}
	exec(t, `CREATE TABLE slow (id int PRIMARY KEY, pad text)`)
	dropSlot(t, "slow")
	src, err := Open(sourceURL("slot=slow&publication=slow&create-publication=slow&status-interval=2s"))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	col := &collector{fail: func([]change.Change) error {
		<-release
		return nil
	}}
	r := startSource(t, src, change.Position{}, col)
	exec(t, `INSERT INTO slow SELECT g, repeat('x', 1000) FROM generate_series(1, 5000) g`)
	time.Sleep(13 * time.Second)
	close(release)
	select {
	case <-r.done:
		t.Fatalf("stream ended while the sink was slow: %v", r.err)
	default:
	}
	exec(t, `INSERT INTO slow VALUES (0, 'after')`)
	got := r.col.waitCommits(t, 2, r)
	if n := len(rows(got, "slow")); n != 5001 {
		t.Fatalf("%d rows, want 5001", n)
	}
}

// TestStartWaitsForSlotCreation: a logical slot is in use from the start
// of its creation but has no confirmed_flush_lsn until every transaction
// running then has ended; the tests' start helper must wait for that (it
// did not, and TestFeedback failed on a loaded machine reading an empty
// LSN).
func TestStartWaitsForSlotCreation(t *testing.T) {
	exec(t, `CREATE TABLE swc (id int PRIMARY KEY)`)
	dropSlot(t, "swc")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := server(t).Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A transaction with an xid, open while the slot is created.
	if _, err := conn.Exec(ctx, `BEGIN; INSERT INTO swc VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(time.Second)
		conn.Exec(ctx, `COMMIT`)
	}()
	start(t, "slot=swc&publication=swc&create-publication=swc", change.Position{})
	confirmedFlush(t, "swc") // fails on an empty LSN
}
