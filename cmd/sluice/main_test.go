package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/binlog/changes"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden runs each case under testdata/golden/<case>/ as a user types
// it: "args" holds the arguments one per line; "stdout", "stderr" and
// "code" hold what sluice must print and its exit code; "stdin-from", if
// present, names the file given as standard input. Inputs are the
// fixtures in testdata/binlogs (written by MariaDB 10.11) and MySQL files
// of the repository's binlog corpus (../../testdata/binlog-corpus/mysql).
// Run with -update to rewrite the outputs.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				if l != "" {
					args = append(args, l)
				}
			}
			var stdin []byte
			if p, err := os.ReadFile(filepath.Join(dir, "stdin-from")); err == nil {
				if stdin, err = os.ReadFile(strings.TrimSpace(string(p))); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			e := &env{Stdin: bytes.NewReader(stdin), Stdout: &stdout, Stderr: &stderr}
			code := run(context.Background(), e, args)
			got := map[string][]byte{
				"stdout": stdout.Bytes(),
				"stderr": stderr.Bytes(),
				"code":   []byte(strconv.Itoa(code) + "\n"),
			}
			for _, name := range []string{"stdout", "stderr", "code"} {
				path := filepath.Join(dir, name)
				if *update {
					if err := os.WriteFile(path, got[name], 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[name], want) {
					t.Errorf("sluice %s: %s differs from %s:\n--- got\n%s\n--- want\n%s", strings.Join(args, " "), name, path, got[name], want)
				}
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, exitUsage},
		{[]string{"--help"}, exitOK},
		{[]string{"nope"}, exitUsage},
		{[]string{"binlog"}, exitUsage},
		{[]string{"binlog", "events"}, exitUsage},
		{[]string{"binlog", "events", "--format", "xml", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "decode", "--nope", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "decode", "--start-position", "-1", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "decode", "--stop-datetime", "yesterday", "testdata/binlogs/bin.000004"}, exitUsage},
		{[]string{"binlog", "decode", "testdata/binlogs/bin.000004"}, exitOK},
		{[]string{"binlog", "decode", "testdata/binlogs/missing.000001"}, exitFailure},
		{[]string{"binlog", "decode", "testdata/binlogs/truncated.000001"}, exitFailure},
		{[]string{"binlog", "events", "testdata/binlogs/badcrc.000001"}, exitFailure},
		{[]string{"binlog", "events", "--skip-checksums", "testdata/binlogs/truncated.000001"}, exitFailure},
		{[]string{"binlog", "events", "testdata/binlogs/bin.000004", "--", "--format"}, exitFailure},
	} {
		var out bytes.Buffer
		e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
		if got := run(context.Background(), e, tc.args); got != tc.code {
			t.Errorf("sluice %s: exit %d, want %d; output:\n%s", strings.Join(tc.args, " "), got, tc.code, out.String())
		}
	}
}

func TestBatchEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\tb\nc\\d\x00", `a\tb\nc\\d\0`},
		{"", ""},
	} {
		if got := batchEscape(tc.in); got != tc.want {
			t.Errorf("batchEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	var nilProgress *progress
	nilProgress.update(1, 2) // a nil progress (not a terminal) draws nothing
	nilProgress.done()
	p := newProgress(&buf, changes.NewDecoder(changes.Filter{}))
	p.update(10<<20, 100<<20) // too soon after the start: nothing
	if buf.Len() != 0 {
		t.Fatalf("drew %q right after the start", buf.String())
	}
	p.start = p.start.Add(-2 * time.Second)
	p.last = p.start
	p.update(50<<20, 100<<20)
	line := buf.String()
	for _, want := range []string{"\r50/100 MB (50%)", "0 events", "25 MB/s", "ETA 2s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	p.done()
	if !strings.HasSuffix(buf.String(), "\r") {
		t.Errorf("done did not clear the line: %q", buf.String())
	}
}

// TestByteProgress checks the line the binlog tools draw: bytes, events
// (when counted), rate and ETA, never more often than progressEvery, and
// cleared at the end.
func TestByteProgress(t *testing.T) {
	var nilProgress *byteProgress
	nilProgress.draw(1, 2) // not a terminal: nothing
	nilProgress.done()
	if p := newByteProgressTotal(&env{Stderr: new(bytes.Buffer)}, 10); p != nil {
		t.Fatal("a progress line on a standard error that is not a terminal")
	}
	for _, tc := range []struct {
		name          string
		total         int64
		done, events  int64
		want, notWant []string
	}{
		{"events", 100 << 20, 50 << 20, 1234, []string{"\r50/100 MB (50%)", "1234 events", "25 MB/s", "ETA 2s"}, nil},
		{"bytes only", 100 << 20, 25 << 20, -1, []string{"\r25/100 MB (25%)", "12 MB/s", "ETA 6s"}, []string{"events"}},
		{"past the total", 10 << 20, 12 << 20, 7, []string{"\r12/10 MB (100%)", "7 events", "ETA ?"}, nil},
		{"unknown total", 0, 4 << 20, 3, []string{"\r4 MB  3 events  2 MB/s"}, []string{"%", "ETA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := newByteProgressTotal(&env{Stderr: &buf, StderrTerminal: true}, tc.total)
			p.draw(tc.done, tc.events) // too soon after the start: nothing
			if buf.Len() != 0 {
				t.Fatalf("drew %q right after the start", buf.String())
			}
			p.start = p.start.Add(-2 * time.Second)
			p.last = p.start
			p.draw(tc.done, tc.events)
			line := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("progress line %q lacks %q", line, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(line, w) {
					t.Errorf("progress line %q has %q", line, w)
				}
			}
			p.draw(tc.done+1, tc.events) // within progressEvery of the last: nothing
			if buf.String() != line {
				t.Errorf("redrew within %v: %q", progressEvery, buf.String())
			}
			p.done()
			if want := line + "\r" + strings.Repeat(" ", len(line)-1) + "\r"; buf.String() != want {
				t.Errorf("done wrote %q, want the line blanked: %q", buf.String()[len(line):], want[len(line):])
			}
		})
	}
}
