package postgres

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
)

// TestBigTransactionMemory: one transaction of 100 MiB of row images
// (102,400 rows of 1 KiB of text, counted as they arrive), streamed by the
// server and spilled here past memory-bytes=1MiB, arrives whole while the
// Go heap in use grows by less than 32 MiB. (The process's peak RSS for a
// 1 GiB transaction is bench/bigtx-memory.sh's gate.)
func TestBigTransactionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MiB transaction")
	}
	exec(t, `CREATE TABLE huge (id int PRIMARY KEY, pad text)`)
	dropSlot(t, "huge")
	var rowsSeen, imageBytes, commits atomic.Int64
	col := &collector{fail: func(batch []change.Change) error {
		for _, c := range batch {
			switch c.Op {
			case change.OpInsert:
				rowsSeen.Add(1)
				for _, v := range c.After {
					imageBytes.Add(int64(len(v.B)))
				}
			case change.OpCommit:
				commits.Add(1)
			}
		}
		return errSkip
	}}
	src, err := Open(sourceURL("slot=huge&publication=huge&create-publication=huge&memory-bytes=1048576"))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	r := startSource(t, src, change.Position{}, col)

	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	const n, width = 102400, 1024 // 100 MiB of text
	exec(t, fmt.Sprintf(`INSERT INTO huge SELECT g, repeat(md5(g::text), %d) FROM generate_series(1, %d) g`, width/32, n))
	deadline := time.Now().Add(3 * time.Minute)
	for commits.Load() < 1 && time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("stream ended: %v", r.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(stop)
	<-done
	st := src.Stats()
	if rowsSeen.Load() != n || st.Streamed != 1 || st.Spilled != 1 {
		t.Fatalf("%d rows, stats %+v; want %d rows of one streamed, spilled transaction", rowsSeen.Load(), st, n)
	}
	if got := imageBytes.Load(); got < 100<<20 {
		t.Fatalf("row images hold %d bytes of values, want at least 100 MiB", got)
	}
	grown := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("transaction of %.1f MiB of row values; heap in use grew by at most %.1f MiB", float64(imageBytes.Load())/(1<<20), float64(grown)/(1<<20))
	if grown > 32<<20 {
		t.Fatalf("heap grew by %d MiB for a streamed transaction with memory-bytes=1MiB", grown>>20)
	}
}
