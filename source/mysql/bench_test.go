package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/snapshot"
)

// BenchmarkStreamInsert measures the live path end to end: the server
// sends n inserted rows (one transaction of a 4-column table, FULL image
// and metadata) over the replication protocol, and the source decodes them
// into changes. Reported: rows/s of wall time per full pass.
func BenchmarkStreamInsert(b *testing.B) {
	const n = 200000
	ctx := context.Background()
	if err := shared.Exec(ctx, "CREATE DATABASE IF NOT EXISTS bench", "DROP TABLE IF EXISTS bench.t",
		"CREATE TABLE bench.t (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(12,2), at DATETIME(6))"); err != nil {
		b.Fatal(err)
	}
	from := currentPosition(b, shared)
	if err := shared.Exec(ctx, fmt.Sprintf("INSERT INTO bench.t SELECT seq, CONCAT('name-', seq), seq / 100, "+
		"'2024-01-02 03:04:05.123456' + INTERVAL seq SECOND FROM bench.seq_1_to_%d", n)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		src, err := New(testConfig(shared.Addr()))
		if err != nil {
			b.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		rows := 0
		err = src.Stream(cctx, from, func(cs []change.Change) error {
			for _, c := range cs {
				if c.Op == change.OpInsert && c.Table == "t" {
					rows++
				}
			}
			if rows >= n {
				cancel()
			}
			return nil
		})
		cancel()
		if rows < n {
			b.Fatalf("%d rows, want %d: %v", rows, n, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkSnapshotRead reads a 200 k-row table shaped like the snapshot
// bench's (int key, bigint, decimal, varchar, datetime(6), 60-byte text)
// in 8192-row chunks by key, as a snapshot worker does, decoding every
// value: through go-sql-driver ("driver") and through the textReader
// the snapshot's workers use ("text"). Reported: rows/s.
func BenchmarkSnapshotRead(b *testing.B) {
	const n = 200000
	ctx := context.Background()
	if err := shared.Exec(ctx, "CREATE DATABASE IF NOT EXISTS bench", "DROP TABLE IF EXISTS bench.snapread",
		"CREATE TABLE bench.snapread (id INT PRIMARY KEY, n BIGINT, d DECIMAL(12,2), s VARCHAR(40), at DATETIME(6), p VARCHAR(255))",
		fmt.Sprintf("INSERT INTO bench.snapread SELECT seq, seq * 7, seq / 100, CONCAT('name-', seq), "+
			"'2024-01-02 03:04:05.123456' + INTERVAL seq SECOND, CONCAT('row ', seq, ' ', REPEAT('x', 54)) FROM bench.seq_1_to_%d", n)); err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(shared.Addr())
	src, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	db := src.openSQL()
	defer db.Close()
	meta, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer meta.Close()
	tables, err := src.snapTables(ctx, &snapWorker{conn: meta, src: src}, true)
	if err != nil {
		b.Fatal(err)
	}
	var tbl *snapshot.Table
	for _, t := range tables {
		if t.Database == "bench" && t.Table == "snapread" {
			tbl = t
		}
	}
	if tbl == nil {
		b.Fatal("bench.snapread not listed")
	}
	readAll := func(b *testing.B, w *snapWorker) {
		var after []change.Value
		rows := 0
		for {
			got, err := w.Read(ctx, tbl, after, 8192, func(_ []change.Column, vals []change.Value) error {
				after = append(after[:0], vals[0].Clone())
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if rows += got; got < 8192 {
				break
			}
		}
		if rows != n {
			b.Fatalf("%d rows, want %d", rows, n)
		}
	}
	// run sets up w's session and reads the table b.N times.
	run := func(b *testing.B, w *snapWorker) {
		for _, q := range snapSession {
			if err := w.exec(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for range b.N {
			readAll(b, w)
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("driver", func(b *testing.B) {
		c, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		w := &snapWorker{conn: c, src: src}
		defer w.close()
		run(b, w)
	})
	b.Run("text", func(b *testing.B) {
		r, err := dial(ctx, &src.cfg)
		if err != nil {
			b.Fatal(err)
		}
		w := &snapWorker{tr: newTextReader(r), stop: r.watch(ctx), src: src}
		defer w.close()
		run(b, w)
	})
}
