package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/internal/webhooktest"
)

// busSink is one sink of TestStreamBusSIGKILL.
type busSink struct {
	name     string
	serverID int
	seed     uint64
	state    bool // needs a state file (the sink keeps no position)
	url      string
	// marker reports whether the sink holds the catch-up marker row.
	marker func(ctx context.Context) (bool, error)
	// check verifies what the sink holds once the stream caught up.
	check func(t *testing.T, dir string)
}

// busRun is the running state of one sink's sluice processes.
type busRun struct {
	sink          busSink
	bin, dir, src string
	args          []string
	logs          testenv.Logs
	lives         [][2]time.Time
	killed        []int64
	cmd           *exec.Cmd
}

// hookServer is a webhook receiver on a fixed address that can be stopped
// and started again (a restart of the sink's server).
type hookServer struct {
	rc   *webhooktest.Receiver
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func (h *hookServer) start() error {
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		return err
	}
	h.addr = ln.Addr().String()
	srv := &http.Server{Handler: h.rc}
	h.mu.Lock()
	h.srv = srv
	h.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

func (h *hookServer) stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.srv.Close()
}

// TestStreamBusSIGKILL is the no-loss test of the Redis, NATS and HTTP
// sinks. One MariaDB workload writes 200,000 row changes (the workload of
// TestStreamMariaDBSIGKILL: multi-row inserts, range updates, primary-key
// moves and range deletes in multi-statement transactions on two tables);
// four "sluice stream" processes (the real binary) read it, each into one
// sink — Redis stream mode, Redis hash mode, NATS JetStream with the
// position in a key-value bucket, and a webhook with the state file — each
// through a TCP proxy that cuts every connection every 2 s. Each sluice is
// killed with SIGKILL at 20 random moments spread over the workload and
// restarted each time; Redis, NATS and the webhook server are each stopped
// and started once under running sluice processes. At the end each stream
// catches up to a marker row and stops on SIGINT. Then: the Redis stream
// and the NATS stream hold every row change exactly once (NATS: within its
// duplicate window, which the test's kills stay inside), NATS in the
// order of the log; the tables rebuilt from them equal SELECT; the Redis
// mirror's keys equal SELECT; the webhook received every change at least
// once, every repeat under an Idempotency-Key it had seen with the same
// body, and the requests with fresh keys hold every change exactly once
// and rebuild the tables. With -short the workload is 20,000 changes and
// each sluice is killed 5 times.
func TestStreamBusSIGKILL(t *testing.T) {
	changes, kills := int64(killChanges), killCount
	if testing.Short() {
		changes, kills = 20_000, 5
	}
	bin, verify := buildKillBinaries(t)
	srv := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	rds := testenv.NewRedis(t)
	nts := testenv.NewNATS(t)
	hook := &hookServer{rc: webhooktest.New([]byte("hook-Secret-5"), "X-Sluice-Signature"), addr: "127.0.0.1:0"}
	// Answers come 40 ms after a request is taken, so that kills often
	// fall on a request the receiver holds and the sender never saw
	// answered: the next sluice must send it again, the same.
	hook.rc.Delay(40 * time.Millisecond)
	if err := hook.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hook.stop() })
	rdsProxy := testenv.NewProxy(t, rds.Addr(), killCutEach)
	ntsProxy := testenv.NewProxy(t, nts.Addr(), killCutEach)
	hookProxy := testenv.NewProxy(t, hook.addr, killCutEach)

	ctx, cancel := context.WithTimeout(context.Background(), 2*killTimeout)
	defer cancel()
	const db = "kbus"
	err := srv.Exec(ctx,
		`CREATE DATABASE `+db,
		`CREATE TABLE `+db+`.a (id int PRIMARY KEY, v int NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+db+`.b (id bigint PRIMARY KEY, n bigint NOT NULL, s varchar(40) NOT NULL)`,
		`CREATE TABLE `+db+`.fin (id int PRIMARY KEY, s varchar(20))`,
	)
	if err != nil {
		t.Fatal(err)
	}
	rcl := goredis.NewClient(&goredis.Options{Addr: rds.Addr(), Password: rds.Password()})
	defer rcl.Close()
	nc, err := nts.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	var prog killProgress // the workload's
	redisURL := fmt.Sprintf("redis://:%s@%s/0", rds.Password(), rdsProxy.Addr())
	natsURL := fmt.Sprintf("nats://%s:%s@%s/", testenv.NATSUser, url.QueryEscape(testenv.NATSPassword), ntsProxy.Addr())
	sinks := []busSink{
		{name: "redis-stream", serverID: 5301, seed: 31, url: redisURL + "?mode=stream&prefix=rs",
			marker: func(ctx context.Context) (bool, error) {
				es, err := rcl.XRange(ctx, "rs:"+db+":fin", "-", "+").Result()
				return len(es) > 0 && strings.Contains(fmt.Sprint(es[len(es)-1].Values), "caught-up-marker"), err
			},
			check: func(t *testing.T, dir string) {
				out := filepath.Join(dir, "redis-stream.jsonl")
				dumpRedisStreams(t, rcl, out, "rs:"+db+":a", "rs:"+db+":b", "rs:"+db+":fin")
				checkExactlyOnce(t, verify, out, srv, db, true, prog.changes.Load())
			}},
		{name: "redis-hash", serverID: 5302, seed: 32, url: redisURL + "?mode=hash&prefix=rh",
			marker: func(ctx context.Context) (bool, error) {
				v, err := rcl.HGet(ctx, "rh:"+db+":fin:1", "s").Result()
				if errors.Is(err, goredis.Nil) {
					return false, nil
				}
				return v == "caught-up-marker", err
			},
			check: func(t *testing.T, dir string) {
				for _, table := range []string{"a", "b"} {
					col := map[string]string{"a": "v", "b": "n"}[table]
					compareRebuilt(t, table, redisMirror(t, rcl, "rh:"+db+":"+table+":", col), selectRows(ctx, t, srv, db+"."+table, col))
				}
			}},
		{name: "nats", serverID: 5303, seed: 33, url: natsURL + "?stream=KBUS&create-stream=on&prefix=kb&checkpoint=kv&bucket=kbus_positions&ack-timeout=3s",
			marker: func(ctx context.Context) (bool, error) {
				st, err := js.Stream(ctx, "KBUS")
				if errors.Is(err, jetstream.ErrStreamNotFound) {
					return false, nil
				} else if err != nil {
					return false, err
				}
				m, err := st.GetLastMsgForSubject(ctx, "kb."+db+".fin")
				if err != nil {
					return false, nil
				}
				return bytes.Contains(m.Data, []byte("caught-up-marker")), nil
			},
			check: func(t *testing.T, dir string) {
				out := filepath.Join(dir, "nats.jsonl")
				dumpNATSStream(t, js, "KBUS", out)
				// Unsorted: the stream's order must be the log's.
				checkExactlyOnce(t, verify, out, srv, db, false, prog.changes.Load())
			}},
		{name: "http", serverID: 5304, seed: 34, state: true,
			url: "http://" + hookProxy.Addr() + "/hook?secret=hook-Secret-5&max-messages=500&timeout=5s&backoff-max=1s",
			marker: func(context.Context) (bool, error) {
				reqs := hook.rc.Requests()
				return len(reqs) > 0 && bytes.Contains(reqs[len(reqs)-1].Messages[len(reqs[len(reqs)-1].Messages)-1], []byte("caught-up-marker")), nil
			},
			check: func(t *testing.T, dir string) {
				if p := hook.rc.Problems(); len(p) > 0 {
					t.Errorf("the receiver refused %d requests: %v", len(p), p[:min(len(p), 5)])
				}
				fresh := filepath.Join(dir, "http-fresh.jsonl")
				writeLines(t, fresh, hook.rc.Deduplicated())
				checkExactlyOnce(t, verify, fresh, srv, db, false, prog.changes.Load())
				var all [][]byte
				repeats := 0
				for _, r := range hook.rc.Requests() {
					all = append(all, r.Messages...)
					if r.Repeat {
						repeats++
					}
				}
				every := filepath.Join(dir, "http-all.jsonl")
				writeLines(t, every, all)
				_, unique, dups, ops := rebuildFromOutput(t, verify, every)
				if rowChanges := ops["insert"] + ops["update"] + ops["delete"]; int64(rowChanges) != prog.changes.Load()+1 {
					t.Errorf("every request: %d distinct row changes, want %d", rowChanges, prog.changes.Load()+1)
				}
				t.Logf("http: %d requests, %d with a repeated key; %d messages, %d distinct, %d repeated (all under repeated keys)",
					len(hook.rc.Requests()), repeats, len(all), unique, dups)
			}},
	}

	// The workload, written once for every sink.
	tc := killTestCase{name: "bus", db: db, seed: 30, changes: changes}
	r := &killRestart{want: 1, half: make(chan struct{}), done: make(chan struct{})}
	wdone := make(chan error, 1)
	go func() { wdone <- killWorkloadRun(ctx, srv, r, tc, &prog) }()

	// Each sink's server restarts once: Redis at a third of the workload,
	// NATS at a half, the webhook at two thirds.
	type restart struct {
		name, sinks  string // sinks: the sinks whose server it is (prefix)
		at           int64
		stop, start  func(context.Context) error
		began, ended time.Time
		err          error
	}
	restarts := []*restart{
		{name: "redis", sinks: "redis", at: changes / 3, stop: rds.Stop, start: rds.Start},
		{name: "nats", sinks: "nats", at: changes / 2, stop: nts.Stop, start: nts.Start},
		{name: "webhook", sinks: "http", at: 2 * changes / 3, stop: func(context.Context) error { return hook.stop() }, start: func(context.Context) error { return hook.start() }},
	}
	var hold sync.RWMutex // a restart waits for no sluice being between a kill and its successor
	rdone := make(chan struct{})
	go func() {
		defer close(rdone)
		for _, rs := range restarts {
			for prog.changes.Load() < rs.at {
				if ctx.Err() != nil {
					rs.err = ctx.Err()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Minute)
			hold.Lock()
			rs.began = time.Now()
			if rs.err = rs.stop(rctx); rs.err == nil {
				time.Sleep(time.Second)
				rs.err = rs.start(rctx)
			}
			rs.ended = time.Now()
			hold.Unlock()
			rcancel()
			if rs.err != nil {
				return
			}
		}
	}()

	dir := t.TempDir()
	runs := make([]*busRun, len(sinks))
	var wg sync.WaitGroup
	for i, sk := range sinks {
		srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, srv.Addr(), sk.serverID)
		br := &busRun{sink: sk, bin: bin, dir: dir, args: []string{"stream", srcURL, "--to", sk.url, "--id", sk.name,
			"--from", "earliest", "--include", db + `\..*`, "--checkpoint-interval", "200ms"}}
		if sk.state {
			br.args = append(br.args, "--state", filepath.Join(dir, sk.name+".db"))
		}
		runs[i] = br
		wg.Add(1)
		go func() {
			defer wg.Done()
			br.killLoop(ctx, t, &hold, &prog, changes, kills)
		}()
	}
	wg.Wait()
	werr := <-wdone
	<-rdone
	if werr != nil {
		t.Fatalf("workload: %v", werr)
	}
	if t.Failed() {
		return
	}
	for _, rs := range restarts {
		if rs.err != nil {
			t.Fatalf("restart of %s: %v", rs.name, rs.err)
		}
	}
	if err := srv.Exec(ctx, `INSERT INTO `+db+`.fin VALUES (1, 'caught-up-marker')`); err != nil {
		t.Fatal(err)
	}
	// Catch up, every sink at once, then stop each with SIGINT.
	for _, br := range runs {
		if br.cmd, err = br.start(t); err != nil {
			t.Fatal(err)
		}
	}
	for _, br := range runs {
		if err := waitFor(ctx, br.sink.marker); err != nil {
			t.Fatalf("%s: the stream did not catch up: %v\n%s", br.sink.name, err, tail(br.logs.String(), 4000))
		}
		br.cmd.Process.Signal(os.Interrupt)
		if err := br.cmd.Wait(); err != nil {
			t.Fatalf("%s: sluice stream after SIGINT: %v\n%s", br.sink.name, err, tail(br.logs.String(), 4000))
		}
	}
	rdsProxy.Close()
	ntsProxy.Close()
	hookProxy.Close()

	for _, rs := range restarts {
		through := false
		for _, br := range runs {
			if strings.HasPrefix(br.sink.name, rs.sinks) {
				through = through || spansRestart(br.lives, rs.began, rs.ended)
			}
		}
		t.Logf("%s restarted (%s .. %s), a sluice of its sinks running through it: %t", rs.name, rs.began.Format("15:04:05.000"), rs.ended.Format("15:04:05.000"), through)
		if !through {
			t.Errorf("no sluice writing to %s ran through its restart", rs.name)
		}
	}
	for _, br := range runs {
		t.Run(br.sink.name, func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("warnings and errors of every sluice process:\n%s", tail(grepLines(br.logs.String(), "level=WARN", "level=ERROR", "sluice:"), 6000))
				}
			}()
			br.sink.check(t, dir)
			t.Logf("%s: %d SIGKILLs at row changes %v; the workload wrote %d row changes in %d transactions",
				br.sink.name, len(br.killed), br.killed, prog.changes.Load(), prog.txs.Load())
		})
	}
	t.Logf("proxy cuts: redis %d, nats %d, webhook %d", rdsProxy.Cuts(), ntsProxy.Cuts(), hookProxy.Cuts())
	for _, p := range []*testenv.Proxy{rdsProxy, ntsProxy, hookProxy} {
		if p.Cuts() < 3 {
			t.Errorf("a proxy cut only %d times", p.Cuts())
		}
	}
}

// start starts a sluice stream process of br's sink.
func (br *busRun) start(t *testing.T) (*exec.Cmd, error) {
	cmd := exec.Command(br.bin, br.args...)
	cmd.Dir = br.dir
	cmd.Stderr = &br.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// On an early end of the test the child must not outlive it; after a
	// normal end this finds it already reaped.
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, nil
}

// killLoop starts br's sluice and kills it at kills random moments of the
// workload (kill i in the i-th kills-th of it), restarting it each time.
// A kill and the start of the next process happen under hold's read
// lock, which a server restart takes for writing: a restart never falls
// between a kill and the next start, so a sluice runs through it.
func (br *busRun) killLoop(ctx context.Context, t *testing.T, hold *sync.RWMutex, prog *killProgress, target int64, kills int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), br.sink.seed))
	born := time.Now()
	cmd, err := br.start(t)
	if err != nil {
		t.Errorf("%s: %v", br.sink.name, err)
		return
	}
	for i := 0; i < kills; i++ {
		at := int64((float64(i) + 0.15 + 0.7*rng.Float64()) / float64(kills) * float64(target))
		for prog.changes.Load() < at && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		hold.RLock()
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			hold.RUnlock()
			t.Errorf("%s: kill %d: sluice stream had already ended by itself (%v) before the kill:\n%s", br.sink.name, i+1, cmd.ProcessState, tail(br.logs.String(), 4000))
			return
		}
		br.killed = append(br.killed, prog.changes.Load())
		br.lives = append(br.lives, [2]time.Time{born, time.Now()})
		if i+1 < kills {
			born = time.Now()
			if cmd, err = br.start(t); err != nil {
				hold.RUnlock()
				t.Errorf("%s: %v", br.sink.name, err)
				return
			}
		}
		hold.RUnlock()
	}
}

// waitFor polls ok until it reports true.
func waitFor(ctx context.Context, ok func(context.Context) (bool, error)) error {
	for {
		done, err := ok(ctx)
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeLines writes msgs to path, one per line.
func writeLines(t *testing.T, path string, msgs [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, m := range msgs {
		w.Write(m)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// dumpRedisStreams writes the value of every entry of the streams to out.
func dumpRedisStreams(t *testing.T, cl *goredis.Client, out string, streams ...string) {
	t.Helper()
	var msgs [][]byte
	for _, s := range streams {
		for from := "-"; ; {
			es, err := cl.XRangeN(context.Background(), s, from, "+", 10000).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				msgs = append(msgs, []byte(e.Values["value"].(string)))
			}
			if len(es) < 10000 {
				break
			}
			from = "(" + es[len(es)-1].ID
		}
	}
	writeLines(t, out, msgs)
}

// dumpNATSStream writes the data of every message of stream to out, in
// the stream's order.
func dumpNATSStream(t *testing.T, js jetstream.JetStream, stream, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for uint64(len(msgs)) < info.State.Msgs {
		batch, err := cons.FetchNoWait(5000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			msgs = append(msgs, m.Data())
			n++
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d messages", len(msgs), info.State.Msgs)
		}
	}
	writeLines(t, out, msgs)
}

// checkExactlyOnce checks with killverify that out holds every row change
// of the workload once (and the marker), and rebuilds the tables equal to
// SELECT. sorted orders the lines by position first (an output ordered
// per table only).
func checkExactlyOnce(t *testing.T, verify, out string, srv *testenv.MariaDB, db string, sorted bool, workload int64) {
	t.Helper()
	var flags []string
	if sorted {
		flags = append(flags, "-sort")
	}
	tables, unique, dups, ops := rebuildFromOutput(t, verify, out, flags...)
	ctx := context.Background()
	for _, table := range []string{"a", "b"} {
		col := map[string]string{"a": "v", "b": "n"}[table]
		compareRebuilt(t, table, tables[table], selectRows(ctx, t, srv, db+"."+table, col))
	}
	if dups != 0 {
		t.Errorf("%d changes delivered more than once (%d distinct)", dups, unique)
	}
	// One more than the workload: the marker row.
	if rowChanges := ops["insert"] + ops["update"] + ops["delete"]; int64(rowChanges) != workload+1 {
		t.Errorf("%d distinct row changes, the workload's statements affected %d (+1 marker); by op: %v", rowChanges, workload, ops)
	}
	t.Logf("%d distinct changes, %d repeated; row changes by op: %v", unique, dups, ops)
}

// redisMirror reads the hash mode keys under prefix as key text -> row
// text, as selectRows writes them.
func redisMirror(t *testing.T, cl *goredis.Client, prefix, col string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	var cursor uint64
	for {
		keys, next, err := cl.Scan(ctx, cursor, prefix+"*", 5000).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			h, err := cl.HGetAll(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			id := strings.TrimPrefix(k, prefix)
			if h["id"] != id {
				t.Errorf("key %s holds id %q", k, h["id"])
			}
			out[id] = h["id"] + "|" + h[col] + "|" + h["s"]
		}
		if cursor = next; cursor == 0 {
			return out
		}
	}
}
