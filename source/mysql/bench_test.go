package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
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
