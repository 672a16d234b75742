package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/server"
	"github.com/sluice-cdc/sluice/sinks"
	"github.com/sluice-cdc/sluice/source"
)

// runTest runs "sluice run" in-process with the fixture source; ready is
// called with the HTTP address once the pipelines started.
func runTest(ctx context.Context, sources *source.Registry, args []string, ready func(string)) (stdout, stderr *testenv.Logs, code int) {
	stdout, stderr = &testenv.Logs{}, &testenv.Logs{}
	e := &env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr}
	err := runWith(ctx, e, args, sources, sinks.BuiltinTo(stdout), ready)
	return stdout, stderr, exitCode(e, err)
}

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunBadConfig: a bad config exits 2 with file:line:key and starts
// nothing (no state file, no sink file).
func TestRunBadConfig(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown key", "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n    sink: stdout://\n", "sluice.yaml:5: pipelines.a.sink: unknown key"},
		{"bad source URL", "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n  b:\n    source: fixture://?colour=red\n", "sluice.yaml:6: pipelines.b.source: source fixture://?colour=red: unknown parameter colour"},
		{"unknown scheme", "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n  b:\n    source: oracle://db/\n", "sluice.yaml:6: pipelines.b.source: "},
		{"bad sink URL", "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl?fsync=no\n", "sluice.yaml:4: pipelines.a.to: sink file://"},
		{"duplicate name", "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n  a:\n    source: fixture://?txs=2\n", "sluice.yaml:5: pipelines.a: given twice"},
		{"missing env var", "pipelines:\n  a:\n    source: fixture://u:${SLUICE_TEST_UNSET}@h/?txs=1\n    to: file://DIR/out.jsonl\n", "sluice.yaml:3: pipelines.a.source: environment variable SLUICE_TEST_UNSET is not set"},
		{"ha file state", "ha:\n  coordinator: etcd://127.0.0.1:1/sluice\npipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n", "sluice.yaml:4: pipelines.a.state: "},
		{"ha bad coordinator", "ha:\n  coordinator: consul://c/\npipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n    state: etcd://127.0.0.1:1/s\n", "sluice.yaml:2: ha.coordinator: "},
		{"bad format", "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://DIR/out.jsonl\n    format: avro-ish\n", "sluice.yaml:5: pipelines.a.format:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfig(t, dir, strings.ReplaceAll(c.text, "DIR", dir))
			_, stderr, code := runTest(context.Background(), testSources(nil), []string{path}, nil)
			if code != exitUsage {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if want := strings.ReplaceAll(c.want, "sluice.yaml", path); !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, want)
			}
			for _, f := range []string{"sluice.db", "out.jsonl"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s exists: something started", f)
				}
			}
		})
	}
}

// TestRunCheck: --check checks and exits 0 without running anything.
func TestRunCheck(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "pipelines:\n  a:\n    source: fixture://?txs=1\n    to: file://"+dir+"/out.jsonl\n")
	stdout, stderr, code := runTest(context.Background(), testSources(nil), []string{"--check", path}, nil)
	if code != 0 || !strings.Contains(stdout.String(), "1 pipelines, no problems") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err == nil {
		t.Error("--check opened the sink")
	}
}

// exampleConfig returns the YAML example of docs/config.md.
func exampleConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Example.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/config.md has no ```yaml example under ## Example")
	}
	return string(m[1])
}

// TestConfigExample loads the example of docs/config.md with the real
// source and sink registries.
func TestConfigExample(t *testing.T) {
	for k, v := range map[string]string{"MYSQL_PASSWORD": "pw", "PG_PASSWORD": "pw2", "SLUICE_API_TOKEN": "tok", "SLUICE_HASH_KEY": "hk"} {
		t.Setenv(k, v)
	}
	path := writeConfig(t, t.TempDir(), exampleConfig(t))
	stdout, stderr, code := runTest(context.Background(), source.Default(), []string{"--check", path}, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout.String(), "3 pipelines") {
		t.Errorf("stdout: %s", stdout)
	}
}

// TestConfigKeysDocumented: every key a pipeline takes is in
// docs/config.md's table, and every flag of sluice stream has its key.
func TestConfigKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := config.PipelineKeys()
	for _, k := range keys {
		if !bytes.Contains(doc, []byte("| `"+k+"` |")) {
			t.Errorf("pipeline key %s is not in docs/config.md's table", k)
		}
	}
	// Flags that are process-wide in sluice run: where they went.
	elsewhere := map[string]string{"log-level": "log.level", "log-json": "log.format", "metrics": "http.listen", "cpuprofile": "run --cpuprofile",
		"memory-limit": "run --memory-limit"}
	e := &env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}
	fs := flagsOf(t, e)
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(keys, f.Name) {
			return
		}
		if w, ok := elsewhere[f.Name]; ok {
			if !bytes.Contains(doc, []byte("`--"+f.Name+"`")) {
				t.Errorf("docs/config.md does not say where --%s went (%s)", f.Name, w)
			}
			return
		}
		t.Errorf("sluice stream --%s has no config key", f.Name)
	})
}

// flagsOf returns the flag set of sluice stream, by asking it for help.
func flagsOf(t *testing.T, e *env) *flag.FlagSet {
	t.Helper()
	var out bytes.Buffer
	e.Stdout = &out
	streamWith(context.Background(), e, []string{"--help"}, testSources(nil), sinks.BuiltinTo(io.Discard))
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	ms := regexp.MustCompile(`(?m)^  -([a-z-]+)`).FindAllStringSubmatch(out.String(), -1)
	for _, m := range ms {
		fs.String(m[1], "", "")
	}
	if len(ms) < 15 {
		t.Fatalf("only %d flags in stream --help:\n%s", len(ms), out.String())
	}
	return fs
}

// TestRunFixture runs two fixture pipelines with the API on, reloads on
// the API after an edit, and stops cleanly on cancel.
func TestRunFixture(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SLUICE_TEST_TOKEN", "tok-123")
	text := `http:
  listen: 127.0.0.1:0
  token: ${SLUICE_TEST_TOKEN}
