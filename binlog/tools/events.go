package tools

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluice-cdc/sluice/binlog"
)

// Progress is the progress hook of every tool: the work done so far and
// the total, in bytes of input. A tool that reads its input twice
// (Flashback, FlashbackSQL) counts both passes: the total is twice the
// input's size. It is called from the tool's goroutine, often: keep it
// cheap.
type Progress func(done, total int64)

// errNoFiles is returned when a tool gets no input.
var errNoFiles = errors.New("tools: no binlog files")

// inputSize returns the total size of the files that can be stat'ed.
func inputSize(files []string) int64 {
	var n int64
	for _, p := range files {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// input is one binlog file being read in order.
type input struct {
	f    *os.File
	name string // base name, for positions and errors
	r    *binlog.Reader
}

// openInput opens the binlog file at path for reading with opts.
func openInput(path string, opts ...binlog.Option) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	name := filepath.Base(path)
	return &input{f: f, name: name, r: binlog.NewReader(bufio.NewReaderSize(f, 1<<20), name, opts...)}, nil
}

// close closes the file and the reader.
func (in *input) close() {
	in.r.Close()
	in.f.Close()
}

// each calls fn with every event in order. Every 1024 events it checks
// ctx and, when progress is set, reports base plus the bytes read so far
// (and at the end the whole file). It returns the bytes read.
func (in *input) each(ctx context.Context, base int64, progress func(done int64), fn func(ev *binlog.Event) error) (int64, error) {
	r := in.r
	for i := 0; ; i++ {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return r.Offset(), err
			}
			if progress != nil {
				progress(base + r.Offset())
			}
		}
		ev, err := r.Next()
		if err == io.EOF {
			if progress != nil {
				progress(base + r.Offset())
			}
			return r.Offset(), nil
		}
		if err != nil {
			return r.Offset(), err
		}
		if err := fn(ev); err != nil {
			return r.Offset(), err
		}
	}
}

// scan is one pass of a tool over its input files, in order.
type scan struct {
	progress Progress
	total    int64           // the progress total (0: the input's size)
	opts     []binlog.Option // reader options
	// start, when set, is called before the first event of file i.
	start func(i int, path string, in *input) error
	event func(ev *binlog.Event) error
	// end, when set, is called after the last event of each file.
	end func(in *input) error
}

// run reads every file of files and returns the bytes read. It stops at
// the first error, which it returns (a caller's stop sentinel too).
func (s *scan) run(ctx context.Context, files []string) (int64, error) {
	var base int64
	var report func(int64)
	if s.progress != nil {
		total := s.total
		if total == 0 {
			total = inputSize(files)
		}
		report = func(done int64) { s.progress(done, total) }
	}
	for i, p := range files {
		in, err := openInput(p, s.opts...)
		if err != nil {
			return base, err
		}
		if s.start != nil {
			err = s.start(i, p, in)
		}
		var n int64
		if err == nil {
			n, err = in.each(ctx, base, report, s.event)
		}
		if err == nil && s.end != nil {
			err = s.end(in)
		}
		in.close()
		base += n
		if err != nil {
			return base, err
		}
	}
	return base, nil
}
