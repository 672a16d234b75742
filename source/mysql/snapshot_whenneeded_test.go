package mysql

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/snapshot"
	"github.com/sluice-cdc/sluice/source"
)

// TestSnapshotWhenNeeded: a stream whose saved position was purged from
// the binlog fails with ErrPositionLost under snapshot=initial; under
// snapshot=when-needed it takes a new snapshot instead — every row the
// table holds now, once, as reads — and then streams on from that
// snapshot's consistent point.
func TestSnapshotWhenNeeded(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	exec(t, srv, "CREATE DATABASE wn", "CREATE TABLE wn.t (id INT PRIMARY KEY, v INT)",
		"INSERT INTO wn.t SELECT seq, seq FROM wn.seq_1_to_50")
	from := currentPosition(t, srv)
	exec(t, srv, "INSERT INTO wn.t VALUES (51, 51)", "DELETE FROM wn.t WHERE id = 7", "FLUSH BINARY LOGS")
	pool, err := srv.DB()
	if err != nil {
		t.Fatal(err)
	}
	var newest string
	rs, err := pool.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var name string
		var size any
		if err := rs.Scan(&name, &size); err != nil {
			t.Fatal(err)
		}
		newest = name
	}
	rs.Close()
	// MariaDB purges a binlog only once its binlog checkpoint is written
	// (InnoDB flushed the commits in it): try until the old file is gone.
	for deadline := time.Now().Add(20 * time.Second); ; {
		exec(t, srv, "PURGE BINARY LOGS TO '"+newest+"'")
		if logs := selectText(t, pool, "SHOW BINARY LOGS"); len(logs) == 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("binlogs not purged: %v", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}

	cfg := testConfig(srv.Addr())
	cfg.ServerID = 7301
	cfg.Snapshot = snapshot.Options{Mode: snapshot.ModeInitial, Tables: func(ns change.Namespace) bool { return ns.Database == "wn" }}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := src.Stream(ctx, from, func([]change.Change) error { return nil }); !errors.Is(err, source.ErrPositionLost) {
		t.Fatalf("snapshot=initial from a purged position: %v, want ErrPositionLost", err)
	}

	cfg.Snapshot.Mode = snapshot.ModeWhenNeeded
	if src, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []change.Change
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		errc <- src.Stream(sctx, from, func(b []change.Change) error {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range b {
				if c.Table == "t" {
					c.Before, c.After = cloneValues(c.Before), cloneValues(c.After)
					got = append(got, c)
				}
			}
			return nil
		})
	}()
	wait := func(what string, ok func([]change.Change) bool) {
		t.Helper()
		for {
			mu.Lock()
			done := ok(got)
			mu.Unlock()
			if done {
				return
			}
			select {
			case err := <-errc:
				t.Fatalf("waiting for %s: the stream ended: %v", what, err)
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	reads := func(cs []change.Change) []int64 {
		var keys []int64
		for _, c := range cs {
			if c.Op == change.OpRead {
				keys = append(keys, c.After[0].I)
			}
		}
		return keys
	}
	wait("the snapshot", func(cs []change.Change) bool { return len(reads(cs)) >= 50 })
	exec(t, srv, "INSERT INTO wn.t VALUES (52, 52)")
	wait("the stream after it", func(cs []change.Change) bool {
		return slices.ContainsFunc(cs, func(c change.Change) bool { return c.Op == change.OpInsert && c.After[0].I == 52 })
	})
	stop()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("stream: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	keys := reads(got)
	var want []int64
	for k := int64(1); k <= 51; k++ {
		if k != 7 {
			want = append(want, k)
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("snapshot read keys %v, want 1 to 51 but 7", keys)
	}
	for _, c := range got {
		if c.Op != change.OpRead && !(c.Op == change.OpInsert && c.After[0].I == 52) {
			t.Errorf("a change other than the snapshot's and the insert after it: %s of %d at %s", c.Op, c.After[0].I, c.Pos)
		}
	}
}
