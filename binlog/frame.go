package binlog

import (
	"errors"
	"io"
)

// minBufSize is the read-ahead of a frame and its initial buffer size.
const minBufSize = 64 << 10

// frame is a buffered view over an io.Reader that hands out contiguous
// byte ranges without copying them twice: events are sliced out of one
// reused buffer. The buffer grows only when an event is larger than it,
// and then as the event's bytes arrive, so a lying size field cannot make
// it allocate more than twice the data actually present.
type frame struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread bytes are buf[r:w]
	off  int64 // stream offset of buf[r]
	err  error // sticky error from src (io.EOF at the end)
}

func (f *frame) reset(src io.Reader, off int64) {
	f.src = src
	f.r, f.w = 0, 0
	f.off = off
	f.err = nil
}

// buffered returns the number of unread bytes in the buffer.
func (f *frame) buffered() int { return f.w - f.r }

// peek returns the next n bytes without consuming them. If the input ends
// first it returns the bytes that are there and io.EOF (or the read error).
func (f *frame) peek(n int) ([]byte, error) {
	if f.w-f.r >= n {
		return f.buf[f.r : f.r+n], nil
	}
	for f.w-f.r < n {
		if f.err != nil {
			return f.buf[f.r:f.w], f.err
		}
		f.fill(n)
	}
	return f.buf[f.r : f.r+n], nil
}

// fill reads once from src, making room for an n-byte window first.
func (f *frame) fill(n int) {
	if f.r > 0 && (f.r == f.w || len(f.buf)-f.r < n) {
		// Move the unread tail to the front.
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	if f.w == len(f.buf) {
		// Full: grow, by doubling but never past what n needs.
		size := max(2*len(f.buf), minBufSize)
		if size > n {
			size = max(n, minBufSize)
		}
		if size <= len(f.buf) {
			size = len(f.buf) + minBufSize
		}
		nb := make([]byte, size)
		f.w = copy(nb, f.buf[f.r:f.w])
		f.r = 0
		f.buf = nb
	}
	k, err := f.src.Read(f.buf[f.w:])
	if k < 0 || k > len(f.buf)-f.w {
		err = errors.New("binlog: source returned an invalid count")
		k = 0
	}
	f.w += k
	if err != nil {
		f.err = err
	} else if k == 0 {
		// Tolerate a few empty reads as io.Reader allows, but not forever.
		f.zeroReads()
	}
}

// zeroReads retries a source that returns (0, nil); after 100 of them it
// fails with io.ErrNoProgress as bufio does.
func (f *frame) zeroReads() {
	for i := 0; i < 100; i++ {
		k, err := f.src.Read(f.buf[f.w:])
		if k < 0 || k > len(f.buf)-f.w {
			f.err = errors.New("binlog: source returned an invalid count")
			return
		}
		f.w += k
		if err != nil {
			f.err = err
			return
		}
		if k > 0 {
			return
		}
	}
	f.err = io.ErrNoProgress
}

// advance consumes n bytes that peek returned.
func (f *frame) advance(n int) {
	f.r += n
	f.off += int64(n)
}
