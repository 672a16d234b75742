package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/supervisor"
)

const testToken = "t0ken-Secret-42"

// counter is a sink that counts what it acknowledged, per pipeline.
type counter struct {
	mu  sync.Mutex
	got map[string][]change.Position
}

func (c *counter) positions(name string) []change.Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]change.Position(nil), c.got[name]...)
}

type countSink struct {
	c    *counter
	name string
}

func (s countSink) Write(_ context.Context, batch []change.Change) error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	for i := range batch {
		s.c.got[s.name] = append(s.c.got[s.name], batch[i].Pos)
	}
	return nil
}
func (countSink) Close() error { return nil }

type fixtureEnv struct {
	sup  *supervisor.Supervisor
	srv  *Server
	ts   *httptest.Server
	sink *counter
	logs *testenv.Logs
	dir  string
}

// newFixtureEnv runs pipelines on fixture sources behind a test server.
func newFixtureEnv(t *testing.T, srcs map[string]string) *fixtureEnv {
	t.Helper()
	e := &fixtureEnv{sink: &counter{got: map[string][]change.Position{}}, logs: &testenv.Logs{}, dir: t.TempDir()}
	sources := source.NewRegistry()
	sources.Register("fixture", func(_ context.Context, u *url.URL, _ source.Config) (pipeline.Source, error) {
		return fixture.Open(u)
	})
	sinks := sink.NewRegistry()
	sinks.Register("count", func(_ context.Context, u *url.URL, _ sink.Config) (pipeline.Sink, error) {
		return countSink{c: e.sink, name: u.Host}, nil
	})
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The snapshot hook: audit's source cannot, shop.down's database
	// refuses the request, the rest get request 1.
	snap := func(_ context.Context, p config.Pipeline, tables []change.Namespace) (string, error) {
		if p.Name == "audit" {
			return "", fmt.Errorf("%w: fixture sources cannot snapshot incrementally", supervisor.ErrSnapshotUnsupported)
		}
		if tables[0].Table == "down" {
			return "", errors.New("INSERT command denied")
		}
		return "1", nil
	}
	e.sup = supervisor.New(supervisor.Options{Sources: sources, Sinks: sinks, Logger: log, LagInterval: -1, Snapshot: snap})
	var ps []config.Pipeline
	for _, name := range []string{"orders", "audit", "users"} {
		if srcs[name] == "" {
			continue
		}
		ps = append(ps, config.Pipeline{Name: name, Source: srcs[name], To: "count://" + name + "?password=sinkpw", ID: name,
			State: filepath.Join(e.dir, "state.db"), QueueBytes: 1 << 20, CheckpointInterval: 10 * time.Millisecond,
			RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	}
	e.sup.Apply(ps)
	var err error
	e.srv, err = New(Options{Supervisor: e.sup, Token: testToken, Logger: log, HistoryInterval: 50 * time.Millisecond,
		Reload: func() (supervisor.Changes, error) { return e.sup.Apply(ps), nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		e.ts.Close()
		e.srv.Close()
		e.sup.Close()
	})
	return e
}

func (e *fixtureEnv) do(t *testing.T, method, path, token string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func (e *fixtureEnv) pipeline(t *testing.T, name string) PipelineView {
	t.Helper()
	res, b := e.do(t, "GET", "/api/pipelines/"+name, testToken, nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", name, res.StatusCode, b)
	}
	var v PipelineView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const follow = "fixture://?txs=100000&rows=1&follow=on&interval=2ms&tables=orders,users"

// TestAuth: every route but the public ones answers 401 without the
// token or with a wrong one, and the token never reaches the log.
func TestAuth(t *testing.T) {
	e := newFixtureEnv(t, map[string]string{"orders": follow})
	for _, r := range e.srv.Routes() {
		path := strings.ReplaceAll(r.Path, "{name}", "orders")
		for _, tok := range []string{"", "wrong", testToken + "x"} {
			res, body := e.do(t, r.Method, path+"?limit=1", tok, strings.NewReader(`{"tables":["shop.orders"]}`))
			if r.Public {
				if res.StatusCode != 200 {
					t.Errorf("%s %s (public) without token: %d", r.Method, path, res.StatusCode)
				}
				continue
			}
			if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), "bearer token") {
				t.Errorf("%s %s with token %q: %d %s", r.Method, path, tok, res.StatusCode, body)
			}
		}
	}
	res, _ := e.do(t, "GET", "/api/pipelines", testToken, nil)
	if res.StatusCode != 200 {
		t.Errorf("with token: %d", res.StatusCode)
	}
	if logs := e.logs.String(); strings.Contains(logs, testToken) || strings.Contains(logs, "sinkpw") {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
	if !strings.Contains(e.logs.String(), `"status":401`) {
		t.Error("refused requests are not logged")
	}
}

// TestEndpoints exercises every endpoint with the token.
func TestEndpoints(t *testing.T) {
	e := newFixtureEnv(t, map[string]string{"orders": follow, "audit": "fixture://?txs=5&rows=2"})
	waitFor(t, "deliveries", func() bool { return len(e.sink.positions("orders")) > 20 && len(e.sink.positions("audit")) == 10 })
	res, body := e.do(t, "GET", "/api/pipelines", testToken, nil)
	var list PipelineList
	if err := json.Unmarshal(body, &list); err != nil || res.StatusCode != 200 || len(list.Pipelines) != 2 {
		t.Fatalf("list: %d %s", res.StatusCode, body)
	}
	if list.Pipelines[0].Name != "orders" || list.Pipelines[1].Name != "audit" {
		t.Errorf("order: %s, %s", list.Pipelines[0].Name, list.Pipelines[1].Name)
	}
	if strings.Contains(string(body), "sinkpw") || !strings.Contains(string(body), "password=***") {
		t.Errorf("sink URL not redacted: %s", body)
	}
	waitFor(t, "a rate", func() bool { v := e.pipeline(t, "orders"); return v.Rates.Changes > 0 && len(v.History) > 2 })
	v := e.pipeline(t, "orders")
	if v.State != "running" || v.Positions.Delivered == "" || v.Totals.Delivered == 0 || v.Lag.Seconds == nil {
		t.Errorf("orders: %+v", v)
	}
	waitFor(t, "audit finished", func() bool { return e.pipeline(t, "audit").State == "finished" })

	// Pause stops delivery and the position; resume continues without loss.
	res, body = e.do(t, "POST", "/api/pipelines/orders/pause", testToken, nil)
	if res.StatusCode != 202 {
		t.Fatalf("pause: %d %s", res.StatusCode, body)
	}
	waitFor(t, "paused", func() bool { return e.pipeline(t, "orders").State == "paused" })
	paused := e.pipeline(t, "orders")
	n := len(e.sink.positions("orders"))
	time.Sleep(100 * time.Millisecond)
	if again := e.pipeline(t, "orders"); len(e.sink.positions("orders")) != n || again.Positions.Checkpointed != paused.Positions.Checkpointed {
		t.Fatalf("paused pipeline moved: %d → %d changes, %s → %s", n, len(e.sink.positions("orders")), paused.Positions.Checkpointed, again.Positions.Checkpointed)
	}
	res, _ = e.do(t, "GET", "/readyz", testToken, nil)
	if res.StatusCode != 200 {
		t.Errorf("readyz with a paused and a finished pipeline: %d", res.StatusCode)
	}
	if res, body = e.do(t, "POST", "/api/pipelines/orders/resume", testToken, nil); res.StatusCode != 202 {
		t.Fatalf("resume: %d %s", res.StatusCode, body)
	}
	waitFor(t, "more deliveries", func() bool { return len(e.sink.positions("orders")) > n+20 })
	ps := e.sink.positions("orders")
	for i := 1; i < len(ps); i++ {
		if change.Compare(ps[i-1], ps[i]) >= 0 {
			t.Fatalf("change %d at %s after %s: lost or repeated across pause/resume", i, ps[i], ps[i-1])
		}
	}
	if ps[n].Offset != ps[n-1].Offset+100 { // the fixture's rows are 100 bytes of binlog apart
		t.Errorf("first change after resume at %s, last before pause %s: a change was skipped", ps[n], ps[n-1])
	}
	if res, body = e.do(t, "POST", "/api/pipelines/orders/restart", testToken, nil); res.StatusCode != 202 {
		t.Errorf("restart: %d %s", res.StatusCode, body)
	}

	res, body = e.do(t, "POST", "/api/pipelines/orders/snapshot", testToken, strings.NewReader(`{"tables":["shop.orders"]}`))
	var started SnapshotStarted
	if err := json.Unmarshal(body, &started); res.StatusCode != 202 || err != nil || started.Request != "1" || !slices.Equal(started.Tables, []string{"shop.orders"}) {
		t.Errorf("snapshot: %d %s", res.StatusCode, body)
	}
	for _, b := range []string{`{}`, `{"tables":["orders"]}`, `{"tables":["shop."]}`, `{"tables":["shop.orders"],"x":1}`} {
		if res, body = e.do(t, "POST", "/api/pipelines/orders/snapshot", testToken, strings.NewReader(b)); res.StatusCode != 400 {
			t.Errorf("snapshot %s: %d %s", b, res.StatusCode, body)
		}
	}
	if res, body = e.do(t, "POST", "/api/pipelines/orders/snapshot", testToken, strings.NewReader(`{"tables":["shop.down"]}`)); res.StatusCode != 500 || !strings.Contains(string(body), "denied") {
		t.Errorf("snapshot the database refuses: %d %s", res.StatusCode, body)
	}
	if res, body = e.do(t, "POST", "/api/pipelines/audit/snapshot", testToken, strings.NewReader(`{"tables":["shop.orders"]}`)); res.StatusCode != 501 || !strings.Contains(string(body), "cannot snapshot") {
		t.Errorf("snapshot on a source that cannot: %d %s", res.StatusCode, body)
	}
	for _, p := range []string{"/api/pipelines/nope", "/api/pipelines/nope/tail"} {
		if res, _ = e.do(t, "GET", p, testToken, nil); res.StatusCode != 404 {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
	}
	if res, _ = e.do(t, "POST", "/api/pipelines/nope/pause", testToken, nil); res.StatusCode != 404 {
		t.Errorf("pause nope: %d", res.StatusCode)
	}
	res, body = e.do(t, "POST", "/api/reload", testToken, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"unchanged": [`) {
		t.Errorf("reload: %d %s", res.StatusCode, body)
	}
	res, body = e.do(t, "GET", "/metrics", testToken, nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `sluice_pipeline_changes_total{op="insert",pipeline="orders",table="shop.orders"}`) {
		t.Errorf("metrics: %d %.500s", res.StatusCode, body)
	}
	res, body = e.do(t, "GET", "/healthz", "", nil)
	if res.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
	res, body = e.do(t, "GET", "/", "", nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), "<title>Sluice</title>") || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("dashboard: %d %.200s", res.StatusCode, body)
	}
}

// TestTail reads the server-sent events of a running pipeline.
func TestTail(t *testing.T) {
	e := newFixtureEnv(t, map[string]string{"orders": follow})
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/pipelines/orders/tail?limit=5", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("tail: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	var events, data int
	var last change.Position
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: change":
			events++
		case strings.HasPrefix(line, "data: "):
			data++
			c, err := change.DecodeJSON([]byte(strings.TrimPrefix(line, "data: ")))
			if err != nil {
				t.Fatalf("data is not a change: %v: %s", err, line)
			}
			if !last.IsZero() && change.Compare(last, c.Pos) >= 0 {
				t.Errorf("tail out of order: %s after %s", c.Pos, last)
			}
			last = c.Pos
		}
	}
	if events != 5 || data != 5 {
		t.Errorf("got %d events, %d data lines; want 5 (limit)", events, data)
	}
	if res, _ := e.do(t, "GET", "/api/pipelines/orders/tail?limit=x", testToken, nil); res.StatusCode != 400 {
		t.Errorf("bad limit: %d", res.StatusCode)
	}
}

// TestTailDropsSlowClient: a client that stops reading is dropped, and
// the pipeline keeps its pace.
func TestTailDropsSlowClient(t *testing.T) {
	e := newFixtureEnv(t, map[string]string{"orders": "fixture://?txs=100000&rows=1&follow=on&interval=200us&tables=orders&payload=2000"})
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A client that sends the request and never reads the answer.
	io.WriteString(conn, "GET /api/pipelines/orders/tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+testToken+"\r\n\r\n")
	tail, _ := e.sup.Tail("orders")
	waitFor(t, "the watcher", func() bool { return tail.Watchers() == 1 })
	waitFor(t, "the slow watcher to be dropped", func() bool { return tail.Watchers() == 0 })
	n := len(e.sink.positions("orders"))
	waitFor(t, "delivery to go on", func() bool { return len(e.sink.positions("orders")) > n+50 })
}

// TestTLS serves the API over HTTPS.
func TestTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	e := newFixtureEnv(t, map[string]string{"orders": follow})
	cfg, err := LoadTLS(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln, cfg) }()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: mustCAPool(t, files.CA)}}
	req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/api/pipelines", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil {
		t.Errorf("HTTPS: %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		// Go's TLS server answers plain HTTP with a 400; either way no data.
		t.Log("plain HTTP to the TLS port was answered (with an error status)")
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func mustCAPool(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA in " + caFile)
	}
	return &tls.Config{RootCAs: pool}
}
