package mysql

import (
	"context"
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// BenchmarkStreamTLS drains the same 200,000 inserted rows from a MariaDB
// server with TLS, in plain text (tls=off) and over verified TLS (tls=on),
// and reports rows/s and this process's CPU per row (user+system: the
// decoding and, with TLS, the decryption; the server's encryption is not
// counted).
func BenchmarkStreamTLS(b *testing.B) {
	const n = 200000
	files := testenv.NewTLSFiles(b, "127.0.0.1")
	srv := testenv.NewMariaDB(b, testenv.MariaDBOptions{TLS: &files})
	ctx := context.Background()
	if err := srv.Exec(ctx, "CREATE DATABASE bench",
		"CREATE TABLE bench.t (id INT PRIMARY KEY, name VARCHAR(64), price DECIMAL(12,2), at DATETIME(6))"); err != nil {
		b.Fatal(err)
	}
	from := currentPosition(b, srv)
	if err := srv.Exec(ctx, fmt.Sprintf("INSERT INTO bench.t SELECT seq, CONCAT('name-', seq), seq / 100, "+
		"'2024-01-02 03:04:05.123456' + INTERVAL seq SECOND FROM bench.seq_1_to_%d", n)); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct{ name, params string }{
		{"plain", "tls=off"},
		{"tls", "tls=on&tls-ca=" + url.QueryEscape(files.CA)},
	} {
		b.Run(mode.name, func(b *testing.B) {
			cfg, err := ParseURL(tlsURL(srv.Addr(), mode.params))
			if err != nil {
				b.Fatal(err)
			}
			cpu0, start := cpuTime(), time.Now()
			for i := 0; i < b.N; i++ {
				src, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				cctx, cancel := context.WithCancel(ctx)
				rows := 0
				err = src.Stream(cctx, from, func(cs []change.Change) error {
					for _, c := range cs {
						if c.Op == change.OpInsert {
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
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n*b.N), "cpu-ns/row")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
