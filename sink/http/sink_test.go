package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/internal/webhooktest"
	"github.com/sluice-cdc/sluice/pipeline"
)

const secret = "hook-Secret-1"

// serve starts rc on a test server.
func serve(t *testing.T, rc *webhooktest.Receiver) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return srv
}

// openSink opens the sink raw names.
func openSink(t *testing.T, raw string) *Sink {
	t.Helper()
	s, err := Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logOf returns the row changes of a fixture log after from.
func logOf(src *fixture.Source, from change.Position) []change.Change {
	var out []change.Change
	for c := range src.After(from) {
		if c.Op == change.OpInsert {
			out = append(out, c)
		}
	}
	return out
}

// checkReceived checks that the messages decode to want, in order.
func checkReceived(t *testing.T, msgs [][]byte, want []change.Change) {
	t.Helper()
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, want %d", len(msgs), len(want))
	}
	for i, m := range msgs {
		c, err := change.DecodeJSON(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !change.EqualChange(&c, &want[i]) {
			t.Fatalf("message %d decodes to %+v, want %+v", i, c, want[i])
		}
	}
}

// runPipeline runs src into s with the store s wraps.
func runPipeline(t *testing.T, src pipeline.Source, s *Sink, store checkpoint.Store) error {
	t.Helper()
	p, err := pipeline.New(src, s, s.WrapStore(store), pipeline.WithID("hook"), pipeline.WithCheckpointInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return p.Run(ctx)
}

// TestDelivery posts a fixture log as NDJSON and as a JSON array, signed,
// in requests of at most 7 messages: the receiver checks every signature
// and key and gets every change once, in order.
func TestDelivery(t *testing.T) {
	for _, body := range []string{"ndjson", "array"} {
		t.Run(body, func(t *testing.T) {
			rc := webhooktest.New([]byte(secret), "X-Sig")
			srv := serve(t, rc)
			src, _ := fixture.New(fixture.Options{Txs: []int{3, 9, 1, 20, 4}, Batch: 6})
			s := openSink(t, srv.URL+"/hook?secret="+secret+"&signature-header=X-Sig&max-messages=7&body="+body)
			if err := runPipeline(t, src, s, &checkpoint.Memory{}); err != nil {
				t.Fatal(err)
			}
			if p := rc.Problems(); len(p) > 0 {
				t.Fatalf("receiver problems: %v", p)
			}
			checkReceived(t, rc.Deduplicated(), logOf(src, change.Position{}))
			for _, r := range rc.Requests() {
				if len(r.Messages) > 7 || r.Repeat {
					t.Errorf("request %s: %d messages, repeat %t", r.Key, len(r.Messages), r.Repeat)
				}
			}
		})
	}
}

// TestRetries answers a request with 500, 503, a 429 asking to wait a
// second, and a dropped connection after recording it, then accepts: the
// sink sends it again each time with the same key and body, waits as
// asked, and the receiver processes every change once.
func TestRetries(t *testing.T) {
	rc := webhooktest.New([]byte(secret), DefaultSignatureHeader)
	var at429 time.Time
	var after429 time.Duration
	rc.Fail(func(n int, _ *nethttp.Request) webhooktest.Answer {
		switch n {
		case 1:
			return webhooktest.Answer{Status: 500, Body: "boom"}
		case 2:
			return webhooktest.Answer{Status: 503}
		case 3:
			at429 = time.Now()
			return webhooktest.Answer{Status: 429, Header: nethttp.Header{"Retry-After": {"1"}}}
		case 4:
			after429 = time.Since(at429)
			return webhooktest.Answer{Hang: true, Record: true}
		}
		return webhooktest.Answer{}
	})
	srv := serve(t, rc)
	src, _ := fixture.New(fixture.Options{Txs: []int{5, 5, 5}})
	s := openSink(t, srv.URL+"/?secret="+secret+"&backoff-max=50ms&max-messages=5")
	if err := runPipeline(t, src, s, &checkpoint.Memory{}); err != nil {
		t.Fatal(err)
	}
	if p := rc.Problems(); len(p) > 0 {
		t.Fatalf("receiver problems: %v", p)
	}
	if after429 < 900*time.Millisecond {
		t.Errorf("sent again %v after a 429 with Retry-After: 1", after429)
	}
	reqs := rc.Requests()
	if len(reqs) != 4 || !reqs[2].Repeat || reqs[2].Key != reqs[1].Key {
		t.Errorf("%s: want the second request sent again under its key after the dropped connection", rc)
	}
	checkReceived(t, rc.Deduplicated(), logOf(src, change.Position{}))
}

// TestClientError answers 400: the pipeline stops with the status and the
// answer's body in its error, and the store's position stays before the
// refused request's changes.
func TestClientError(t *testing.T) {
	rc := webhooktest.New(nil, "")
	rc.Fail(func(n int, _ *nethttp.Request) webhooktest.Answer {
		if n == 1 {
			return webhooktest.Answer{Status: 400, Body: `{"error":"field total: not a number"}`}
		}
		return webhooktest.Answer{}
	})
	srv := serve(t, rc)
	src, _ := fixture.New(fixture.Options{Txs: []int{2, 2, 2}})
	s := openSink(t, srv.URL+"/x?max-messages=2")
	store := &checkpoint.Memory{}
	err := runPipeline(t, src, s, store)
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "field total: not a number") {
		t.Fatalf("error %v: want the status and the body", err)
	}
	if rc.Received() != 2 {
		t.Errorf("%d requests, want 2 (none after the refused one)", rc.Received())
	}
	p, _ := store.Load(context.Background(), "hook")
	if first := logOf(src, change.Position{}); change.Compare(p, first[2].Pos) >= 0 || change.Compare(p, first[1].Pos) < 0 {
		t.Errorf("stored position %s: want the end of the first request, before %s", p, first[2].Pos)
	}
}

// TestRepeatAfterCrash interrupts a request whose changes the receiver
// took, and starts a new sink on the same store, whose pipeline delivers
// the changes again in other batches: the first request repeats the
// interrupted one with its key and body, and nothing else is repeated.
func TestRepeatAfterCrash(t *testing.T) {
	rc := webhooktest.New([]byte(secret), DefaultSignatureHeader)
	srv := serve(t, rc)
	hang := make(chan struct{})
	rc.Fail(func(n int, _ *nethttp.Request) webhooktest.Answer {
		if n == 1 {
			<-hang // taken, never answered: the process dies first
			return webhooktest.Answer{Hang: true, Record: true}
		}
		return webhooktest.Answer{}
	})
	all := make([]change.Change, 0, 40)
	src, _ := fixture.New(fixture.Options{Txs: []int{40}})
	all = logOf(src, change.Position{})
	store := &checkpoint.Memory{}
	raw := srv.URL + "/?secret=" + secret + "&max-messages=8"
	ctx := context.Background()

	s1 := openSink(t, raw)
	j1 := s1.WrapStore(store)
	if _, err := j1.Load(ctx, "p"); err == nil {
		t.Fatal("a position before the first run")
	}
	if err := s1.WriteAt(ctx, all[:5], all[4].Pos); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s1.WriteAt(cctx, all[5:20], all[19].Pos) }()
	for rc.Received() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel() // the crash: the request is in the receiver's hands, unanswered
	<-done
	close(hang)
	for len(rc.Requests()) < 2 {
		time.Sleep(time.Millisecond)
	}

	s2 := openSink(t, raw)
	j2 := s2.WrapStore(store)
	from, err := j2.Load(ctx, "p")
	if err != nil || from != all[4].Pos {
		t.Fatalf("restart from %s (%v), want %s", from, err, all[4].Pos)
	}
	// The pipeline's new batches end before, and then after, the end of
	// the interrupted request (change 12).
	if err := s2.WriteAt(ctx, all[5:9], all[8].Pos); err != nil {
		t.Fatal(err)
	}
	if got := len(rc.Requests()); got != 2 {
		t.Fatalf("%d requests after a batch shorter than the interrupted request, want it held", got)
	}
	if err := j2.Save(ctx, "p", all[8].Pos); err != nil {
		t.Fatal(err)
	}
	if p, _ := store.Load(ctx, "p"); p != all[4].Pos {
		t.Errorf("stored %s while changes are held, want %s", p, all[4].Pos)
	}
	if err := s2.WriteAt(ctx, all[9:30], all[29].Pos); err != nil {
		t.Fatal(err)
	}
	reqs := rc.Requests()
	if len(reqs) < 3 || !reqs[2].Repeat || reqs[2].Key != reqs[1].Key {
		t.Fatalf("requests after the restart: %s, want the interrupted one repeated first", rc)
	}
	for _, r := range reqs[3:] {
		if r.Repeat {
			t.Errorf("request %s repeated", r.Key)
		}
	}
	if p := rc.Problems(); len(p) > 0 {
		t.Fatalf("receiver problems: %v", p)
	}
	checkReceived(t, rc.Deduplicated(), all[:30])
}

