// Package stdout is the sink that writes changes to standard output (or any
// io.Writer) as JSON lines: Sluice JSON, one change per line, or any other
// format of package format, one message value per line.
package stdout

import (
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
	w io.Writer
	// buf holds the lines not yet written: they are encoded straight into
	// it and written once it holds writeBytes.
	buf []byte
	enc change.Encoder
	// f, when set, encodes instead of enc, into msgs.
	f    format.Encoder
	msgs format.Batch
}

// New returns a Sink writing Sluice JSON lines to w.
func New(w io.Writer) *Sink {
	return &Sink{w: w}
}

// writeBytes is how many bytes of lines the Sink gathers before it writes
// them: large writes cost fewer system calls.
const writeBytes = 256 << 10

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

// Write writes one line per change (per message) and flushes.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	for i := range batch {
		if s.f != nil {
			s.msgs.Reset()
			if err := s.f.Encode(&s.msgs, &batch[i]); err != nil {
				s.buf = s.buf[:0] // nothing of a failed batch is written
				return fmt.Errorf("stdout: %w", err)
			}
			s.buf = format.AppendLines(s.buf, &s.msgs)
		} else {
			s.buf = s.enc.Append(s.buf, &batch[i])
			s.buf = append(s.buf, '\n')
		}
		if len(s.buf) >= writeBytes {
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
	return s.flush()
}

// flush writes the lines gathered.
func (s *Sink) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	if cap(s.buf) > 4*writeBytes {
		s.buf = nil // one huge line does not stay
	} else {
		s.buf = s.buf[:0]
	}
	if err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	return nil
}

// Close flushes what is buffered. It does not close the underlying writer.
func (s *Sink) Close() error {
	return s.flush()
}
