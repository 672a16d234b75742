// Package stdout is the sink that writes changes to standard output (or any
// io.Writer) as JSON lines: Sluice JSON, one change per line, or any other
// format of package format, one message value per line.
package stdout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
)

// Sink writes JSON lines to a writer. Each Write encodes its batch into a
// buffer and flushes it before returning, so an acknowledged batch has been
// handed to the writer in full.
type Sink struct {
	w    *bufio.Writer
	line []byte
	enc  change.Encoder
	// f, when set, encodes instead of enc, into msgs.
	f    format.Encoder
	msgs format.Batch
}

// New returns a Sink writing Sluice JSON lines to w.
func New(w io.Writer) *Sink {
	return &Sink{w: bufio.NewWriterSize(w, 64<<10)}
}

// NewFormat returns a Sink writing to w the messages enc makes of each
// change, one value per line (format.AppendLines: keys, headers and
// tombstones are left out). A nil enc writes Sluice JSON.
func NewFormat(w io.Writer, enc format.Encoder) *Sink {
	s := New(w)
	s.f = enc
	return s
}

// FromURL opens the sink for a stdout:// URL, which takes no parameters,
// writing what enc makes of each change (nil: Sluice JSON).
func FromURL(u *url.URL, enc format.Encoder) (*Sink, error) { return FromURLTo(u, os.Stdout, enc) }

// FromURLTo is FromURL writing to w instead of standard output. Its errors
// do not repeat the URL (sink.Open adds it).
func FromURLTo(u *url.URL, w io.Writer, enc format.Encoder) (*Sink, error) {
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("stdout:// takes no host, path or parameters")
	}
	return NewFormat(w, enc), nil
}

// Write writes one line per change (per message) and flushes. The lines
// are encoded into a buffer of up to about writeChunk bytes that goes to
// the writer in one call, not copied line by line into a bufio buffer.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	s.line = s.line[:0]
	for i := range batch {
		if s.f != nil {
			s.msgs.Reset()
			if err := s.f.Encode(&s.msgs, &batch[i]); err != nil {
				return fmt.Errorf("stdout: %w", err)
			}
			s.line = format.AppendLines(s.line, &s.msgs)
		} else {
			s.line = s.enc.Append(s.line, &batch[i])
			s.line = append(s.line, '\n')
		}
		if len(s.line) >= writeChunk {
			if err := s.write(); err != nil {
				return err
			}
		}
	}
	if err := s.write(); err != nil {
		return err
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout: flush: %w", err)
	}
	return nil
}

// writeChunk is about how many bytes of lines Write hands the writer at
// once; maxKeep the largest buffer kept between writes.
const (
	writeChunk = 256 << 10
	maxKeep    = 16 << 20
)

// write hands the encoded lines to the writer (directly when they are
// longer than its buffer, which is then empty) and empties s.line. A
// buffer that grew past maxKeep for huge lines is let go (one of a few
// MiB is kept: rows of 1 MiB would otherwise cost a new one per batch).
func (s *Sink) write() error {
	if _, err := s.w.Write(s.line); err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	if cap(s.line) > maxKeep {
		s.line = nil
	}
	s.line = s.line[:0]
	return nil
}

// Close flushes what is buffered. It does not close the underlying writer.
func (s *Sink) Close() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout: flush: %w", err)
	}
	return nil
}
