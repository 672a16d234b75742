package nats

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
)

var shared *testenv.NATS

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		s, err := testenv.StartNATS(ctx)
		if err != nil {
			return err
		}
		c.Add(func() { s.Close() })
		shared = s
		return nil
	})
}

// sinkURL is a nats:// URL of srv (at addr, its own address when empty)
// with the query q.
func sinkURL(srv *testenv.NATS, addr, q string) string {
	if addr == "" {
		addr = srv.Addr()
	}
	return fmt.Sprintf("nats://%s:%s@%s/?%s", testenv.NATSUser, url.QueryEscape(testenv.NATSPassword), addr, q)
}

// newSink opens the sink raw names, logging to logs when not nil.
func newSink(t *testing.T, raw string, logs io.Writer) *Sink {
	t.Helper()
	cfg, err := ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// jsOf connects a JetStream client to srv.
func jsOf(t *testing.T, srv *testenv.NATS) jetstream.JetStream {
	t.Helper()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// stored is one message of a stream.
type stored struct {
	seq     uint64
	subject string
	header  natsgo.Header
	data    []byte
}

// readAll returns every message of stream, in order.
func readAll(t *testing.T, js jetstream.JetStream, stream string) []stored {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, stored{m.Sequence, m.Subject, m.Header, m.Data})
	}
	return out
}

// run runs src into s until the source ends, with the store s keeps (or
// store when s keeps none).
func run(t *testing.T, src pipeline.Source, s *Sink, store checkpoint.Store, opts ...pipeline.Option) {
	t.Helper()
	if st := s.CheckpointStore(); st != nil {
		store = st
	}
	p, err := pipeline.New(src, s, store, append([]pipeline.Option{pipeline.WithID("p1")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// wantOf returns the row changes of src's log.
func wantOf(src *fixture.Source) []change.Change {
	var want []change.Change
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			want = append(want, c)
		}
	}
	return want
}

// checkStream checks that msgs are want, once each, in order.
func checkStream(t *testing.T, msgs []stored, want []change.Change, subjectOf func(change.Change) string) {
	t.Helper()
	if len(msgs) != len(want) {
		t.Errorf("%d messages, want %d", len(msgs), len(want))
	}
	for i := range min(len(msgs), len(want)) {
		m, w := msgs[i], want[i]
		if m.subject != subjectOf(w) {
			t.Errorf("message %d: subject %s, want %s", i, m.subject, subjectOf(w))
		}
		h := m.header
		if h.Get(HeaderOp) != "insert" || h.Get(HeaderDB) != w.Database || h.Get(HeaderTable) != w.Table || h.Get(HeaderPosition) != w.Pos.String() ||
			h.Get(jetstream.MsgIDHeader) != w.Pos.String() {
			t.Errorf("message %d: headers %v, want insert %s.%s at %s", i, h, w.Database, w.Table, w.Pos)
		}
		c, err := change.DecodeJSON(m.data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !change.EqualChange(&c, &w) {
			t.Errorf("message %d decodes to %+v, want %+v", i, c, w)
			return
		}
	}
}

// TestExactlyOnceKV streams a fixture log in three runs that keep the
// position in a key-value bucket: the stream holds every change once, in
// order, and the bucket the log's end.
func TestExactlyOnceKV(t *testing.T) {
	txs := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	src, err := fixture.New(fixture.Options{Txs: txs, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s := newSink(t, sinkURL(shared, "", "stream=KV1&create-stream=on&checkpoint=kv&bucket=pos1"), nil)
		run(t, src, s, nil)
		s.Close()
	}
	js := jsOf(t, shared)
	checkStream(t, readAll(t, js, "KV1"), wantOf(src), func(c change.Change) string { return "sluice.shop." + c.Table })
	kv, err := js.KeyValue(context.Background(), "pos1")
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "p1")
	if err != nil || string(e.Value()) != src.End().String() {
		t.Errorf("bucket holds %v (%v), want %s", e, err, src.End())
	}
}

// forgetful is a store that never keeps a position: every run starts over.
type forgetful struct{}

func (forgetful) Load(context.Context, string) (change.Position, error) {
	return change.Position{}, checkpoint.ErrNotFound
}
func (forgetful) Save(context.Context, string, change.Position) error { return nil }

// TestDuplicatesDropped publishes a log twice (a restart that lost its
// checkpoint): the second time JetStream drops every message as a
// duplicate of its Nats-Msg-Id.
func TestDuplicatesDropped(t *testing.T) {
	src, err := fixture.New(fixture.Options{Txs: []int{5, 5, 5, 5}})
	if err != nil {
		t.Fatal(err)
	}
	var dups int64
	for range 2 {
		s := newSink(t, sinkURL(shared, "", "stream=DUP&create-stream=on&prefix=dup&subject=dup.{table}"), nil)
		run(t, src, s, forgetful{})
		dups = s.Duplicates()
		s.Close()
	}
	want := wantOf(src)
	if dups != int64(len(want)) {
		t.Errorf("the second run had %d duplicates, want %d", dups, len(want))
	}
	checkStream(t, readAll(t, jsOf(t, shared), "DUP"), want, func(c change.Change) string { return "dup." + c.Table })
}

// TestMissingStream: a stream that does not exist is an error saying so.
func TestMissingStream(t *testing.T) {
	_, err := Open(context.Background(), sinkURL(shared, "", "stream=NOPE"))
	if err == nil || !strings.Contains(err.Error(), "stream NOPE does not exist") || !strings.Contains(err.Error(), "create-stream=on") {
		t.Errorf("missing stream: %v", err)
	}
}

// TestSubjectNotInStream: a change whose subject the stream does not take
// stops the sink with an error naming the subject, before anything is
// sent.
func TestSubjectNotInStream(t *testing.T) {
	js := jsOf(t, shared)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NARROW", Subjects: []string{"narrow.shop.orders"}}); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, sinkURL(shared, "", "stream=NARROW&prefix=narrow"), nil)
	src, _ := fixture.New(fixture.Options{Txs: []int{2}})
	var batch []change.Change
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			batch = append(batch, c)
		}
	}
	err := s.Write(ctx, batch)
	if err == nil || !strings.Contains(err.Error(), "subject narrow.shop.audit is not one of stream NARROW's subjects") {
		t.Errorf("subject outside the stream: %v", err)
	}
	if msgs := readAll(t, js, "NARROW"); len(msgs) != 0 {
		t.Errorf("%d messages sent before the error", len(msgs))
	}
}

// TestWrongPassword: a refused login fails at open, without the password
// in the error.
func TestWrongPassword(t *testing.T) {
	raw := fmt.Sprintf("nats://%s:not-the-Secret-42@%s/?stream=X", testenv.NATSUser, shared.Addr())
	_, err := Open(context.Background(), raw)
	if err == nil {
		t.Fatal("opened with a wrong password")
	}
	if strings.Contains(err.Error(), "not-the-Secret-42") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("error does not say the login was refused: %v", err)
	}
}

