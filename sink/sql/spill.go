package sql

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/sluice-cdc/sluice/change"
)

// spill keeps, in a temporary file, the changes applied in a target
// transaction that stays open across writes (a source transaction larger
// than one pipeline write), as Sluice JSON lines. If the connection is
// lost before the transaction commits, the target rolls it back and the
// sink applies the spilled changes again on a new connection: the
// pipeline has released them. Memory stays flat whatever the
// transaction's size.
type spill struct {
	dir string
	f   *os.File
	w   *bufio.Writer
	n   int // changes spilled
	buf []byte
	// cols is the last column list read back per table.
	cols map[change.Namespace][]change.Column
}

func sameColumns(a, b []change.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// add appends changes to the file, creating it on first use.
func (s *spill) add(changes []change.Change) error {
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, "sluice-sql-spill-*.jsonl")
		if err != nil {
			return fmt.Errorf("spill file: %w", err)
		}
		// Unlinked at once: it lives as long as the sink holds it.
		os.Remove(f.Name())
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
	}
	for i := range changes {
		s.buf = change.AppendJSON(s.buf[:0], &changes[i])
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("spill file: %w", err)
		}
		s.n++
	}
	return nil
}

// each calls fn with the spilled changes, in order, a chunk at a time.
func (s *spill) each(chunk int, fn func([]change.Change) error) error {
	if s.n == 0 {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	defer s.f.Seek(0, io.SeekEnd)
	r := bufio.NewReaderSize(s.f, 256<<10)
	batch := make([]change.Change, 0, chunk)
	for read := 0; read < s.n; read++ {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("spill file: change %d of %d: %w", read+1, s.n, err)
		}
		c, err := change.DecodeJSON(line[:len(line)-1])
		if err != nil {
			return fmt.Errorf("spill file: change %d of %d: %w", read+1, s.n, err)
		}
		// Changes of one table share one column list, as the source's
		// did, so the sink maps the columns once.
		if prev, ok := s.cols[c.Namespace]; ok && sameColumns(prev, c.Columns) {
			c.Columns = prev
		} else if c.Columns != nil {
			if s.cols == nil {
				s.cols = map[change.Namespace][]change.Column{}
			}
			s.cols[c.Namespace] = c.Columns
		}
		batch = append(batch, c)
		if len(batch) == chunk {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// reset empties the spill (its transaction committed or was abandoned).
func (s *spill) reset() error {
	if s.f == nil || s.n == 0 {
		return nil
	}
	s.n = 0
	s.w.Reset(s.f)
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	_, err := s.f.Seek(0, io.SeekStart)
	return err
}

// close removes the file.
func (s *spill) close() {
	if s.f != nil {
		s.f.Close()
		s.f, s.n = nil, 0
	}
}
