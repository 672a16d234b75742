package canal

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/pipeline"
)

// fixtureSource emits txs transactions of rows row changes each (begin,
// inserts, commit) on table db.t, then waits for ctx. Positions follow the
// resume contract: rows inside transaction k sit at Offset 1000*(k+1) with
// Index 1 (begin), 2, …; the commit after it at 1000*(k+2) with Index 0.
type fixtureSource struct {
	txs, rows int
	mu        sync.Mutex
	streams   int // Stream calls, for tests that restart readers
}

var fixtureCols = []change.Column{{Name: "id", Type: "int(11)", Key: true}, {Name: "v", Type: "varchar(20)", Nullable: true}}

func (f *fixtureSource) changes() []change.Change {
	var out []change.Change
	at := time.Unix(1700000000, 0)
	for k := 0; k < f.txs; k++ {
		txStart := uint64(1000 * (k + 1))
		id := fmt.Sprintf("0-1-%d", k+1)
		pos := func(i uint64) change.Position {
			return change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: txStart, Index: i}
		}
		out = append(out, change.Change{Op: change.OpBegin, Source: "mariadb", Tx: change.Tx{ID: id}, Pos: pos(1), CommitTime: at})
		for r := 0; r < f.rows; r++ {
			n := k*f.rows + r
			out = append(out, change.Change{Op: change.OpInsert, Source: "mariadb",
				Namespace: change.Namespace{Database: "db", Table: "t"}, Columns: fixtureCols,
				After: []change.Value{change.Int(int64(n), 32), change.String([]byte(fmt.Sprintf("v%d", n)))},
				Tx:    change.Tx{ID: id, Index: uint64(r + 1)}, Pos: pos(uint64(r + 2)), CommitTime: at})
		}
		out = append(out, change.Change{Op: change.OpCommit, Source: "mariadb", Tx: change.Tx{ID: id},
			Pos: change.Position{Flavor: change.FlavorBinlog, File: "bin.000001", Offset: txStart + 1000}, CommitTime: at})
	}
	return out
}

