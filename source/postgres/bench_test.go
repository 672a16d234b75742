package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// BenchmarkDecodeInsert measures the decoder alone: one Insert message of
// a five-column row (int, text, numeric, timestamptz, bool) per op, with
// begin/commit every 100 rows, through batching to a discarding emit.
func BenchmarkDecodeInsert(b *testing.B) {
	spill, err := newSpillStore(b.TempDir(), 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer spill.close()
	cat := &catalog{types: builtinTypes()}
	d := &decoder{cat: cat, rels: make(map[uint32]*relation), spill: spill, now: time.Now,
		out: &batcher{max: 1024, emit: func([]change.Change) error { return nil }}}
	d.rels[1] = &relation{
		ns:       change.Namespace{Database: "public", Table: "t"},
		cols:     make([]change.Column, 5),
		identKey: make([]bool, 5),
		types:    []*pgType{cat.types[23], cat.types[25], cat.types[1700], cat.types[1184], cat.types[16]},
		mods:     []int32{-1, -1, -1, -1, -1},
	}
	row := insert(1, s("123456"), s("some text of a usual length, about fifty bytes."), s("12345.67"),
		s("2024-05-06 07:08:09.123456+00"), s("t"))
	ctx := context.Background()
	b.SetBytes(int64(len(row)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	lsn := uint64(16)
	for i := 0; i < b.N; i++ {
		if i%100 == 0 {
			if i > 0 {
				if err := d.handle(ctx, commit(lsn, lsn+8)); err != nil {
					b.Fatal(err)
				}
				lsn += 16
			}
			if err := d.handle(ctx, begin(lsn, uint32(i))); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.handle(ctx, row); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0 // the whole process: decoding and its GC
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "msgs/cpu-s")
}

// BenchmarkLive measures rows per second from a real server: one
// transaction of 100k rows (sbtest-like, ~190 B), with the server's
// defaults for streaming (logical_decoding_work_mem 64kB on the test
// server, so it streams and this side spills past 16 MiB) — the time from
// COMMIT returning until the last row is emitted, and the whole run.
func BenchmarkLive(b *testing.B) {
	const n = 100000
	srv := server(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		table := fmt.Sprintf("live%d_%d", time.Now().UnixNano()%1e6, i)
		if err := srv.Exec(ctx, "postgres", fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, k int, c char(120), pad char(60))`, table)); err != nil {
			b.Fatal(err)
		}
		src, err := Open(srv.DSN("postgres") + "&slot=" + table + "&publication=" + table + "&create-publication=" + table)
		if err != nil {
			b.Fatal(err)
		}
		var rows atomic.Int64
		var lastAt atomic.Int64
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- src.Stream(sctx, change.Position{}, func(batch []change.Change) error {
				for i := range batch {
					if batch[i].Op == change.OpInsert {
						rows.Add(1)
					}
				}
				lastAt.Store(time.Now().UnixNano())
				return nil
			})
		}()
		for queryActive(b, srv, table) != "true" {
			time.Sleep(20 * time.Millisecond)
		}
		cpu0 := cpuTime()
		t0 := time.Now()
		if err := srv.Exec(ctx, "postgres", fmt.Sprintf(`INSERT INTO %s SELECT g, g, md5(g::text), md5((g+1)::text) FROM generate_series(1, %d) g`, table, n)); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		for rows.Load() < n {
			select {
			case err := <-done:
				b.Fatalf("stream ended: %v", err)
			case <-time.After(5 * time.Millisecond):
			}
		}
		end := time.Unix(0, lastAt.Load())
		cpu := cpuTime() - cpu0
		cancel()
		<-done
		srv.Exec(ctx, "postgres", fmt.Sprintf(`SELECT pg_drop_replication_slot('%s')`, table))
		b.ReportMetric(float64(n)/end.Sub(t0).Seconds(), "rows/s")
		b.ReportMetric(end.Sub(committed).Seconds()*1000, "ms-after-commit")
		b.ReportMetric(cpu.Seconds()*1000, "client-cpu-ms")
		st := src.Stats()
		b.ReportMetric(float64(st.Spilled), "spilled")
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// queryActive tells whether the slot is in use and created (see startSource).
func queryActive(b *testing.B, srv interface {
	Exec(context.Context, string, ...string) error
}, slot string) string {
	c, err := server(b).Connect(context.Background(), "postgres")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	var s string
	c.QueryRow(context.Background(), `SELECT coalesce((SELECT (active AND confirmed_flush_lsn IS NOT NULL)::text FROM pg_replication_slots WHERE slot_name = $1), 'none')`, slot).Scan(&s)
	return s
}
