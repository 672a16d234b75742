package mysql

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestQuietGTID: the GTID set quietGTID reads beside a consistent snapshot
// is BINLOG_GTID_POS at the snapshot's position, every time it claims to
// know it, while writers commit as fast as they can on two connections,
// in two GTID domains;
// and it does claim to know it when nothing is written.
func TestQuietGTID(t *testing.T) {
	// A server of its own: its GTID state gets a second domain, which
	// the shared server's other tests do not expect.
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
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
			if want = sortedGTIDs(want); p.GTIDSet != want {
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
	// The writers commit in two GTID domains, so that the set has one
	// GTID per domain to get right.
	for domain := range 2 {
		conn, err := admin.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { stop.Store(true); wg.Wait(); conn.Close() }()
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION gtid_domain_id = %d", domain*7)); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := conn.ExecContext(ctx, "INSERT INTO quiet_gtid.t (v) VALUES (1)"); err != nil {
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
