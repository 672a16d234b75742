package canal

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	canalclient "github.com/withlin/canal-go/client"
	pbe "github.com/withlin/canal-go/protocol/entry"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-cdc/sluice/change"
)

// Size of TestCanalServerSIGKILL: a workload of killRows row changes,
// paced to take about killPace, and killCount SIGKILLs of the server.
const (
	killCount = 20
	killRows  = 200_000
	killPace  = 40 * time.Second
)

// buildSluice builds a plain (not race-enabled) sluice binary for tests
// that run the server in its own process, once per test binary.
func buildSluice(t *testing.T) string {
	t.Helper()
	sluiceOnce.Do(func() {
		bin := filepath.Join(binDir, "sluice")
		out, err := exec.Command("go", "build", "-o", bin, "../cmd/sluice").CombinedOutput()
		if err != nil {
			sluiceErr = fmt.Errorf("go build ../cmd/sluice: %v\n%s", err, out)
			return
		}
		sluiceBin = bin
	})
	if sluiceErr != nil {
		t.Fatal(sluiceErr)
	}
	return sluiceBin
}

var (
	sluiceOnce sync.Once
	sluiceBin  string
	sluiceErr  error
)

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// killClient is a canal-go client that drains and acks, reconnecting
// whenever the server goes away, and checks what it sees: entries in
// strictly increasing positions on a connection, and never a change at or
// before the last acknowledgement it knows was saved (an ack followed by a
// successful answer on the same connection: the server answers only once
// the acknowledged position is saved).
type killClient struct {
	port int

	mu        sync.Mutex
	rows      map[string]string            // position -> table|id|image of each distinct row change
	tables    map[string]map[string]string // table -> id -> row, rebuilt
	dups      int
	errors    []string
	confirmed change.Position // last position of a batch whose ack is known saved
	reconnect int
	marker    atomic.Bool
}

func (k *killClient) fail(format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.errors) < 20 {
		k.errors = append(k.errors, fmt.Sprintf(format, args...))
	}
}