// TestTooLarge: a message over the server's max_payload stops the sink
// with an error naming the change.
func TestTooLarge(t *testing.T) {
	srv := testenv.NewNATSWith(t, testenv.NATSOptions{MaxPayload: 4096})
	s := newSink(t, sinkURL(srv, "", "stream=BIG&create-stream=on"), nil)
	src, _ := fixture.New(fixture.Options{Txs: []int{1, 1}, Payload: 8000})
	var batch []change.Change
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			batch = append(batch, c)
		}
	}
	err := s.Write(context.Background(), batch)
	if err == nil || !strings.Contains(err.Error(), "insert shop.orders at "+batch[0].Pos.String()) || !strings.Contains(err.Error(), "max_payload of 4096 bytes") {
		t.Errorf("too large: %v", err)
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// TestCutsAndRestart streams a fixture log slowly through a proxy that
// cuts the connection every 250 ms, and restarts the server half way, in
// ordered mode: the stream holds every change once, in the log's order.
func TestCutsAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server of its own")
	}
	srv := testenv.NewNATS(t)
	proxy := testenv.NewProxy(t, srv.Addr(), 250*time.Millisecond)
	txs := make([]int, 400)
	for i := range txs {
		txs[i] = 1 + i%7
	}
	restarted := make(chan error, 1)
	src, err := fixture.New(fixture.Options{Txs: txs, Interval: 10 * time.Millisecond,
		Emitted: func(_ context.Context, batch []change.Change) error {
			if batch[0].Pos.Offset == fixture.Offset(200) {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					if err := srv.Stop(ctx); err != nil {
						restarted <- err
						return
					}
					time.Sleep(500 * time.Millisecond)
					restarted <- srv.Start(ctx)
				}()
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedWriter
	s := newSink(t, sinkURL(srv, proxy.Addr(), "stream=CUT&create-stream=on&subject=cut.{table}&checkpoint=kv&ack-timeout=2s"), &logs)
	run(t, src, s, nil, pipeline.WithCheckpointInterval(0))
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	msgs := readAll(t, jsOf(t, srv), "CUT")
	want := wantOf(src)
	got := make([]string, len(msgs))
	for i, m := range msgs {
		got[i] = m.header.Get(HeaderPosition)
	}
	wantPos := make([]string, len(want))
	for i, w := range want {
		wantPos[i] = w.Pos.String()
	}
	if !slices.Equal(got, wantPos) {
		t.Errorf("%d messages, want %d (first difference at %d)", len(got), len(wantPos), firstDiff(got, wantPos))
	}
	resent := strings.Count(logs.String(), "sending again")
	if proxy.Cuts() < 5 || resent == 0 {
		t.Errorf("the proxy cut %d times, the sink sent again %d times", proxy.Cuts(), resent)
	}
	t.Logf("%d messages in order, %d cuts, a server restart, %d rounds sent again, %d duplicates dropped", len(got), proxy.Cuts(), resent, s.Duplicates())
}

// firstDiff returns the first index where a and b differ.
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestTokenAndTLS: a server that requires TLS with a client certificate
// and a token takes the sink's tls-ca, tls-cert, tls-key and token, and
// refuses a sink without the client certificate.
func TestTokenAndTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewNATSWith(t, testenv.NATSOptions{Token: "tok-Secret-7", TLS: &files, VerifyClients: true})
	base := fmt.Sprintf("nats://%s/?stream=TLS&create-stream=on&token=tok-Secret-7&tls-ca=%s", srv.Addr(), files.CA)
	s, err := Open(context.Background(), base+"&tls-cert="+files.ClientCert+"&tls-key="+files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src, _ := fixture.New(fixture.Options{Txs: []int{3}})
	var batch []change.Change
	for c := range src.After(change.Position{}) {
		batch = append(batch, c)
	}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s, err := Open(ctx, base); err == nil {
		s.Close()
		t.Error("a server requiring a client certificate accepted a sink without one")
	}
	if s, err := Open(ctx, strings.Replace(base, "tok-Secret-7", "wrong", 1)+"&tls-cert="+files.ClientCert+"&tls-key="+files.ClientKey); err == nil {
		s.Close()
		t.Error("a wrong token was accepted")
	} else if strings.Contains(err.Error(), "tok-Secret-7") || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Errorf("wrong token: %v", err)
	}
}
