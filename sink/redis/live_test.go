package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
)

var shared *testenv.Redis

func TestMain(m *testing.M) {
	testenv.RunMain(m, func(ctx context.Context, c *testenv.Cleanup) error {
		s, err := testenv.StartRedis(ctx)
		if err != nil {
			return err
		}
		c.Add(func() { s.Close() })
		shared = s
		return nil
	})
}

// client returns a go-redis client of database db of srv.
func client(t *testing.T, srv *testenv.Redis, db int) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(srv.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	cl := goredis.NewClient(opts)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// sinkURL is a redis:// URL of database db of srv with the query q.
func sinkURL(srv *testenv.Redis, db int, q string) string {
	return fmt.Sprintf("redis://:%s@%s/%d?%s", srv.Password(), srv.Addr(), db, q)
}

// openSink opens the sink raw names, closed when the test ends.
func openSink(t *testing.T, raw string) *Sink {
	t.Helper()
	s, err := Open(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// runPipeline runs src into s, with s as the checkpoint store, until the
// source ends.
func runPipeline(t *testing.T, src pipeline.Source, s *Sink, opts ...pipeline.Option) {
	t.Helper()
	p, err := pipeline.New(src, s, s.CheckpointStore(), append([]pipeline.Option{pipeline.WithID("p1")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// entry is a stream entry's fields.
type entry map[string]string

// readStream returns every entry of stream.
func readStream(t *testing.T, cl *goredis.Client, stream string) []entry {
	t.Helper()
	msgs, err := cl.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]entry, len(msgs))
	for i, m := range msgs {
		out[i] = entry{}
		for k, v := range m.Values {
			out[i][k] = v.(string)
		}
	}
	return out
}

// TestStreamExactlyOnce streams a fixture log into stream mode in three
// runs, the later ones resuming from the position the sink stored, and
// checks that each table's stream holds every change of the log once, in
// order, each entry's value decoding to the change itself.
func TestStreamExactlyOnce(t *testing.T) {
	cl := client(t, shared, 1)
	txs := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3}
	src, err := fixture.New(fixture.Options{Txs: txs, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Three runs over the same log: the second and third find their
	// position in Redis and write nothing again.
	for run := 0; run < 3; run++ {
		s := openSink(t, sinkURL(shared, 1, ""))
		runPipeline(t, src, s)
		s.Close()
	}
	var want []change.Change
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			want = append(want, c)
		}
	}
	got := map[string][]entry{}
	for _, table := range []string{"orders", "audit"} {
		got[table] = readStream(t, cl, "sluice:shop:"+table)
	}
	n := map[string]int{}
	for _, w := range want {
		es := got[w.Table]
		i := n[w.Table]
		n[w.Table]++
		if i >= len(es) {
			t.Fatalf("stream of %s has %d entries, want more", w.Table, len(es))
		}
		e := es[i]
		if e[FieldOp] != "insert" || e[FieldDB] != "shop" || e[FieldTable] != w.Table || e[FieldPosition] != w.Pos.String() {
			t.Errorf("entry %d of %s: %v, want insert shop.%s at %s", i, w.Table, e, w.Table, w.Pos)
		}
		c, err := change.DecodeJSON([]byte(e[FieldValue]))
		if err != nil {
			t.Fatalf("entry %d of %s: %v", i, w.Table, err)
		}
		if !change.EqualChange(&c, &w) {
			t.Errorf("entry %d of %s decodes to %+v, want %+v", i, w.Table, c, w)
		}
		if e[FieldKey] == "" {
			t.Errorf("entry %d of %s has no key", i, w.Table)
		}
	}
	for table, es := range got {
		if len(es) != n[table] {
			t.Errorf("stream of %s has %d entries, the log %d changes", table, len(es), n[table])
		}
	}
	pos, err := cl.HGet(context.Background(), "sluice:positions", "p1").Result()
	if err != nil || pos != src.End().String() {
		t.Errorf("stored position %q (%v), want %s", pos, err, src.End())
	}
}

// TestLostAnswer checks the retry of a write whose answer was lost: the
// script finds the position it was to store already there and the sink
// counts the write as done, writing nothing twice.
func TestLostAnswer(t *testing.T) {
	cl := client(t, shared, 2)
	s := openSink(t, sinkURL(shared, 2, "stream=lost"))
	ctx := context.Background()
	if _, err := s.Load(ctx, "p"); !errors.Is(err, checkpoint.ErrNotFound) {
		t.Fatalf("Load: %v, want ErrNotFound", err)
	}
	batch := testChanges(0, 10)
	through := batch[9].Pos
	if err := s.WriteAt(ctx, batch, through); err != nil {
		t.Fatal(err)
	}
	// As if the answer had not come: the sink still believes the old
	// position and sends the same batch again.
	s.committed = change.Position{}
	if err := s.WriteAt(ctx, batch, through); err != nil {
		t.Fatalf("retried write: %v", err)
	}
	if n := cl.XLen(ctx, "lost").Val(); n != 10 {
		t.Errorf("%d entries, want 10", n)
	}
	// A position that is neither the one believed nor the one to store:
	// another writer.
	s.committed = batch[3].Pos
	err := s.WriteAt(ctx, testChanges(10, 2), testChanges(10, 2)[1].Pos)
	if err == nil || !strings.Contains(err.Error(), "another sluice") {
		t.Errorf("write after another writer: %v", err)
	}
	if n := cl.XLen(ctx, "lost").Val(); n != 10 {
		t.Errorf("%d entries after a refused write, want 10", n)
	}
}

// TestSecondInstanceFenced runs two sinks of one pipeline: once the first
// wrote, the second, loaded before, is refused and writes nothing.
func TestSecondInstanceFenced(t *testing.T) {
	cl := client(t, shared, 3)
	ctx := context.Background()
	a := openSink(t, sinkURL(shared, 3, "stream=fence"))
	b := openSink(t, sinkURL(shared, 3, "stream=fence"))
	a.Load(ctx, "p")
	b.Load(ctx, "p")
	if err := a.WriteAt(ctx, testChanges(0, 3), testChanges(0, 3)[2].Pos); err != nil {
		t.Fatal(err)
	}
	err := b.WriteAt(ctx, testChanges(0, 3), testChanges(0, 3)[2].Pos)
	if err != nil {
		t.Fatalf("the second instance writing the same batch: %v (it took effect already: fine)", err)
	}
	err = b.WriteAt(ctx, testChanges(3, 3), testChanges(3, 3)[2].Pos)
	if err != nil {
		t.Fatalf("second instance, next batch: %v", err)
	}
	// a is now behind: refused.
	err = a.WriteAt(ctx, testChanges(3, 3), testChanges(3, 3)[2].Pos)
	if err != nil {
		t.Fatalf("first instance, the batch the second wrote: %v", err)
	}
	err = a.WriteAt(ctx, testChanges(10, 3), testChanges(10, 3)[2].Pos)
	if err != nil {
		t.Fatal(err)
	}
	err = b.WriteAt(ctx, testChanges(20, 3), testChanges(20, 3)[2].Pos)
	if err == nil || !strings.Contains(err.Error(), "another sluice") {
		t.Errorf("stale instance: %v, want a refusal", err)
	}
	if n := cl.XLen(ctx, "fence").Val(); n != 9 {
		t.Errorf("%d entries, want 9", n)
	}
}

// testCols are the columns of the test table d.t.
var testCols = []change.Column{{Name: "id", Type: "int", Key: true}, {Name: "v", Type: "varchar(20)", Nullable: true}}

// testChanges returns n inserts into d.t numbered from first.
func testChanges(first, n int) []change.Change {
	out := make([]change.Change, n)
	for i := range out {
		k := first + i
		out[i] = change.Change{Op: change.OpInsert, Source: "mysql", Namespace: change.Namespace{Database: "d", Table: "t"},
			Columns: testCols, After: []change.Value{change.Int(int64(k), 32), change.String([]byte(fmt.Sprint("v", k)))},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: uint64(1000 + k)}}
	}
	return out
}

// TestWrongType puts a string where a stream goes: the write fails with a
// clear error and writes nothing, the position included; once the key is
// gone the same batch goes through.
func TestWrongType(t *testing.T) {
	cl := client(t, shared, 4)
	ctx := context.Background()
	cl.Set(ctx, "sluice:d:t", "squatter", 0)
	s := openSink(t, sinkURL(shared, 4, ""))
	s.Load(ctx, "p")
	batch := append(testChanges(0, 3), change.Change{Op: change.OpInsert, Namespace: change.Namespace{Database: "d", Table: "u"},
		Columns: testCols, After: []change.Value{change.Int(1, 32), change.Null()}, Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: 2000}})
	err := s.WriteAt(ctx, batch, batch[3].Pos)
	if err == nil || !strings.Contains(err.Error(), `key "sluice:d:t" holds a string, where the sink writes a stream: nothing of the batch was written`) {
		t.Fatalf("write over a string: %v", err)
	}
	if n := cl.Exists(ctx, "sluice:d:u", "sluice:positions").Val(); n != 0 {
		t.Errorf("%d keys written by a refused batch", n)
	}
	cl.Del(ctx, "sluice:d:t")
	if err := s.WriteAt(ctx, batch, batch[3].Pos); err != nil {
		t.Fatal(err)
	}
	if a, b := cl.XLen(ctx, "sluice:d:t").Val(), cl.XLen(ctx, "sluice:d:u").Val(); a != 3 || b != 1 {
		t.Errorf("entries %d and %d, want 3 and 1", a, b)
	}
}

// TestWrongPassword checks that a refused password fails at open with an
// error that names the problem and not the password.
func TestWrongPassword(t *testing.T) {
	raw := fmt.Sprintf("redis://:not-the-Secret-42@%s/0", shared.Addr())
	_, err := Open(context.Background(), raw)
	if err == nil {
		t.Fatal("opened with a wrong password")
	}
	if strings.Contains(err.Error(), "not-the-Secret-42") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "WRONGPASS") && !strings.Contains(err.Error(), "invalid") {
		t.Errorf("error does not say the password was refused: %v", err)
	}
}

// row is a hash mode row: field -> value.
type row map[string]string

// hashTable reads every key of d.h (database db) as rows, by key.
func hashTable(t *testing.T, cl *goredis.Client, pattern string, json bool) map[string]row {
	t.Helper()
	ctx := context.Background()
	keys, err := cl.Keys(ctx, pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]row{}
	for _, k := range keys {
		if json {
			v, err := cl.Get(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			out[k] = row{"json": v}
			continue
		}
		v, err := cl.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

// TestHashMirror applies inserts, updates (complete and partial, with and
// without a key change), deletes, NULLs and a truncate in hash mode with
// rows as hashes and as JSON, and compares the keys with the rows they
// must hold.
func TestHashMirror(t *testing.T) {
	cols := []change.Column{{Name: "a", Key: true}, {Name: "b", Key: true}, {Name: "v", Nullable: true}, {Name: "w", Nullable: true}}
	ns := change.Namespace{Database: "d", Table: "h"}
	i32 := func(n int64) change.Value { return change.Int(n, 32) }
	str := func(s string) change.Value { return change.String([]byte(s)) }
	pos := 0
	mk := func(op change.Op, before, after []change.Value) change.Change {
		pos++
		return change.Change{Op: op, Namespace: ns, Columns: cols, Before: before, After: after,
			Pos: change.Position{Flavor: change.FlavorLSN, Offset: uint64(pos * 10)}}
	}
	absent, unchanged := change.Value{}, change.Value{Kind: change.KindUnchanged}
	batch1 := []change.Change{
		mk(change.OpInsert, nil, []change.Value{i32(1), str("x:y"), str("one"), str("w1")}),
		mk(change.OpInsert, nil, []change.Value{i32(2), str("b"), str("two"), change.Null()}),
		mk(change.OpInsert, nil, []change.Value{i32(3), str("b"), str("three"), str("w3")}),
		mk(change.OpInsert, nil, []change.Value{i32(4), str("b"), str("four"), str("w4")}),
		// a snapshot's row over a row already there
		mk(change.OpRead, nil, []change.Value{i32(4), str("b"), str("four"), str("w4")}),
		// complete update: w becomes NULL
		mk(change.OpUpdate, []change.Value{i32(1), str("x:y"), str("one"), str("w1")}, []change.Value{i32(1), str("x:y"), str("uno"), change.Null()}),
		// partial update (PostgreSQL unchanged TOAST): v stays
		mk(change.OpUpdate, []change.Value{i32(3), str("b"), absent, absent}, []change.Value{i32(3), str("b"), unchanged, str("w3!")}),
		// key change, complete
		mk(change.OpUpdate, []change.Value{i32(2), str("b"), str("two"), change.Null()}, []change.Value{i32(20), str("b"), str("two"), str("w20")}),
	}
	batch2 := []change.Change{
		// key change with a partial image (MySQL MINIMAL): v moves along
		mk(change.OpUpdate, []change.Value{i32(4), str("b"), absent, absent}, []change.Value{i32(40), absent, absent, str("w40")}),
		mk(change.OpDelete, []change.Value{i32(3), str("b"), absent, absent}, nil),
		mk(change.OpTruncate, nil, nil),
		mk(change.OpInsert, nil, []change.Value{i32(5), str("b"), str("five"), str("w5")}),
		mk(change.OpInsert, nil, []change.Value{i32(6), str("b"), str("six"), change.Null()}),
		mk(change.OpDelete, []change.Value{i32(6), str("b"), absent, absent}, nil),
	}
	want1 := map[string]row{
		"sluice:d:h:1:x%3Ay": {"a": "1", "b": "x:y", "v": "uno"},
		"sluice:d:h:3:b":     {"a": "3", "b": "b", "v": "three", "w": "w3!"},
		"sluice:d:h:4:b":     {"a": "4", "b": "b", "v": "four", "w": "w4"},
		"sluice:d:h:20:b":    {"a": "20", "b": "b", "v": "two", "w": "w20"},
	}
	want2 := map[string]row{"sluice:d:h:5:b": {"a": "5", "b": "b", "v": "five", "w": "w5"}}
	wantMid := map[string]row{ // batch 2 up to the truncate
		"sluice:d:h:1:x%3Ay": want1["sluice:d:h:1:x%3Ay"],
		"sluice:d:h:40:b":    {"a": "40", "b": "b", "v": "four", "w": "w40"},
		"sluice:d:h:20:b":    want1["sluice:d:h:20:b"],
	}
	toJSON := func(m map[string]row) map[string]row {
		out := map[string]row{}
		for k, r := range m {
			var parts []string
			for _, c := range []string{"a", "b", "v", "w"} {
				v, ok := r[c]
				switch {
				case !ok:
					v = "null"
				case c == "a":
				default:
					v = `"` + v + `"`
				}
				parts = append(parts, `"`+c+`":`+v)
			}
			out[k] = row{"json": "{" + strings.Join(parts, ",") + "}"}
		}
		return out
	}
	for _, tc := range []struct {
		value string
		db    int
	}{{"hash", 5}, {"json", 6}} {
		t.Run(tc.value, func(t *testing.T) {
			cl := client(t, shared, tc.db)
			ctx := context.Background()
			s := openSink(t, sinkURL(shared, tc.db, "mode=hash&value="+tc.value))
			s.Load(ctx, "p")
			json := tc.value == "json"
			w1, w2, wm := want1, want2, wantMid
			if json {
				w1, w2, wm = toJSON(want1), toJSON(want2), toJSON(wantMid)
			}
			if err := s.WriteAt(ctx, batch1, batch1[len(batch1)-1].Pos); err != nil {
				t.Fatal(err)
			}
			if got := hashTable(t, cl, "sluice:d:h:*", json); !maps.EqualFunc(got, w1, maps.Equal) {
				t.Errorf("after batch 1:\n got %v\nwant %v", got, w1)
			}
			// Batch 2 up to the truncate, as a crash right before the
			// truncate would leave it: its position is stored.
			if err := s.WriteAt(ctx, batch2[:2], batch2[1].Pos); err != nil {
				t.Fatal(err)
			}
			if got := hashTable(t, cl, "sluice:d:h:*", json); !maps.EqualFunc(got, wm, maps.Equal) {
				t.Errorf("before the truncate:\n got %v\nwant %v", got, wm)
			}
			if err := s.WriteAt(ctx, batch2[2:], batch2[len(batch2)-1].Pos); err != nil {
				t.Fatal(err)
			}
			if got := hashTable(t, cl, "sluice:d:h:*", json); !maps.EqualFunc(got, w2, maps.Equal) {
				t.Errorf("after batch 2:\n got %v\nwant %v", got, w2)
			}
			if pos := cl.HGet(ctx, "sluice:positions", "p").Val(); pos != batch2[len(batch2)-1].Pos.String() {
				t.Errorf("stored position %q", pos)
			}
		})
	}
}

// TestHashKeyless refuses a table without a primary key in hash mode,
// writing nothing.
func TestHashKeyless(t *testing.T) {
	ctx := context.Background()
	s := openSink(t, sinkURL(shared, 7, "mode=hash"))
	s.Load(ctx, "p")
	c := change.Change{Op: change.OpInsert, Namespace: change.Namespace{Database: "d", Table: "nokey"},
		Columns: []change.Column{{Name: "a"}}, After: []change.Value{change.Int(1, 32)}, Pos: change.Position{Flavor: change.FlavorLSN, Offset: 5}}
	err := s.WriteAt(ctx, []change.Change{c}, c.Pos)
	if err == nil || !strings.Contains(err.Error(), "has no primary key") || !strings.Contains(err.Error(), "d.nokey") {
		t.Errorf("keyless table: %v", err)
	}
}

// TestPubSub subscribes to the channels of a fixture log's tables and
// checks that every change is published once, in order.
func TestPubSub(t *testing.T) {
	cl := client(t, shared, 0)
	ctx := context.Background()
	sub := cl.PSubscribe(ctx, "ps:*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := fixture.New(fixture.Options{Txs: []int{2, 3, 1}})
	if err != nil {
		t.Fatal(err)
	}
	s := openSink(t, sinkURL(shared, 0, "mode=pubsub&channel=ps:{table}"))
	runPipeline(t, src, s)
	var want []string
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			want = append(want, "ps:"+c.Table+" "+c.Pos.String())
		}
	}
	var got []string
	ch := sub.Channel()
	for len(got) < len(want) {
		select {
		case m := <-ch:
			c, err := change.DecodeJSON([]byte(m.Payload))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Channel+" "+c.Pos.String())
		case <-time.After(10 * time.Second):
			t.Fatalf("received %d messages, want %d", len(got), len(want))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// TestCutsAndRestart streams a fixture log slowly through a proxy that
// cuts the connection every 300 ms, and restarts the server half way:
// every change is in its stream once.
func TestCutsAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis server of its own")
	}
	srv := testenv.NewRedis(t)
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
	cfg, err := ParseURL(fmt.Sprintf("redis://:%s@%s/0?stream=cut", srv.Password(), proxy.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs}, nil))
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runPipeline(t, src, s, pipeline.WithCheckpointInterval(0))
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	cl := client(t, srv, 0)
	es := readStream(t, cl, "cut")
	var want []string
	for c := range src.After(change.Position{}) {
		if c.Op == change.OpInsert {
			want = append(want, c.Pos.String())
		}
	}
	got := make([]string, len(es))
	for i, e := range es {
		got[i] = e[FieldPosition]
	}
	if !slices.Equal(got, want) {
		t.Errorf("%d entries, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
	retries := strings.Count(logs.String(), "retrying")
	if proxy.Cuts() < 5 || retries == 0 {
		t.Errorf("the proxy cut %d times, the sink retried %d times", proxy.Cuts(), retries)
	}
	t.Logf("%d entries, %d cuts, one server restart, %d retried writes", len(got), proxy.Cuts(), retries)
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

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestTLSAndACL: a TLS listener that requires a client certificate takes
// the sink's rediss:// URL with tls-ca, tls-cert and tls-key and an ACL
// user, and refuses a sink without the client certificate.
func TestTLSAndACL(t *testing.T) {
	files := testenv.NewTLSFiles(t, "127.0.0.1")
	srv := testenv.NewRedisWith(t, testenv.RedisOptions{TLS: &files, VerifyClients: true, User: "cdc", UserPassword: "acl-Secret-9"})
	base := fmt.Sprintf("rediss://cdc:acl-Secret-9@%s/0?tls-ca=%s", srv.TLSAddr(), files.CA)
	s, err := Open(context.Background(), base+"&tls-cert="+files.ClientCert+"&tls-key="+files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	s.Load(ctx, "p")
	if err := s.WriteAt(ctx, testChanges(0, 3), testChanges(0, 3)[2].Pos); err != nil {
		t.Fatal(err)
	}
	if n := client(t, srv, 0).XLen(ctx, "sluice:d:t").Val(); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s, err := Open(cctx, base); err == nil {
		s.Close()
		t.Error("a server requiring a client certificate accepted a sink without one")
	} else if cctx.Err() != nil {
		t.Errorf("a refused client certificate was retried until the deadline: %v", err)
	}
	_, err = Open(ctx, strings.Replace(base, "acl-Secret-9", "wrong-Secret", 1)+"&tls-cert="+files.ClientCert+"&tls-key="+files.ClientKey)
	if err == nil || strings.Contains(err.Error(), "wrong-Secret") || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong ACL password: %v", err)
	}
}
