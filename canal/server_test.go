package canal

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	cproto "github.com/withlin/canal-go/protocol"
	pbe "github.com/withlin/canal-go/protocol/entry"
	pbp "github.com/withlin/canal-go/protocol/packet"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/fixture"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
)

// fixtureSource is the shared fixture source as the tests here want it:
// txs transactions of rows inserts each into db.t (id bigint, total
// decimal(12,2), name varchar(64)) committed at 1700000000, emitted in
// batches of 7, then waiting for ctx (see internal/fixture).
func fixtureSource(t testing.TB, txs, rows int) *fixture.Source {
	t.Helper()
	s, err := fixture.New(fixture.Options{Txs: slices.Repeat([]int{rows}, txs), Database: "db", Tables: []string{"t"}, Columns: 3,
		Batch: 7, Follow: true, CommitTime: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testServer runs a Server over src on a loopback port.
type testServer struct {
	srv   *Server
	port  int
	store checkpoint.Store
	logs  *testenv.Logs
	stop  func()
}

func startTestServer(t testing.TB, src pipeline.Source, cfg Config) *testServer {
	t.Helper()
	logs := &testenv.Logs{}
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

// entryKeys identifies the changes of an entry: one key per row of a
// row entry (its type and the row's position, from the RowData's props),
// else one for the entry (its type and the header's position). It checks
// that a row entry's header says how many rows it holds and carries the
// position of the last.
func entryKeys(t *testing.T, e *pbe.Entry) []string {
	t.Helper()
	pos, rowsCount := "", ""
	for _, p := range e.GetHeader().GetProps() {
		switch p.GetKey() {
		case "position":
			pos = p.GetValue()
		case "rowsCount":
			rowsCount = p.GetValue()
		}
	}
	if pos == "" {
		t.Fatalf("entry without a position prop: %v", e)
	}
	if e.GetEntryType() == pbe.EntryType_ROWDATA {
		var rc pbe.RowChange
		if err := proto.Unmarshal(e.GetStoreValue(), &rc); err != nil {
			t.Fatal(err)
		}
		if rds := rc.GetRowDatas(); !rc.GetIsDdl() && len(rds) > 0 {
			keys := make([]string, len(rds))
			for i, rd := range rds {
				keys[i] = rowKey(t, rd)
			}
			if rowsCount != fmt.Sprint(len(rds)) || keys[len(keys)-1] != "ROWDATA@"+pos {
				t.Fatalf("entry of %d rows, rowsCount %q, position %s, last row %s", len(rds), rowsCount, pos, keys[len(keys)-1])
			}
			return keys
		}
	}
	return []string{e.GetEntryType().String() + "@" + pos}
}

// rowKey is "ROWDATA@" and the position in a RowData's props.
func rowKey(t *testing.T, rd *pbe.RowData) string {
	t.Helper()
	for _, p := range rd.GetProps() {
		if p.GetKey() == "position" {
			return "ROWDATA@" + p.GetValue()
		}
	}
	t.Fatalf("row without a position prop: %v", rd)
	return ""
}

// getBatch gets one batch of at most size entries, waiting up to 200 ms,
// and returns its id (-1: nothing came) and the keys of its changes
// (entryKeys).
func getBatch(t *testing.T, c *canalclient.SimpleCanalConnector, size int) (int64, []string) {
	t.Helper()
	timeout, unit := int64(200), int32(2)
	msg, err := c.GetWithOutAck(int32(size), &timeout, &unit)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range msg.Entries {
		keys = append(keys, entryKeys(t, &msg.Entries[i])...)
	}
	return msg.Id, keys
}

// drain gets batches of at most size entries until n changes arrived
// (entryKeys: rows and other entries; acking each batch when ack), or
// more when the last batch brings more.
func drain(t *testing.T, c *canalclient.SimpleCanalConnector, n, size int, ack bool) (keys []string, batches []int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(keys) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d changes, want %d", len(keys), n)
		}
		id, got := getBatch(t, c, size)
		if id == -1 {
			continue
		}
		batches = append(batches, id)
		keys = append(keys, got...)
		if ack {
			if err := c.Ack(id); err != nil {
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
	src := fixtureSource(t, 3, 4)
	logged := slices.Collect(src.After(change.Position{}))
	ts := startTestServer(t, src, Config{})
	c := ts.connect(t, 1001, "")
	timeout, unit := int64(2000), int32(2)
	msg, err := c.GetWithOutAck(100, &timeout, &unit)
	if err != nil {
		t.Fatal(err)
	}
	if len(logged) != 18 {
		t.Fatalf("the fixture logged %d changes, want 18", len(logged))
	}
	// Java's java.sql.Types of the fixture's columns.
	sqlTypes := map[string]int32{"bigint": -5, "decimal(12,2)": 3, "varchar(64)": 12}
	j := 0 // the change of logged that comes next
	for i := range msg.Entries {
		e := &msg.Entries[i]
		if j >= len(logged) {
			t.Fatalf("entry %d past the log's %d changes", i, len(logged))
		}
		w := logged[j]
		h := e.GetHeader()
		if h.GetVersion() != 1 || h.GetLogfileName() != fixture.File || h.GetServerenCode() != "UTF-8" ||
			h.GetSourceType() != pbe.Type_MYSQL || h.GetExecuteTime() != 1700000000000 {
			t.Errorf("entry %d: header %v", i, h)
		}
		want := pbe.EntryType_ROWDATA
		switch w.Op {
		case change.OpBegin:
			want = pbe.EntryType_TRANSACTIONBEGIN
			var b pbe.TransactionBegin
			if err := proto.Unmarshal(e.GetStoreValue(), &b); err != nil || b.GetTransactionId() != w.Tx.ID {
				t.Errorf("entry %d: begin %v (%v), want transaction %s", i, &b, err, w.Tx.ID)
			}
			j++
		case change.OpCommit:
			want = pbe.EntryType_TRANSACTIONEND
			var b pbe.TransactionEnd
			if err := proto.Unmarshal(e.GetStoreValue(), &b); err != nil || b.GetTransactionId() != w.Tx.ID {
				t.Errorf("entry %d: end %v (%v), want transaction %s", i, &b, err, w.Tx.ID)
			}
			j++
		default:
			var rc pbe.RowChange
			if err := proto.Unmarshal(e.GetStoreValue(), &rc); err != nil {
				t.Fatal(err)
			}
			if h.GetSchemaName() != "db" || h.GetTableName() != "t" || h.GetEventType() != pbe.EventType_INSERT ||
				rc.GetEventType() != pbe.EventType_INSERT || rc.GetIsDdl() || len(rc.GetRowDatas()) == 0 {
				t.Fatalf("entry %d: header %v row change %v", i, h, &rc)
			}
			// The rows of one transaction share entries.
			for _, rd := range rc.GetRowDatas() {
				w := logged[j]
				if w.Op != change.OpInsert {
					t.Fatalf("entry %d: a row where the log has %v", i, w.Op)
				}
				if k := rowKey(t, rd); k != "ROWDATA@"+w.Pos.String() {
					t.Errorf("entry %d: row %s, want %s", i, k, w.Pos)
				}
				after := rd.GetAfterColumns()
				if len(rd.GetBeforeColumns()) != 0 || len(after) != len(w.Columns) {
					t.Fatalf("entry %d: row %v", i, rd)
				}
				for k, col := range w.Columns {
					value := string(w.After[k].B)
					if k == fixture.ColID {
						value = fmt.Sprint(w.After[k].I)
					}
					a := after[k]
					if a.GetName() != col.Name || a.GetIsKey() != col.Key || a.GetValue() != value || a.GetSqlType() != sqlTypes[col.Type] ||
						a.GetMysqlType() != col.Type || !a.GetUpdated() || a.GetIndex() != int32(k) {
						t.Errorf("entry %d: column %d %v, want %s %s = %q", i, k, a, col.Name, col.Type, value)
					}
				}
				j++
			}
		}
		if e.GetEntryType() != want {
			t.Errorf("entry %d: type %v, want %v", i, e.GetEntryType(), want)
		}
	}
	if msg.Id <= 0 || j != len(logged) {
		t.Fatalf("batch %d with %d entries holding %d changes, want the log's %d", msg.Id, len(msg.Entries), j, len(logged))
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
	if err != nil || p != src.End() {
		t.Errorf("saved position %v (%v), want the last commit %v", p, err, src.End())
	}
}

// TestRollbackRedeliversUnacked takes three batches without acking,
// acks the first, rolls back, and gets exactly the other two again.
func TestRollbackRedeliversUnacked(t *testing.T) {
	for _, byID := range []bool{false, true} {
		t.Run(fmt.Sprintf("byID=%v", byID), func(t *testing.T) {
			ts := startTestServer(t, fixtureSource(t, 5, 3), Config{})
			c := ts.connect(t, 1001, "")
			var ids []int64
			var batches [][]string
			for len(ids) < 3 {
				id, keys := getBatch(t, c, 2) // batches of 2 entries
				if id != -1 {
					ids, batches = append(ids, id), append(batches, keys)
				}
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
			unacked := slices.Concat(batches[1], batches[2])
			again, _ := drain(t, c, len(unacked), 2, true)
			if strings.Join(again[:len(unacked)], " ") != strings.Join(unacked, " ") {
				t.Errorf("after rollback:\n%v\nwant\n%v", again, unacked)
			}
			// Then the rest, and nothing twice: the fixture's 25 changes.
			rest, _ := drain(t, c, 25-len(batches[0])-len(again), 100, true)
			all := slices.Concat(batches[0], again, rest)
			if len(all) != 25 || len(slices.Compact(slices.Clone(all))) != 25 {
				t.Errorf("%d changes in all:\n%v", len(all), all)
			}
		})
	}
}

// TestTwoClientIDs: each client id gets every entry, through a reader of
// its own.
func TestTwoClientIDs(t *testing.T) {
	var mu sync.Mutex
	var urls []string
	src := fixtureSource(t, 4, 2)
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
	src := fixtureSource(t, 4, 2)
	ts := startTestServer(t, src, Config{Store: store})
	c := ts.connect(t, 1001, "")
	id, first := getBatch(t, c, 4)
	for id == -1 {
		id, first = getBatch(t, c, 4)
	}
	all, _ := drain(t, c, 8-len(first), 4, false)
	all = append(first, all...)
	if err := c.Ack(id); err != nil {
		t.Fatal(err)
	}
	// A GET confirms the ack was processed and saved.
	if _, err := c.GetWithOutAck(1, nil, nil); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	ts2 := startTestServer(t, src, Config{Store: store})
	c2 := ts2.connect(t, 1001, "")
	rest, _ := drain(t, c2, 16-len(first), 100, true)
	if rest[0] != all[len(first)] || len(rest) != 16-len(first) {
		t.Errorf("resumed at %s with %d changes, want %s and %d", rest[0], len(rest), all[len(first)], 16-len(first))
	}
}

// TestFilter: a subscription filter (Canal syntax, any case) selects
// tables; begin and end entries stay.
func TestFilter(t *testing.T) {
	ts := startTestServer(t, fixtureSource(t, 2, 2), Config{})
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

// TestPreparedBatches: while the client decodes a batch the server builds
// the next; a client taking small batches gets every change once, in the
// log's order, and most batches were built ahead.
func TestPreparedBatches(t *testing.T) {
	src := fixtureSource(t, 30, 10)
	var want []string
	for c := range src.After(change.Position{}) {
		typ := pbe.EntryType_ROWDATA
		switch c.Op {
		case change.OpBegin:
			typ = pbe.EntryType_TRANSACTIONBEGIN
		case change.OpCommit:
			typ = pbe.EntryType_TRANSACTIONEND
		}
		want = append(want, typ.String()+"@"+c.Pos.String())
	}
	ts := startTestServer(t, src, Config{})
	c := ts.connect(t, 1001, "")
	got, ids := drain(t, c, len(want), 5, true)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
	cur := ts.srv.cursor(ts.srv.dests["example"], "1001")
	cur.mu.Lock()
	taken := cur.taken
	cur.mu.Unlock()
	if taken < len(ids)/2 {
		t.Errorf("%d of %d batches were prepared ahead", taken, len(ids))
	}
	t.Logf("%d batches, %d of them prepared ahead", len(ids), taken)
}

// TestBatchIDInPlace: the batch id of a prepared packet is rewritten in
// place (encodeBatch's idAt).
func TestBatchIDInPlace(t *testing.T) {
	src := fixtureSource(t, 2, 3)
	var cs []change.Change
	for c := range src.After(change.Position{}) {
		cs = append(cs, c)
	}
	d := &pipeline.Delivery{Changes: cs}
	const id = int64(1_700_000_000_000_000)
	bt := encodeBatch(nil, []held{{d: d}}, 0, getRequest{max: 100, maxBytes: 1 << 20}, newEntryEncoder(time.UTC), id)
	protowire.AppendVarint(bt.b[bt.idAt:bt.idAt], uint64(id+1))
	m, err := cproto.Decode(bt.b[4:], false)
	if err != nil || m.Id != id+1 || len(m.Entries) != 6 || bt.to != uint64(len(cs)) || bt.full {
		t.Errorf("batch %v (%v), %d entries, to %d, full %v", m, err, len(m.Entries), bt.to, bt.full)
	}
}

// gateStore is a checkpoint store whose saves wait while gate is open.
type gateStore struct {
	checkpoint.Memory
	mu   sync.Mutex
	gate chan struct{} // when set, a save waits until it is closed
}

func (g *gateStore) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	return g.gate
}

func (g *gateStore) Save(ctx context.Context, id string, p change.Position) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return g.Memory.Save(ctx, id, p)
}

// TestAnswerWaitsForSave: the answer to the GET after an ack goes out
// while the ack is saved, all but its last byte, which follows the save;
// a save that does not come in time cuts the connection there.
func TestAnswerWaitsForSave(t *testing.T) {
	for _, saved := range []bool{true, false} {
		t.Run(fmt.Sprintf("saved=%v", saved), func(t *testing.T) {
			store := &gateStore{}
			ts := startTestServer(t, fixtureSource(t, 5, 3), Config{Store: store, SaveTimeout: 2 * time.Second})
			r := dialRaw(t, ts.port)
			r.login("", "")
			r.send(pbp.PacketType_SUBSCRIPTION, &pbp.Sub{Destination: "example", ClientId: "1001"})
			r.read()
			get := &pbp.Get{Destination: "example", ClientId: "1001", FetchSize: 3,
				TimeoutPresent: &pbp.Get_Timeout{Timeout: 2000}, UnitPresent: &pbp.Get_Unit{Unit: 2}}
			r.send(pbp.PacketType_GET, get)
			m := &pbp.Messages{}
			proto.Unmarshal(r.read().GetBody(), m)
			gate := store.hold()
			r.send(pbp.PacketType_CLIENTACK, &pbp.ClientAck{Destination: "example", ClientId: "1001", BatchId: m.GetBatchId()})
			r.send(pbp.PacketType_GET, get)
			var hdr [4]byte
			r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(r.nc, hdr[:]); err != nil {
				t.Fatal(err)
			}
			b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			r.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := io.ReadFull(r.nc, b)
			if n != len(b)-1 || err == nil {
				t.Fatalf("before the save: %d of %d bytes (%v), want all but the last", n, len(b), err)
			}
			if !saved {
				// No save within SaveTimeout: the connection ends there.
				r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if k, err := r.nc.Read(b[n:]); k != 0 || err == nil {
					t.Errorf("after the save timed out: %d more bytes (%v)", k, err)
				}
				close(gate)
				for deadline := time.Now().Add(5 * time.Second); !strings.Contains(ts.logs.String(), "in the middle of an answer"); {
					if time.Now().After(deadline) {
						t.Fatalf("no cut answer in the log:\n%s", ts.logs.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
				return
			}
			close(gate)
			r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(r.nc, b[n:]); err != nil {
				t.Fatal(err)
			}
			p, err := store.Load(context.Background(), "canal/example/1001")
			if err != nil || p.IsZero() {
				t.Errorf("saved %v (%v) when the answer was complete", p, err)
			}
			var pk pbp.Packet
			m2 := &pbp.Messages{}
			if err := proto.Unmarshal(b, &pk); err != nil || proto.Unmarshal(pk.GetBody(), m2) != nil || m2.GetBatchId() != m.GetBatchId()+1 || len(m2.GetMessages()) == 0 {
				t.Errorf("answer after the save: %v %v (%v)", &pk, m2, err)
			}
		})
	}
}
