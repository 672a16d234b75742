// Package file is the sink that appends changes to a local file as JSON
// lines (Sluice JSON, or any other format of package format, one message
// value per line), fsync'ing every batch so that an acknowledged change is
// on disk.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/format"
)

// Sink appends JSON lines to a file.
type Sink struct {
	f    *os.File
	path string
	buf  []byte
	enc  change.Encoder
	// encoder, when set, encodes instead of enc, into msgs.
	encoder format.Encoder
	msgs    format.Batch
}

// FromURL opens the sink for file:///abs/path.jsonl (or file:rel/path.jsonl),
// writing what enc makes of each change (nil: Sluice JSON). Its errors do
// not repeat the URL (sink.Open adds it).
func FromURL(u *url.URL, enc format.Encoder) (*Sink, error) {
	path, err := PathOf(u)
	if err != nil {
		return nil, err
	}
	return OpenFormat(path, enc)
}

// PathOf checks a file:// URL without opening anything and returns the
// path it names.
func PathOf(u *url.URL) (string, error) {
	path := u.Path
	if u.Opaque != "" {
		path = u.Opaque
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("remote host %q not supported, use file:///path", u.Host)
	}
	if path == "" || u.RawQuery != "" {
		return "", errors.New("want file:///path/changes.jsonl with no parameters")
	}
	return path, nil
}

// OpenFormat is Open writing the messages enc makes of each change, one
// value per line (format.AppendLines: keys, headers and tombstones are left
// out). A nil enc writes Sluice JSON.
func OpenFormat(path string, enc format.Encoder) (*Sink, error) {
	s, err := Open(path)
	if err != nil {
		return nil, err
	}
	s.encoder = enc
	return s, nil
}

// Open opens path for appending, creating it if needed. A last line left
// unfinished by a crash (no trailing newline) was never acknowledged, so it
// is cut off before anything is appended.
func Open(path string) (*Sink, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("file: %s: %w", path, err)
	}
	return &Sink{f: f, path: path}, nil
}

// repairTail truncates f after its last newline.
func repairTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	buf := make([]byte, 64<<10)
	end := size
	for end > 0 {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return fmt.Errorf("read tail: %w", err)
		}
		if end == size && chunk[len(chunk)-1] == '\n' {
			return nil // intact
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return truncate(f, start+int64(i)+1)
		}
		end = start
	}
	return truncate(f, 0)
}

func truncate(f *os.File, n int64) error {
	if err := f.Truncate(n); err != nil {
		return fmt.Errorf("cut unfinished last line: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("cut unfinished last line: %w", err)
	}
	return nil
}

// Write appends one line per change in a single write and fsyncs.
func (s *Sink) Write(ctx context.Context, batch []change.Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("file: %s: write: %w", s.path, err)
	}
	if s.f == nil {
		return fmt.Errorf("file: %s: write: %w", s.path, os.ErrClosed)
	}
	s.buf = s.buf[:0]
	if s.encoder != nil {
		s.msgs.Reset()
		for i := range batch {
			if err := s.encoder.Encode(&s.msgs, &batch[i]); err != nil {
				return fmt.Errorf("file: %s: %w", s.path, err)
			}
		}
		s.buf = format.AppendLines(s.buf, &s.msgs)
		s.msgs.Reset()
	} else {
		for i := range batch {
			s.buf = s.enc.Append(s.buf, &batch[i])
			s.buf = append(s.buf, '\n')
		}
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return fmt.Errorf("file: %s: write: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file: %s: fsync: %w", s.path, err)
	}
	if cap(s.buf) > 16<<20 {
		s.buf = nil // do not keep a huge buffer after one big batch
	}
	return nil
}

// Close closes the file.
func (s *Sink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("file: %s: close: %w", s.path, err)
	}
	return nil
}