// TestGiveUp: a webhook that keeps failing stops the pipeline after
// retry-for, and its error does not show the credentials.
func TestGiveUp(t *testing.T) {
	rc := webhooktest.New(nil, "")
	rc.Fail(func(int, *nethttp.Request) webhooktest.Answer { return webhooktest.Answer{Status: 502} })
	srv := serve(t, rc)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("u", "basic-Secret-3")
	s := openSink(t, u.String()+"/?token=&retry-for=1s&backoff-max=100ms")
	err := s.WriteAt(context.Background(), testChanges(3), change.Position{})
	if err == nil || !strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), "502") || strings.Contains(err.Error(), "basic-Secret-3") {
		t.Errorf("error %v", err)
	}
}

// testChanges returns n inserts.
func testChanges(n int) []change.Change {
	src, _ := fixture.New(fixture.Options{Txs: []int{n}})
	return logOf(src, change.Position{})
}

// TestTLS posts to an https:// server that requires a client certificate.
func TestTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	rc := webhooktest.New(nil, "")
	srv := httptest.NewUnstartedServer(rc)
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		t.Fatal(err)
	}
	caPool := mustPool(t, files.CA)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: caPool}
	srv.StartTLS()
	defer srv.Close()
	base := srv.URL + "/?tls-ca=" + files.CA
	s := openSink(t, base+"&tls-cert="+files.ClientCert+"&tls-key="+files.ClientKey)
	if err := s.WriteAt(context.Background(), testChanges(2), change.Position{}); err != nil {
		t.Fatal(err)
	}
	if len(rc.Requests()) != 1 {
		t.Errorf("%d requests", len(rc.Requests()))
	}
	// No client certificate: refused, not retried for retry-for.
	s2 := openSink(t, base+"&retry-for=1m")
	began := time.Now()
	if err := s2.WriteAt(context.Background(), testChanges(2), change.Position{}); err == nil {
		t.Error("a server requiring a client certificate accepted a request without one")
	} else if time.Since(began) > 30*time.Second {
		t.Errorf("a refused certificate was retried for %v", time.Since(began))
	}
	// Another CA: the server is not trusted.
	other := testenv.NewTLSFiles(t, "127.0.0.1")
	s3 := openSink(t, srv.URL+"/?tls-ca="+other.CA+"&tls-cert="+files.ClientCert+"&tls-key="+files.ClientKey)
	if err := s3.WriteAt(context.Background(), testChanges(2), change.Position{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: %v", err)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want func(c Config) bool
		err  string
	}{
		{raw: "https://u:p@hook.example/a/b?body=array&secret=s&token=&query=x%3D1%26y%3D2&timeout=5s", want: func(c Config) bool {
			return c.URL == "https://hook.example/a/b?x=1&y=2" && c.User == "u" && c.Password == "p" && c.Body == BodyArray &&
				string(c.Secret) == "s" && c.Timeout == 5*time.Second && c.TLS != nil
		}},
		{raw: "http://h:8080", want: func(c Config) bool { return c.URL == "http://h:8080/" && c.TLS == nil }},
		{raw: "http://h/?tls-ca=/x", err: "need an https:// URL"},
		{raw: "http://h/?tls=off", want: func(c Config) bool { return c.TLS == nil }},
		{raw: "http://h/?tls=off&tls-ca=/x", err: "need tls=on or skip-verify, not tls=off"},
		{raw: "http://h/?x=1", err: "unknown parameter x"},
		{raw: "http://h/?body=xml", err: "parameter body"},
		{raw: "http://h/?secret=a&secret-file=/b", err: "do not go together"},
		{raw: "http://h/?signature-header=a%20b", err: "not a header name"},
		{raw: "http://u:p@h/?token=t", err: "a token and a user"},
	}
	for _, tt := range tests {
		c, err := ParseURL(tt.raw)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.raw, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.raw, err)
		case tt.err == "" && !tt.want(c):
			t.Errorf("%s: %+v", tt.raw, c)
		}
	}
}

// TestKeyAndSignature pins the key and signature forms a receiver
// reimplements.
func TestKeyAndSignature(t *testing.T) {
	a := change.Position{Flavor: change.FlavorLSN, Offset: 0x100, Index: 2}
	b := change.Position{Flavor: change.FlavorLSN, Offset: 0x200}
	k := IdempotencyKey("p", a, b)
	if len(k) != 32 || k != IdempotencyKey("p", a, b) || k == IdempotencyKey("q", a, b) || k == IdempotencyKey("p", a, a) {
		t.Errorf("key %s", k)
	}
	withGTID := b
	withGTID.GTIDSet = "0-1-9"
	if IdempotencyKey("p", a, withGTID) != k {
		t.Error("the GTID set changed the key")
	}
	// echo -n 'body' | openssl dgst -sha256 -hmac key
	if got := Sign([]byte("key"), []byte("body")); got != "sha256=515aae133b435d4000956731f68ae5cf5eb85d4f0dc6a546d2bfcd3595ec1ae1" {
		t.Errorf("signature %s", got)
	}
}

// mustPool returns a pool of the certificates in the PEM file path.
func mustPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificate", path)
	}
	return p
}