// run drains until ctx ends.
func (k *killClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		k.session(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// session is one connection's life.
func (k *killClient) session(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil { // canal-go panics on an error packet
			k.fail("canal-go panicked: %v", r)
		}
	}()
	c := canalclient.NewSimpleCanalConnector("127.0.0.1", k.port, "", "", "example", 60000, 60*60*1000)
	if err := c.Connect(); err != nil {
		return
	}
	defer c.DisConnection()
	if err := c.Subscribe(""); err != nil {
		return
	}
	k.mu.Lock()
	k.reconnect++
	k.mu.Unlock()
	var pendingAck change.Position // acked on this connection, not yet confirmed
	var last change.Position
	for ctx.Err() == nil {
		wait, unit := int64(200), int32(2)
		msg, err := c.GetWithOutAck(1000, &wait, &unit)
		if err != nil {
			return
		}
		if !pendingAck.IsZero() {
			k.mu.Lock()
			k.confirmed = pendingAck
			k.mu.Unlock()
			pendingAck = change.Position{}
		}
		if msg.Id == -1 {
			continue
		}
		var end change.Position
		for i := range msg.Entries {
			p := k.entry(&msg.Entries[i])
			if !last.IsZero() && change.Compare(p, last) <= 0 {
				k.fail("entry at %s after %s on one connection", p, last)
			}
			last, end = p, p
		}
		if err := c.Ack(msg.Id); err != nil {
			return
		}
		pendingAck = end
	}
}

// entry records one entry and returns its position (a row entry's: its
// last row's).
func (k *killClient) entry(e *pbe.Entry) change.Position {
	p := k.position(e.GetHeader().GetProps(), "entry")
	rc := &pbe.RowChange{}
	if e.GetEntryType() != pbe.EntryType_ROWDATA {
		rc = nil
	} else if err := proto.Unmarshal(e.GetStoreValue(), rc); err != nil || !rc.GetIsDdl() && len(rc.GetRowDatas()) == 0 {
		k.fail("row entry at %s: %v", p, err)
		return p
	} else if rc.GetIsDdl() {
		rc = nil
	}
	var rows []change.Position
	for _, rd := range rc.GetRowDatas() {
		rows = append(rows, k.position(rd.GetProps(), "row"))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if rc == nil {
		k.seenLocked(p)
		return p
	}
	for i, rd := range rc.GetRowDatas() {
		rp := rows[i]
		if i > 0 && change.Compare(rp, rows[i-1]) <= 0 || i == len(rows)-1 && rp != p {
			k.errors = append(k.errors, fmt.Sprintf("row %d at %s in the entry at %s", i, rp, p))
		}
		k.seenLocked(rp)
		k.rowLocked(rp, e.GetHeader().GetTableName(), rc.GetEventType(), rd)
	}
	return p
}

// position reads the "position" prop.
func (k *killClient) position(props []*pbe.Pair, what string) change.Position {
	for _, pr := range props {
		if pr.GetKey() == "position" {
			p, err := change.ParsePosition(pr.GetValue())
			if err != nil {
				k.fail("%s position %q: %v", what, pr.GetValue(), err)
			}
			return p
		}
	}
	k.fail("%s without a position", what)
	return change.Position{}
}

// seenLocked checks that a change at p was not acknowledged and confirmed before.
func (k *killClient) seenLocked(p change.Position) {
	if !k.confirmed.IsZero() && change.Compare(p, k.confirmed) <= 0 {
		if len(k.errors) < 20 {
			k.errors = append(k.errors, fmt.Sprintf("change at %s again after its acknowledgement was saved (up to %s)", p, k.confirmed))
		}
	}
}

// rowLocked records a row change and applies it to the rebuilt tables.
func (k *killClient) rowLocked(p change.Position, table string, ev pbe.EventType, rd *pbe.RowData) {
	img := func(cols []*pbe.Column) (string, string) {
		var vals []string
		for _, c := range cols {
			vals = append(vals, c.GetValue())
		}
		if len(vals) == 0 {
			return "", ""
		}
		return vals[0], strings.Join(vals, "|")
	}
	bid, _ := img(rd.GetBeforeColumns())
	aid, arow := img(rd.GetAfterColumns())
	key := p.String()
	content := table + " " + ev.String() + " " + bid + " " + arow
	if prev, ok := k.rows[key]; ok {
		k.dups++
		if prev != content {
			k.errors = append(k.errors, fmt.Sprintf("change at %s delivered again differently: %q then %q", key, prev, content))
		}
		return
	}
	k.rows[key] = content
	if table == "fin" {
		k.marker.Store(true)
		return
	}
	t := k.tables[table]
	if t == nil {
		t = map[string]string{}
		k.tables[table] = t
	}
	switch ev {
	case pbe.EventType_INSERT:
		t[aid] = arow
	case pbe.EventType_UPDATE:
		delete(t, bid)
		t[aid] = arow
	case pbe.EventType_DELETE:
		delete(t, bid)
	}
}

// TestCanalServerSIGKILL runs "sluice canal serve" as its own process
// against MariaDB while a canal-go client drains and acknowledges a
// workload of 200,000 row changes; the server is killed with SIGKILL at 20
// random moments spread over the workload and restarted each time. The
// client must see every change (the tables rebuilt from its entries equal
// SELECT and the distinct row changes number what the workload's
// statements affected) and never a change again once its
// acknowledgement was confirmed.
func TestCanalServerSIGKILL(t *testing.T) {
	rows, pace := killRows, killPace
	if testing.Short() {
		rows, pace = 20_000, 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bin := buildSluice(t)
	if err := maria.Exec(ctx, "CREATE DATABASE ckill",
		"CREATE TABLE ckill.a (id int PRIMARY KEY, v int NOT NULL, s varchar(40) NOT NULL)",
		"CREATE TABLE ckill.b (id bigint PRIMARY KEY, v bigint NOT NULL, s varchar(40) NOT NULL)",
		"CREATE TABLE ckill.fin (id int PRIMARY KEY, s varchar(20))"); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	state := filepath.Join(t.TempDir(), "state.db")
	var logs bytes.Buffer
	var logMu sync.Mutex
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "canal", "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--destination", "example="+mariaURL(7001), "--filter", `example=ckill\..*`, "--state", state,
			"--time-zone", "UTC", "--idle-stop", "1s")
		cmd.Stderr = &lockedWriter{mu: &logMu, w: &logs}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return cmd
	}
	k := &killClient{port: port, rows: map[string]string{}, tables: map[string]map[string]string{}}
	cctx, stopClient := context.WithCancel(ctx)
	clientDone := make(chan struct{})
	go func() { defer close(clientDone); k.run(cctx) }()

	var done atomic.Int64
	wdone := make(chan error, 1)
	go func() { wdone <- killWorkload(ctx, rows, pace, &done) }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var killedAt []int64
	var workErr error
	finished := false
	for i := 0; i < killCount; i++ {
		cmd := start()
		at := int64((float64(i) + 0.15 + 0.7*rng.Float64()) / killCount * float64(rows))
		for !finished && done.Load() < at {
			select {
			case workErr = <-wdone:
				finished = true
			case <-time.After(5 * time.Millisecond):
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			logMu.Lock()
			t.Fatalf("kill %d: the server had ended by itself (%v):\n%s", i+1, cmd.ProcessState, tail(logs.String(), 3000))
		}
		killedAt = append(killedAt, done.Load())
	}
	if !finished {
		workErr = <-wdone
	}
	if workErr != nil {
		t.Fatalf("workload: %v", workErr)
	}
	if err := maria.Exec(ctx, "INSERT INTO ckill.fin VALUES (1, 'marker')"); err != nil {
		t.Fatal(err)
	}
	cmd := start()
	for !k.marker.Load() && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	stopClient()
	<-clientDone
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("server after SIGTERM: %v", err)
	}
	logMu.Lock()
	serverLog := logs.String()
	logMu.Unlock()
	if !k.marker.Load() {
		t.Fatalf("the client never saw the marker row:\n%s", tail(serverLog, 3000))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range k.errors {
		t.Error(e)
	}
	for _, table := range []string{"a", "b"} {
		want := map[string]string{}
		for _, r := range selectRowsTZ(t, "SELECT CAST(id AS CHAR), CAST(v AS CHAR), s FROM ckill."+table) {
			want[r[0]] = strings.Join(r, "|")
		}
		got := k.tables[table]
		if len(got) != len(want) {
			t.Errorf("table %s: rebuilt %d rows, SELECT has %d", table, len(got), len(want))
		}
		bad := 0
		for id, w := range want {
			if got[id] != w && bad < 10 {
				bad++
				t.Errorf("table %s row %s: entries %q, SELECT %q", table, id, got[id], w)
			}
		}
	}
	if n := int64(len(k.rows)); n != done.Load()+1 {
		t.Errorf("%d distinct row changes, the workload's statements affected %d (+1 marker)", n, done.Load())
	}
	t.Logf("%d row changes, %d SIGKILLs at row changes %v; the client reconnected %d times, got %d row changes again (never one whose ack was confirmed)",
		done.Load(), len(killedAt), killedAt, k.reconnect, k.dups)
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// killWorkload writes transactions of 1-4 multi-row statements (inserts,
// range updates, primary-key moves, range deletes) to ckill.a and ckill.b
// until they affected rows row changes, paced to take about pace, counting
// committed row changes in done.
func killWorkload(ctx context.Context, rows int, pace time.Duration, done *atomic.Int64) error {
	db, err := maria.DB()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(3, 4))
	next := map[string]int{"a": 1, "b": 1}
	began := time.Now()
	for done.Load() < int64(rows) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		var affected int64
		for range 1 + rng.IntN(4) {
			table := []string{"a", "b"}[rng.IntN(2)]
			full := "ckill." + table
			lo := max(1, next[table]-rng.IntN(6000))
			var q string
			switch r := rng.IntN(20); {
			case r < 9:
				n := 20 + rng.IntN(180)
				vals := make([]string, n)
				for i := range vals {
					vals[i] = fmt.Sprintf("(%d,%d,'s%d')", next[table], rng.IntN(1<<30), rng.IntN(1000))
					next[table]++
				}
				q = "INSERT INTO " + full + " VALUES " + strings.Join(vals, ",")
			case r < 14:
				q = fmt.Sprintf("UPDATE %s SET v = v + 1, s = 'u%d' WHERE id BETWEEN %d AND %d", full, rng.IntN(1000), lo, lo+10+rng.IntN(110))
			case r < 17:
				hi := lo + 5 + rng.IntN(55)
				q = fmt.Sprintf("UPDATE %s SET id = id - %d + %d WHERE id BETWEEN %d AND %d", full, lo, next[table], lo, hi)
				next[table] += hi - lo + 1
			default:
				q = fmt.Sprintf("DELETE FROM %s WHERE id BETWEEN %d AND %d", full, lo, lo+3+rng.IntN(37))
			}
			res, err := tx.ExecContext(ctx, q)
			if err != nil {
				tx.Rollback()
				return fmt.Errorf("%.100s: %w", q, err)
			}
			n, _ := res.RowsAffected()
			affected += n
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		d := done.Add(affected)
		due := time.Duration(float64(pace) * float64(d) / float64(rows))
		if ahead := due - time.Since(began); ahead > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(ahead):
			}
		}
	}
	return nil
}
