package changes

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/binlog"
	"github.com/sluice-cdc/sluice/change"
)

// BenchmarkDecoder feeds the fixture's events, held in memory, through a
// Decoder; allocs/op shows what decoding costs beyond package binlog's
// own per-TABLE_MAP and per-statement decoding.
func BenchmarkDecoder(b *testing.B) {
	var evs []*binlog.Event
	for _, p := range fixtures {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		r := binlog.NewReader(bufio.NewReader(f), filepath.Base(p))
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, ev.Clone())
		}
		f.Close()
	}
	emit := func(*change.Change) error { return nil }
	d := NewDecoder(Filter{})
	b.ReportAllocs()
	for b.Loop() {
		d.StartFile("bin.000003", true, true)
		for _, ev := range evs {
			if err := d.Event(ev, emit); err != nil {
				b.Fatal(err)
			}
		}
	}
}
