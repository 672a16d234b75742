package mysql

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// cuttingProxy forwards TCP to target and cuts every connection every
// period; it stops when closed.
type cuttingProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	frozen []*atomic.Bool
	cuts   int
	done   chan struct{}
	wg     sync.WaitGroup
}

// newCuttingProxy starts a proxy to target that cuts its connections every
// period (0: never).
func newCuttingProxy(t *testing.T, target string, period time.Duration) *cuttingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, target: target, done: make(chan struct{})}
	p.wg.Add(2)
	go p.accept()
	go func() {
		defer p.wg.Done()
		if period == 0 {
			<-p.done
			return
		}
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-tk.C:
				p.cut()
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *cuttingProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		frozen := &atomic.Bool{}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.frozen = append(p.frozen, frozen)
		p.mu.Unlock()
		go p.pipe(up, c, frozen)
		go p.pipe(c, up, frozen)
	}
}

// pipe copies src to dst until either fails; once frozen it stops
// forwarding but keeps both sockets open, like a dead network path.
func (p *cuttingProxy) pipe(dst, src net.Conn, frozen *atomic.Bool) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if frozen.Load() {
			<-p.done
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze makes every current connection silent without closing it.
func (p *cuttingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
	p.frozen = nil
	p.conns = nil
}

func (p *cuttingProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) > 0 {
		p.cuts++
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttingProxy) close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// TestReconnectThroughCuttingProxy writes while a proxy cuts the
// replication connection every 2 s: every row arrives, in order, and
// nothing is delivered twice.
func TestReconnectThroughCuttingProxy(t *testing.T) {
	for _, gtid := range []bool{false, true} {
		t.Run(fmt.Sprintf("gtid=%t", gtid), func(t *testing.T) { cuttingProxyRun(t, gtid) })
	}
}

func cuttingProxyRun(t *testing.T, gtid bool) {
	table := fmt.Sprintf("cut_%t", gtid)
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop."+table,
		"CREATE TABLE shop."+table+" (id INT PRIMARY KEY, pad VARCHAR(200))")
	from := currentPosition(t, shared)
	proxy := newCuttingProxy(t, shared.Addr(), 2*time.Second)
	cfg := testConfig(proxy.ln.Addr().String())
	cfg.GTID = gtid
	src, _ := New(cfg)
	col := startCollector(t, src, from)
	const n = 600
	db, err := shared.DB()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(7 * time.Second)
	for i := 1; i <= n; i++ {
		if _, err := db.Exec("INSERT INTO shop."+table+" VALUES (?, REPEAT('p', 150))", i); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			time.Sleep(time.Until(deadline) / time.Duration((n-i)/100+1))
		}
	}
	got := col.waitFor(t, 60*time.Second, fmt.Sprintf("%d inserts", n), countData(table, n))
	proxy.mu.Lock()
	cuts := proxy.cuts
	proxy.mu.Unlock()
	if cuts < 2 {
		t.Fatalf("the proxy cut only %d connections", cuts)
	}
	checkTransactions(t, got)
	rows := data(got, table)
	for i, c := range rows[:n] {
		if want := fmt.Sprint(i + 1); string(change.AppendText(nil, c.After[0])) != want {
			t.Fatalf("insert %d has id %s (after %d cuts):\n%s", i, change.AppendText(nil, c.After[0]), cuts, dump(rows[max(0, i-3):i+1]))
		}
	}
	t.Logf("%d rows through %d connection cuts", n, cuts)
}

// TestServerRestart restarts the server under a running stream.
func TestServerRestart(t *testing.T) {
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	exec(t, srv, "CREATE DATABASE app", "CREATE TABLE app.r (id INT PRIMARY KEY)")
	from := currentPosition(t, srv)
	cfg := testConfig(srv.Addr())
	src, _ := New(cfg)
	col := startCollector(t, src, from)
	exec(t, srv, "INSERT INTO app.r VALUES (1)")
	col.waitFor(t, 20*time.Second, "first insert", countData("r", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, srv, "INSERT INTO app.r VALUES (2)", "INSERT INTO app.r VALUES (3)")
	got := col.waitFor(t, 60*time.Second, "3 inserts", countData("r", 3))
	checkTransactions(t, got)
	rows := data(got, "r")
	for i, c := range rows {
		if g := string(change.AppendText(nil, c.After[0])); g != fmt.Sprint(i+1) {
			t.Fatalf("insert %d has id %s:\n%s", i, g, dump(rows))
		}
	}
}

// TestSilentDeadConnection freezes the replication connection without
// closing it: the read deadline (3 heartbeats) must notice, and the
// stream must reconnect and deliver what was written meanwhile.
func TestSilentDeadConnection(t *testing.T) {
	exec(t, shared, "CREATE DATABASE IF NOT EXISTS shop", "DROP TABLE IF EXISTS shop.frozen",
		"CREATE TABLE shop.frozen (id INT PRIMARY KEY)")
	from := currentPosition(t, shared)
	proxy := newCuttingProxy(t, shared.Addr(), 0)
	cfg := testConfig(proxy.ln.Addr().String()) // heartbeat 500ms: dead after 1.5s
	src, _ := New(cfg)
	col := startCollector(t, src, from)
	exec(t, shared, "INSERT INTO shop.frozen VALUES (1)")
	col.waitFor(t, 20*time.Second, "first insert", countData("frozen", 1))
	proxy.freeze()
	start := time.Now()
	exec(t, shared, "INSERT INTO shop.frozen VALUES (2)")
	got := col.waitFor(t, 20*time.Second, "insert after the freeze", countData("frozen", 2))
	took := time.Since(start)
	if took < cfg.readTimeout()/2 {
		t.Fatalf("second insert after %v: the frozen connection still delivered?", took)
	}
	checkTransactions(t, got)
	if rows := data(got, "frozen"); len(rows) != 2 {
		t.Fatalf("got %d inserts:\n%s", len(rows), dump(rows))
	}
	t.Logf("silent connection replaced after %v (read timeout %v)", took, cfg.readTimeout())
}
