package mysql

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestQuietGTID: the GTID set quietGTID reads beside a consistent snapshot
// is BINLOG_GTID_POS at the snapshot's position, every time it claims to
// know it, while writers commit as fast as they can on two connections;
// and it does claim to know it when nothing is written.
func TestQuietGTID(t *testing.T) {
	srv := shared
	exec(t, srv, "DROP DATABASE IF EXISTS quiet_gtid", "CREATE DATABASE quiet_gtid", "CREATE TABLE quiet_gtid.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
	src, err := New(testConfig(srv.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	db := src.openSQL()
	defer db.Close()
	ctx := context.Background()
	check := func(rounds int) (known int) {
		for range rounds {
			workers, p, ok, done, err := src.consistentPoint(ctx, db, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			done()
			if !ok {
				continue
			}
			known++
			var want string
			if err := db.QueryRow("SELECT BINLOG_GTID_POS(?, ?)", p.File, p.Offset).Scan(&want); err != nil {
				t.Fatal(err)
			}
			if p.GTIDSet != want {
				t.Fatalf("quietGTID says %q at %s:%d, BINLOG_GTID_POS %q", p.GTIDSet, p.File, p.Offset, want)
			}
			_ = workers
		}
		return known
	}
	if n := check(5); n != 5 {
		t.Fatalf("with no writes, quietGTID knew the set %d times of 5", n)
	}
	admin, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var commits atomic.Int64
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := admin.Exec("INSERT INTO quiet_gtid.t (v) VALUES (1)"); err != nil {
					t.Error(err)
					return
				}
				commits.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(3 * time.Second)
	known, rounds := 0, 0
	for time.Now().Before(deadline) {
		known += check(1)
		rounds++
	}
	t.Logf("under %d commits: %d snapshots, the set known beside %d of them", commits.Load(), rounds, known)
}