log:
  format: json
pipelines:
  a:
    source: fixture://u:hunter2@db/?txs=20&rows=2
    to: file://` + dir + `/a.jsonl
  b:
    source: fixture://?txs=100000&rows=1&follow=on&interval=5ms
    to: file://` + dir + `/b.jsonl
`
	path := writeConfig(t, dir, text)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	type result struct {
		stderr *testenv.Logs
		code   int
	}
	done := make(chan result, 1)
	go func() {
		_, stderr, code := runTest(ctx, testSources(nil), []string{path}, func(a string) { addr <- a })
		done <- result{stderr, code}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case r := <-done:
		t.Fatalf("run ended: %d %s", r.code, r.stderr)
	}
	get := func(path string, v any) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer tok-123")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if v != nil {
			json.NewDecoder(res.Body).Decode(v)
		}
		return res.StatusCode
	}
	waitUntil(t, "a to finish", func() bool {
		var v server.PipelineView
		get("/api/pipelines/a", &v)
		return v.State == "finished" && v.Totals.Delivered == 40
	})
	// Edit: drop a, add c; b is unchanged and keeps running.
	var bBefore server.PipelineView
	waitUntil(t, "b to run", func() bool { get("/api/pipelines/b", &bBefore); return bBefore.State == "running" })
	os.WriteFile(path, []byte(strings.Replace(text, "  a:\n    source: fixture://u:hunter2@db/?txs=20&rows=2\n    to: file://"+dir+"/a.jsonl\n",
		"  c:\n    source: fixture://?txs=3&rows=1\n    to: file://"+dir+"/c.jsonl\n", 1)), 0o600)
	req, _ := http.NewRequest("POST", base+"/api/reload", nil)
	req.Header.Set("Authorization", "Bearer tok-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rr server.ReloadResult
	json.NewDecoder(res.Body).Decode(&rr)
	res.Body.Close()
	if strings.Join(rr.Added, ",") != "c" || strings.Join(rr.Removed, ",") != "a" || strings.Join(rr.Unchanged, ",") != "b" {
		t.Errorf("reload: %+v", rr)
	}
	waitUntil(t, "c to finish", func() bool {
		var v server.PipelineView
		return get("/api/pipelines/c", &v) == 200 && v.State == "finished"
	})
	var b server.PipelineView
	get("/api/pipelines/b", &b)
	if b.State != "running" || !b.Since.Equal(bBefore.Since) {
		t.Errorf("b after reload: %s since %s, was running since %s", b.State, b.Since, bBefore.Since)
	}
	cancel()
	r := <-done
	if r.code != 0 {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	logs := r.stderr.String()
	if strings.Contains(logs, "hunter2") || strings.Contains(logs, "tok-123") {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
	for _, want := range []string{`"msg":"pipeline running","pipeline":"b"`, `"msg":"config reloaded"`, `"msg":"pipeline removed","pipeline":"a"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamMetrics: sluice stream --metrics serves the pipeline's metrics.
func TestStreamMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := runStreamTest(ctx, t, nil, "fixture://?txs=100000&rows=1&follow=on&interval=2ms", "--state", filepath.Join(t.TempDir(), "s.db"),
			"--id", "orders", "--metrics", addr)
		done <- err
	}()
	var body string
	waitUntil(t, "metrics", func() bool {
		res, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body = string(b)
		return strings.Contains(body, `sluice_pipeline_changes_total{op="insert",pipeline="orders",table="shop.orders"}`)
	})
	for _, want := range []string{`sluice_pipeline_state{pipeline="orders",state="running"} 1`, `sluice_pipeline_queue_bytes{pipeline="orders"}`, "process_resident_memory_bytes"} {
		if !strings.Contains(body, want) {
			t.Errorf("stream metrics lack %s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