func (f *fixtureSource) Stream(ctx context.Context, from change.Position, emit func([]change.Change) error) error {
	f.mu.Lock()
	f.streams++
	f.mu.Unlock()
	all := f.changes()
	var batch []change.Change
	for _, c := range all {
		if !from.IsZero() && change.Compare(c.Pos, from) <= 0 {
			continue
		}
		batch = append(batch, c)
		if len(batch) == 7 {
			if err := emit(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := emit(batch); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// testServer runs a Server over src on a loopback port.
type testServer struct {
	srv   *Server
	port  int
	store checkpoint.Store
	logs  *syncBuffer
	stop  func()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startTestServer(t *testing.T, src pipeline.Source, cfg Config) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Store == nil {
		cfg.Store = &checkpoint.Memory{}
	}
	if cfg.Destinations == nil {
		cfg.Destinations = []Destination{{Name: "example", URL: "mariadb://u@127.0.0.1:1/?server-id=77"}}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if src != nil {
		cfg.Open = func(ctx context.Context, raw string) (pipeline.Source, error) { return src, nil }
	}
	cfg.TimeZone = time.UTC
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ts := &testServer{srv: srv, port: ln.Addr().(*net.TCPAddr).Port, store: cfg.Store, logs: logs}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// connect returns a connected, subscribed canal-go connector.
func (ts *testServer) connect(t *testing.T, clientID int, filter string) *canalclient.SimpleCanalConnector {
	return ts.connectTo(t, "example", clientID, filter)
}

// connectTo is connect to a named destination.
func (ts *testServer) connectTo(t *testing.T, dest string, clientID int, filter string) *canalclient.SimpleCanalConnector {
	t.Helper()
	c := canalclient.NewSimpleCanalConnector("127.0.0.1", ts.port, "", "", dest, 60000, 60*60*1000)
	c.ClientIdentity.ClientId = clientID
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := c.Subscribe(filter); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { c.DisConnection() })
	return c
}

// entryKey identifies an entry: its type and Sluice position.
func entryKey(t *testing.T, e *pbe.Entry) string {
	t.Helper()
	for _, p := range e.GetHeader().GetProps() {
		if p.GetKey() == "position" {
			return e.GetEntryType().String() + "@" + p.GetValue()
		}
	}
	t.Fatalf("entry without a position prop: %v", e)
	return ""
}

// drain gets batches until n entries arrived (acking each when ack).
func drain(t *testing.T, c *canalclient.SimpleCanalConnector, n, size int, ack bool) (keys []string, batches []int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(keys) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d entries, want %d", len(keys), n)
		}
		timeout, unit := int64(200), int32(2)
		msg, err := c.GetWithOutAck(int32(size), &timeout, &unit)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Id == -1 {
			continue
		}
		batches = append(batches, msg.Id)
		for i := range msg.Entries {
			keys = append(keys, entryKey(t, &msg.Entries[i]))
		}
		if ack {
			if err := c.Ack(msg.Id); err != nil {
				t.Fatal(err)
			}
		}
	}
	return keys, batches
}

// TestCanalGoFixture drives the server with the real canal-go client over
// a fixture source: begin/row/end entries in order with their headers,
// rows decoded to their columns, batches of the size asked for.
func TestCanalGoFixture(t *testing.T) {
	src := &fixtureSource{txs: 3, rows: 4}
	ts := startTestServer(t, src, Config{})
	c := ts.connect(t, 1001, "")
	timeout, unit := int64(2000), int32(2)
	msg, err := c.GetWithOutAck(100, &timeout, &unit)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Id <= 0 || len(msg.Entries) != 18 {
		t.Fatalf("batch %d with %d entries, want 18", msg.Id, len(msg.Entries))
	}
	for i := range msg.Entries {
		e := &msg.Entries[i]
		h := e.GetHeader()
		if h.GetVersion() != 1 || h.GetLogfileName() != "bin.000001" || h.GetServerenCode() != "UTF-8" ||
			h.GetSourceType() != pbe.Type_MYSQL || h.GetExecuteTime() != 1700000000000 {
			t.Errorf("entry %d: header %v", i, h)
		}
		want := pbe.EntryType_ROWDATA
		switch i % 6 {
		case 0:
			want = pbe.EntryType_TRANSACTIONBEGIN
			var b pbe.TransactionBegin
			if err := proto.Unmarshal(e.GetStoreValue(), &b); err != nil || b.GetTransactionId() != fmt.Sprintf("0-1-%d", i/6+1) {
				t.Errorf("entry %d: begin %v (%v)", i, &b, err)
			}
		case 5:
			want = pbe.EntryType_TRANSACTIONEND
			var b pbe.TransactionEnd
			if err := proto.Unmarshal(e.GetStoreValue(), &b); err != nil || b.GetTransactionId() != fmt.Sprintf("0-1-%d", i/6+1) {
				t.Errorf("entry %d: end %v (%v)", i, &b, err)
			}
		default:
			var rc pbe.RowChange
			if err := proto.Unmarshal(e.GetStoreValue(), &rc); err != nil {
				t.Fatal(err)
			}
			n := i/6*4 + i%6 - 1
			if h.GetSchemaName() != "db" || h.GetTableName() != "t" || h.GetEventType() != pbe.EventType_INSERT ||
				rc.GetEventType() != pbe.EventType_INSERT || rc.GetIsDdl() || len(rc.GetRowDatas()) != 1 {
				t.Fatalf("entry %d: header %v row change %v", i, h, &rc)
			}
			rd := rc.GetRowDatas()[0]
			after := rd.GetAfterColumns()
			if len(rd.GetBeforeColumns()) != 0 || len(after) != 2 ||
				after[0].GetName() != "id" || !after[0].GetIsKey() || after[0].GetValue() != fmt.Sprint(n) || after[0].GetSqlType() != 4 ||
				after[0].GetMysqlType() != "int(11)" || !after[0].GetUpdated() ||
				after[1].GetName() != "v" || after[1].GetValue() != fmt.Sprintf("v%d", n) || after[1].GetSqlType() != 12 || after[1].GetIndex() != 1 {
				t.Errorf("entry %d: row %v", i, rd)
			}
		}
		if e.GetEntryType() != want {
			t.Errorf("entry %d: type %v, want %v", i, e.GetEntryType(), want)
		}
	}
	if err := c.Ack(msg.Id); err != nil {
		t.Fatal(err)
	}
	// Nothing more: an empty answer.
	msg, err = c.GetWithOutAck(100, nil, nil)
	if err != nil || msg.Id != -1 || len(msg.Entries) != 0 {
		t.Fatalf("after everything: %v %v", msg, err)
	}
	// The acknowledgement was saved before that answer.
	p, err := ts.store.Load(context.Background(), "canal/example/1001")
	if err != nil || p.Offset != 4000 || p.Index != 0 {
		t.Errorf("saved position %v (%v), want the last commit", p, err)
	}
}

// TestRollbackRedeliversUnacked takes three batches without acking,
// acks the first, rolls back, and gets exactly the other two again.
func TestRollbackRedeliversUnacked(t *testing.T) {
	for _, byID := range []bool{false, true} {
		t.Run(fmt.Sprintf("byID=%v", byID), func(t *testing.T) {
			ts := startTestServer(t, &fixtureSource{txs: 5, rows: 3}, Config{})
			c := ts.connect(t, 1001, "")
			first, ids := drain(t, c, 15, 5, false) // batches of 5 entries
			if len(ids) != 3 {
				t.Fatalf("%d batches, want 3", len(ids))
			}
			if err := c.Ack(ids[0]); err != nil {
				t.Fatal(err)
			}
			var err error
			if byID {
				err = c.RollBack(ids[1])
			} else {
				err = c.RollBack(0)
			}
			if err != nil {
				t.Fatal(err)
			}
			again, _ := drain(t, c, 10, 5, true)
			if strings.Join(again, " ") != strings.Join(first[5:], " ") {
				t.Errorf("after rollback:\n%v\nwant\n%v", again, first[5:])
			}
			rest, _ := drain(t, c, 10, 100, true)
			if len(rest) != 10 {
				t.Errorf("%d more entries", len(rest))
			}
		})
	}
}

// TestTwoClientIDs: each client id gets every entry, through a reader of
// its own.
func TestTwoClientIDs(t *testing.T) {
	var mu sync.Mutex
	var urls []string
	src := &fixtureSource{txs: 4, rows: 2}
	ts := startTestServer(t, src, Config{})
	ts.srv.cfg.Open = func(ctx context.Context, raw string) (pipeline.Source, error) {
		mu.Lock()
		urls = append(urls, raw)
		mu.Unlock()
		return src, nil
	}
	a := ts.connect(t, 1001, "")
	b := ts.connect(t, 1002, "")
	ka, _ := drain(t, a, 16, 3, true)
	kb, _ := drain(t, b, 16, 100, true)
	if strings.Join(ka, " ") != strings.Join(kb, " ") {
		t.Errorf("client 1001 got\n%v\nclient 1002\n%v", ka, kb)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(urls) != 2 || !strings.Contains(urls[0], "server-id=77") || !strings.Contains(urls[1], "server-id=78") {
		t.Errorf("reader URLs %v: want server-id 77 and 78", urls)
	}
}

// TestResumeAfterRestart: a new server on the same store continues right
// after the last acknowledged batch.
func TestResumeAfterRestart(t *testing.T) {
	store := &checkpoint.Memory{}
	src := &fixtureSource{txs: 4, rows: 2}
	ts := startTestServer(t, src, Config{Store: store})
	c := ts.connect(t, 1001, "")
	all, ids := drain(t, c, 8, 4, false)
	if err := c.Ack(ids[0]); err != nil {
		t.Fatal(err)
	}
	// A GET confirms the ack was processed and saved.
	if _, err := c.GetWithOutAck(1, nil, nil); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	ts2 := startTestServer(t, src, Config{Store: store})
	c2 := ts2.connect(t, 1001, "")
	rest, _ := drain(t, c2, 12, 100, true)
	if rest[0] != all[4] {
		t.Errorf("resumed at %s, want %s", rest[0], all[4])
	}
}

// TestFilter: a subscription filter (Canal syntax, any case) selects
// tables; begin and end entries stay.
func TestFilter(t *testing.T) {
	ts := startTestServer(t, &fixtureSource{txs: 2, rows: 2}, Config{})
	c := ts.connect(t, 1001, `other\..*`)
	timeout, unit := int64(300), int32(2)
	msg, err := c.GetWithOutAck(100, &timeout, &unit)
	if err != nil {
		t.Fatal(err)
	}
	for i := range msg.Entries {
		if e := &msg.Entries[i]; e.GetEntryType() == pbe.EntryType_ROWDATA {
			t.Errorf("filtered row delivered: %v", e.GetHeader())
		}
	}
	c2 := ts.connect(t, 1002, `DB\.T`)
	keys, _ := drain(t, c2, 8, 100, true)
	if len(keys) != 8 {
		t.Errorf("%d entries with a matching filter", len(keys))
	}
}
