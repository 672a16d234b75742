package testenv

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Logs is output kept in memory for a test to read: a slog text log
// (Logger writes one without the time attribute), a child process's
// stdout or stderr. Its methods are safe for concurrent use.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; slog's handler calls it.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Logger returns a logger writing to l at every level.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Lines returns the lines logged so far that contain every one of subs.
func (l *Logs) Lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		if line == "" {
			continue
		}
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// Len returns the bytes logged so far.
func (l *Logs) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Len()
}

// String returns everything logged.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor waits up to timeout for a line containing every one of subs and
// returns the first; it fails the test, showing the log, when none comes
// or when stop (which may be nil) is closed first; why, when not nil,
// explains a stop in the failure (the error of the stream that ended).
func (l *Logs) WaitFor(tb testing.TB, timeout time.Duration, stop <-chan struct{}, why func() error, subs ...string) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if lines := l.Lines(subs...); len(lines) > 0 {
			return lines[0]
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no log line with %q in %v; the log:\n%s", subs, timeout, l.String())
		}
		select {
		case <-stop:
			if lines := l.Lines(subs...); len(lines) > 0 {
				return lines[0]
			}
			var err error
			if why != nil {
				err = why()
			}
			tb.Fatalf("stopped (%v) before a log line with %q; the log:\n%s", err, subs, l.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
