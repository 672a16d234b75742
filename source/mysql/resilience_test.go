package mysql

import (
	"context"
	"fmt"
	"strings"
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
	proxy := testenv.NewProxy(t, shared.Addr(), 2*time.Second)
	cfg := testConfig(proxy.Addr())
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
	cuts := proxy.Cuts()
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
	proxy := testenv.NewProxy(t, shared.Addr(), 0)
	cfg := testConfig(proxy.Addr()) // heartbeat 500ms: dead after 1.5s
	src, _ := New(cfg)
	col := startCollector(t, src, from)
	exec(t, shared, "INSERT INTO shop.frozen VALUES (1)")
	col.waitFor(t, 20*time.Second, "first insert", countData("frozen", 1))
	proxy.Freeze()
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
