// Package stdout is the sink that writes changes to standard output (or any
// io.Writer) as Sluice JSON lines, one change per line.
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
)

// Sink writes JSON lines to a writer. Each Write encodes its batch into a
// buffer and flushes it before returning, so an acknowledged batch has been
// handed to the writer in full.
type Sink struct {
	w    *bufio.Writer
	line []byte
	enc  change.Encoder
}

// New returns a Sink writing to w.
func New(w io.Writer) *Sink {
	return &Sink{w: bufio.NewWriterSize(w, 64<<10)}
}

// FromURL opens the sink for a stdout:// URL, which takes no parameters.
func FromURL(u *url.URL) (*Sink, error) { return FromURLTo(u, os.Stdout) }

// FromURLTo is FromURL writing to w instead of standard output. Its errors
// do not repeat the URL (sink.Open adds it).
func FromURLTo(u *url.URL, w io.Writer) (*Sink, error) {
	if u.Host != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("stdout:// takes no host, path or parameters")
	}
	return New(w), nil
}

// Write writes one line per change and flushes.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	for i := range batch {
		s.line = s.enc.Append(s.line[:0], &batch[i])
		s.line = append(s.line, '\n')
		if _, err := s.w.Write(s.line); err != nil {
			return fmt.Errorf("stdout: write: %w", err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout: flush: %w", err)
	}
	return nil
}

// Close flushes what is buffered. It does not close the underlying writer.
func (s *Sink) Close() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout: flush: %w", err)
	}
	return nil
}
