package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/sluice-cdc/sluice/binlog"
)

// isTerminal reports whether f is a character device (a terminal), the
// cheap portable test that is enough to decide whether to draw progress.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// version returns the module version sluice was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// progressEvery is how often a progress line is redrawn at most.
const progressEvery = 500 * time.Millisecond

// byteProgress draws one status line on a terminal standard error: bytes
// done of the total, events (when counted), rate and estimated time left
// (bytes, events and rate only when the total is not known).
// It redraws at most every progressEvery. A nil *byteProgress (standard
// error is not a terminal) draws nothing.
type byteProgress struct {
	w     io.Writer
	total int64
	start time.Time
	last  time.Time
	width int // of the last line drawn, to clear it
}

// newByteProgress returns a progress line for a run over files, or nil
// when standard error is not a terminal.
func newByteProgress(e *env, files []string) *byteProgress {
	return newByteProgressTotal(e, totalSize(files))
}

// newByteProgressTotal returns a progress line for a run over total
// bytes, or nil when standard error is not a terminal.
func newByteProgressTotal(e *env, total int64) *byteProgress {
	if !e.StderrTerminal {
		return nil
	}
	now := time.Now()
	return &byteProgress{w: e.Stderr, total: total, start: now, last: now}
}

// update draws done bytes of total (the line's own total when total is
// 0); it is the Progress hook of the binlog tools.
func (p *byteProgress) update(done, total int64) {
	if p != nil && total > 0 {
		p.total = total
	}
	p.draw(done, -1)
}

// draw shows done bytes and, when not negative, events.
func (p *byteProgress) draw(done, events int64) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	rate := float64(done) / now.Sub(p.start).Seconds()
	eta := "?"
	if rate > 0 && p.total > done {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	var line string
	if p.total > 0 {
		pct := 100 * float64(done) / float64(p.total)
		line = fmt.Sprintf("%d/%d MB (%.0f%%)", done>>20, p.total>>20, min(pct, 100))
	} else { // a pipe: no size known
		line = fmt.Sprintf("%d MB", done>>20)
	}
	if events >= 0 {
		line += fmt.Sprintf("  %d events", events)
	}
	line += fmt.Sprintf("  %.0f MB/s", rate/(1<<20))
	if p.total > 0 {
		line += "  ETA " + eta
	}
	fmt.Fprintf(p.w, "\r%-*s", p.width, line)
	p.width = max(p.width, len(line))
}

// done clears the status line, if one was drawn.
func (p *byteProgress) done() {
	if p != nil && p.width > 0 {
		fmt.Fprintf(p.w, "\r%*s\r", p.width, "")
	}
}

// binlogCounter passes a binlog stream through to w and counts its bytes
// and events (from the event headers' sizes) for a progress line: the
// progress of the commands that write a binlog (split, cut, join). It
// reads only the four length bytes of each event header.
type binlogCounter struct {
	w      io.Writer
	p      *byteProgress
	bytes  int64
	events int64
	skip   int64  // bytes to pass before the next event header
	hdr    []byte // the part of an event header seen so far
	lost   bool   // a size was impossible: stop counting events
}

// newBinlogCounter returns a writer counting the binlog written to w.
func newBinlogCounter(w io.Writer, p *byteProgress) *binlogCounter {
	return &binlogCounter{w: w, p: p, skip: int64(len(binlog.Magic)), hdr: make([]byte, 0, 13)}
}

// Write implements io.Writer.
func (c *binlogCounter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.scan(b[:n])
	events := c.events
	if c.lost {
		events = -1
	}
	c.p.draw(c.bytes, events)
	return n, err
}

// scan counts the events whose headers b holds.
func (c *binlogCounter) scan(b []byte) {
	c.bytes += int64(len(b))
	for len(b) > 0 && !c.lost {
		if c.skip > 0 {
			k := min(c.skip, int64(len(b)))
			c.skip -= k
			b = b[k:]
			continue
		}
		// Bytes 9 to 12 of the 19-byte header are the event size.
		k := min(cap(c.hdr)-len(c.hdr), len(b))
		c.hdr = append(c.hdr, b[:k]...)
		b = b[k:]
		if len(c.hdr) < cap(c.hdr) {
			return
		}
		size := int64(binary.LittleEndian.Uint32(c.hdr[9:]))
		c.hdr = c.hdr[:0]
		if size < binlog.HeaderLenV4 {
			c.lost = true
			return
		}
		c.events++
		c.skip = size - int64(cap(c.hdr))
	}
}
