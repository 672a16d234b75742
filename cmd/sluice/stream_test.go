package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
)

// testSources registers the shared fixture source under "fixture"
// (fixture://?txs=3&rows=2: transactions of a row of shop.orders and one
// of shop.audit, see internal/fixture). started, when not nil, is closed
// once the source has emitted its first batch.
func testSources(started chan struct{}) *source.Registry {
	r := source.NewRegistry()
	r.Register("fixture", func(_ context.Context, u *url.URL, _ source.Config) (pipeline.Source, error) {
		o, err := fixture.ParseURL(u)
		if err != nil {
			return nil, err
		}
		if started != nil {
			var once sync.Once
			o.Emitted = func(context.Context, []change.Change) error {
				once.Do(func() { close(started) })
				return nil
			}
		}
		s, err := fixture.New(o)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
	return r
}

func runStreamTest(ctx context.Context, t *testing.T, started chan struct{}, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	err = streamWith(ctx, e, args, testSources(started), sinks.BuiltinTo(&out))
	return out.String(), errb.String(), err
}

func decodeLines(t *testing.T, text string) []change.Change {
	t.Helper()
	var out []change.Change
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		c, err := change.DecodeJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, c)
	}
	return out
}

func TestStreamToStdoutAndResume(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	out, logs, err := runStreamTest(context.Background(), t, nil, "fixture://u:hunter2@db/?txs=3&rows=2", "--state", state, "--begin-commit", "--include", `shop\.orders`)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeLines(t, out)
	var ops []string
	for _, c := range got {
		ops = append(ops, c.Op.String()+":"+c.Table)
	}
	want := strings.TrimSpace(strings.Repeat("begin: insert:orders commit: ", 3))
	if strings.Join(ops, " ") != want {
		t.Errorf("ops %q, want %q", strings.Join(ops, " "), want)
	}
	if strings.Contains(logs, "hunter2") {
		t.Errorf("logs show the password:\n%s", logs)
	}
	if !strings.Contains(logs, "u:***@db") || !strings.Contains(logs, "written=9") {
		t.Errorf("logs lack the redacted source or the summary:\n%s", logs)
	}
	// Second run: the state file says everything was delivered.
	out, _, err = runStreamTest(context.Background(), t, nil, "fixture://u:hunter2@db/?txs=3&rows=2", "--state", state)
	if err != nil || out != "" {
		t.Errorf("resumed run wrote %q, err %v; want nothing", out, err)
	}
}

func TestStreamToFileStopsCleanlyOnSignal(t *testing.T) {
	dir := t.TempDir()
	state, file := filepath.Join(dir, "state.db"), filepath.Join(dir, "out.jsonl")
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := runStreamTest(ctx, t, started, "fixture://db/?txs=4&rows=2&follow=1", "--to", "file://"+file, "--state", state, "--id", "feed", "--checkpoint-interval", "1h")
		done <- err
	}()
	<-started
	// Wait until the file holds all 8 rows, then "press Ctrl-C".
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(file)
		if bytes.Count(data, []byte("\n")) == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file has %q", data)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stream after cancel: %v", err)
	}
	// Even with an hour-long checkpoint interval, the position is saved on the way out.
	b, err := checkpoint.OpenBolt(state, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := b.Load(context.Background(), "feed")
	if err != nil {
		t.Fatal(err)
	}
	if p.Offset != 500 || p.Index != 0 {
		t.Errorf("saved %s, want the last commit at 500", p)
	}
}

func TestStreamErrors(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no url", []string{"--state", state}, true, "want one SOURCE-URL"},
		{"bad from", []string{"fixture://db/", "--from", "yesterday", "--state", state}, true, "--from"},
		{"bad include", []string{"fixture://db/", "--include", "shop\\.(", "--state", state}, true, "include"},
		{"bad log level", []string{"fixture://db/", "--log-level", "loud", "--state", state}, true, "log-level"},
		{"unknown flag", []string{"fixture://db/", "--nope"}, true, "nope"},
		{"unknown source", []string{"nosuch://u:hunter2@db/", "--state", state}, true, "nosuch"},
		{"source refuses its URL", []string{"fixture://u:hunter2@db/?login=fail", "--state", state}, true, "cannot log in"},
		{"unknown sink", []string{"fixture://u:hunter2@db/", "--to", "nosuch://k:hunter2@b1/t", "--state", state}, true, "nosuch"},
		{"sink refuses its URL", []string{"fixture://u:hunter2@db/", "--to", "kafka://k:hunter2@b1/?sasl=plain&compression=brotli", "--state", state}, true, `parameter compression="brotli"`},
		{"unknown state scheme", []string{"fixture://db/", "--state", "nosuch://u:hunter2@h/x"}, true, "checkpoint store nosuch://u:***@h/x"},
		{"state refuses its URL", []string{"fixture://db/", "--state", "etcd://u:hunter2@127.0.0.1:1/x?bogus=1"}, true, "bogus"},
		{"state unreachable", []string{"fixture://db/", "--state", "etcd://u:hunter2@127.0.0.1:1/x?timeout=200ms"}, false, "checkpoint store etcd://u:***@127.0.0.1:1/x"},
		{"state dir missing", []string{"fixture://db/", "--state", filepath.Join(state, "x", "y.db")}, false, "state file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, logs, err := runStreamTest(context.Background(), t, nil, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			var ue *usageError
			if errors.As(err, &ue) != tt.usage {
				t.Errorf("usage error = %v, want %v: %v", !tt.usage, tt.usage, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if strings.Contains(err.Error()+logs, "hunter2") {
				t.Errorf("password shown: %v\n%s", err, logs)
			}
		})
	}
	// --help is not an error.
	var out bytes.Buffer
	e := &env{Stdout: &out, Stderr: &out}
	if err := streamWith(context.Background(), e, []string{"--help"}, source.NewRegistry(), sinks.Builtin()); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "--begin-commit") {
		t.Errorf("--help: %v\n%s", err, out.String())
	}
}

func TestWithSourceDatabase(t *testing.T) {
	tests := []struct{ format, src, want string }{
		{"debezium", "postgres://u@db/shop?slot=s", "debezium?database.dbname=shop"},
		{"debezium?schemas=true", "postgresql://u@db/sh%20op", "debezium?database.dbname=sh+op&schemas=true"},
		{"debezium?database.dbname=x", "postgres://u@db/shop", "debezium?database.dbname=x"},
		{"debezium", "postgres://u@db/", "debezium"},
		{"debezium", "mysql://u@db/?server-id=1", "debezium"},
		{"maxwell", "postgres://u@db/shop", "maxwell"},
	}
	for _, tt := range tests {
		if got := withSourceDatabase(tt.format, tt.src); got != tt.want {
			t.Errorf("withSourceDatabase(%q, %q) = %q, want %q", tt.format, tt.src, got, tt.want)
		}
	}
}

// TestStreamStateURL: --state takes a file:// URL for the same bbolt
// file a bare path names.
func TestStreamStateURL(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	out, _, err := runStreamTest(context.Background(), t, nil, "fixture://db/?txs=2&rows=2", "--state", "file://"+state)
	if err != nil || out == "" {
		t.Fatalf("first run wrote %q, err %v", out, err)
	}
	out, _, err = runStreamTest(context.Background(), t, nil, "fixture://db/?txs=2&rows=2", "--state", state)
	if err != nil || out != "" {
		t.Errorf("resumed run through the bare path wrote %q, err %v; want nothing", out, err)
	}
}
