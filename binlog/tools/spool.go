package tools

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// spool stores records in a temporary data file and their start offsets
// in a temporary index file, and reads them back last first. Memory use
// is a few buffers, whatever the number or size of the records.
type spool struct {
	data, idx *os.File
	dw, iw    *bufio.Writer
	off       int64
	n         int64
	// progress, when set, is called during reverse with the records
	// handled so far and their number.
	progress func(done, n int64)
}

func newSpool(dir string) (*spool, error) {
	d, err := os.CreateTemp(dir, "sluice-spool-*.data")
	if err != nil {
		return nil, fmt.Errorf("tools: spill file: %w", err)
	}
	i, err := os.CreateTemp(dir, "sluice-spool-*.idx")
	if err != nil {
		d.Close()
		os.Remove(d.Name())
		return nil, fmt.Errorf("tools: spill file: %w", err)
	}
	return &spool{data: d, idx: i, dw: bufio.NewWriterSize(d, 1<<20), iw: bufio.NewWriterSize(i, 64<<10)}, nil
}

// add appends one record.
func (s *spool) add(rec []byte) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s.off))
	if _, err := s.iw.Write(b[:]); err != nil {
		return fmt.Errorf("tools: spill index: %w", err)
	}
	if _, err := s.dw.Write(rec); err != nil {
		return fmt.Errorf("tools: spill data: %w", err)
	}
	s.off += int64(len(rec))
	s.n++
	return nil
}

// reverse calls fn with each record, last first. rec is valid until fn
// returns; fn may modify it.
func (s *spool) reverse(fn func(rec []byte) error) error {
	if err := s.dw.Flush(); err != nil {
		return fmt.Errorf("tools: spill data: %w", err)
	}
	if err := s.iw.Flush(); err != nil {
		return fmt.Errorf("tools: spill index: %w", err)
	}
	const chunk = 8192
	idx := make([]byte, 8*chunk)
	data := backReader{f: s.data}
	end := s.off
	var handled int64
	for hi := s.n; hi > 0; {
		lo := max(hi-chunk, 0)
		b := idx[:8*(hi-lo)]
		if _, err := s.idx.ReadAt(b, 8*lo); err != nil && err != io.EOF {
			return fmt.Errorf("tools: reading spill index: %w", err)
		}
		for i := hi - lo - 1; i >= 0; i-- {
			start := int64(binary.LittleEndian.Uint64(b[8*i:]))
			rec, err := data.at(start, int(end-start))
			if err != nil {
				return fmt.Errorf("tools: reading spill data: %w", err)
			}
			if err := fn(rec); err != nil {
				return err
			}
			end = start
			if handled++; s.progress != nil && handled&1023 == 0 {
				s.progress(handled, s.n)
			}
		}
		hi = lo
	}
	if s.progress != nil {
		s.progress(s.n, s.n)
	}
	return nil
}

// each calls fn with each record, first added first. rec is valid until
// fn returns.
func (s *spool) each(fn func(rec []byte) error) error {
	if err := s.dw.Flush(); err != nil {
		return fmt.Errorf("tools: spill data: %w", err)
	}
	if err := s.iw.Flush(); err != nil {
		return fmt.Errorf("tools: spill index: %w", err)
	}
	idx := bufio.NewReaderSize(io.NewSectionReader(s.idx, 0, 8*s.n), 64<<10)
	data := bufio.NewReaderSize(io.NewSectionReader(s.data, 0, s.off), 1<<20)
	var b [8]byte
	next := func() (int64, error) {
		if _, err := io.ReadFull(idx, b[:]); err != nil {
			return 0, fmt.Errorf("tools: reading spill index: %w", err)
		}
		return int64(binary.LittleEndian.Uint64(b[:])), nil
	}
	var rec []byte
	start, err := next()
	for i := int64(0); i < s.n && err == nil; i++ {
		end := s.off
		if i+1 < s.n {
			if end, err = next(); err != nil {
				break
			}
		}
		n := int(end - start)
		if cap(rec) < n {
			rec = make([]byte, n)
		}
		if _, err = io.ReadFull(data, rec[:n]); err != nil {
			return fmt.Errorf("tools: reading spill data: %w", err)
		}
		if err = fn(rec[:n]); err != nil {
			return err
		}
		start = end
	}
	if s.n == 0 {
		return nil
	}
	return err
}

// reset empties the spool for reuse.
func (s *spool) reset() error {
	s.off, s.n = 0, 0
	for _, f := range []*os.File{s.data, s.idx} {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("tools: spill file: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("tools: spill file: %w", err)
		}
	}
	s.dw.Reset(s.data)
	s.iw.Reset(s.idx)
	return nil
}

// close removes the spill files.
func (s *spool) close() {
	for _, f := range []*os.File{s.data, s.idx} {
		f.Close()
		os.Remove(f.Name())
	}
}

// backWindow is how much a backReader reads at once.
const backWindow = 4 << 20

// backReader reads byte ranges of a file that mostly come in decreasing
// order of offset (a file read last record first): each read fills a
// window that ends at the range asked for, so the ranges before it come
// from memory. It holds one window (more only for a range bigger than it).
type backReader struct {
	f   *os.File
	buf []byte
	off int64 // file offset of buf[0]
}

// at returns the n bytes at offset off, valid until the next call; the
// caller may modify them.
func (b *backReader) at(off int64, n int) ([]byte, error) {
	if off >= b.off && off+int64(n) <= b.off+int64(len(b.buf)) {
		i := int(off - b.off)
		return b.buf[i : i+n : i+n], nil
	}
	end := off + int64(n)
	start := max(0, end-backWindow)
	if off < start {
		start = off
	}
	size := int(end - start)
	if cap(b.buf) < size || cap(b.buf) > backWindow && size <= backWindow {
		b.buf = make([]byte, max(size, backWindow))
	}
	b.buf = b.buf[:size]
	b.off = start
	if m, err := b.f.ReadAt(b.buf, start); m < size {
		b.buf = b.buf[:0]
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%d bytes at offset %d of %s: %w", n, off, b.f.Name(), err)
	}
	i := int(off - start)
	return b.buf[i : i+n : i+n], nil
}
