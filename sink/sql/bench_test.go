package sql

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/sqldb"
)

// BenchmarkApply applies b.N inserted rows of the bench table (six
// columns) in writes of 4096 rows, each write committed, into MariaDB and
// PostgreSQL: the sink and the server, without a source.
func BenchmarkApply(b *testing.B) {
	for _, tg := range []target{mariaTarget(&testing.T{}, "sink"), pgTarget(&testing.T{}, "postgres")} {
		b.Run(tg.name, func(b *testing.B) {
			t := &testing.T{}
			if tg.eng == sqldb.Postgres {
				tg.exec(t, "DROP SCHEMA IF EXISTS bench CASCADE", "CREATE SCHEMA bench",
					"CREATE TABLE bench.t (id bigint PRIMARY KEY, n int NOT NULL, name varchar(64) NOT NULL, price numeric(12,2) NOT NULL, at timestamp(6) NOT NULL, ratio double precision NOT NULL)")
			} else {
				tg.exec(t, "DROP DATABASE IF EXISTS bench", "CREATE DATABASE bench",
					"CREATE TABLE bench.t (id bigint PRIMARY KEY, n int NOT NULL, name varchar(64) NOT NULL, price decimal(12,2) NOT NULL, at datetime(6) NOT NULL, ratio double NOT NULL)")
			}
			s := openSink(t, tg, os.Getenv("SQL_BENCH_PARAMS"))
			s.Load(context.Background(), fmt.Sprint("bench-", b.N))
			cols := mkCols("id bigint key", "n int", "name varchar(64)", "price decimal(12,2)", "at datetime(6)", "ratio double")
			batch := make([]change.Change, 0, 4096)
			b.ResetTimer()
			began := time.Now()
			for i := 0; i < b.N; i++ {
				batch = append(batch, change.Change{Op: change.OpInsert, Source: "mariadb", Namespace: change.Namespace{Database: "bench", Table: "t"},
					Columns: cols, After: []change.Value{change.Int(int64(i), 64), change.Int(int64(i%1000), 32), change.String([]byte(fmt.Sprint("name-", i))),
						change.Decimal([]byte(fmt.Sprintf("%d.%02d", i/100, i%100))), change.DateTime(2026, 1, 1, 0, 0, i%60, uint32(i%1000)*1000, 6), change.Float64(float64(i) / 7)},
					Pos: lsn(uint64(i/4096+1), uint64(i%4096+1))})
				if len(batch) == cap(batch) || i == b.N-1 {
					if err := s.WriteAt(context.Background(), batch, lsn(uint64(i/4096+1)+1000000, 0)); err != nil {
						b.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "rows/s")
		})
	}
}
