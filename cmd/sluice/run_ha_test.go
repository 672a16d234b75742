package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/server"
)

// The HA kill tests: three `sluice run` processes with one config, four
// pipelines (two MariaDB databases, two PostgreSQL databases), each
// instance writing its deliveries to files of its own; the owner of a
// pipeline is SIGKILLed haKills times during the workload and started
// again as the same instance.
const (
	haKills      = 10
	haTTL        = 3 * time.Second
	haStopMargin = 750 * time.Millisecond
	haToken      = "ha-test-token"
)

// haSize is the workload: row changes over all four pipelines, and the
// time it is paced to take. The partition and coordinator-down tests
// are about timing, not volume: they run the short workload.
func haSize(mode string) (changes int64, pace time.Duration) {
	if testing.Short() || mode != "kill" {
		return 20_000, 60 * time.Second
	}
	return 200_000, 100 * time.Second
}

func TestRunHAEtcd(t *testing.T)       { runHAKill(t, "etcd", "kill") }
func TestRunHAZooKeeper(t *testing.T)  { runHAKill(t, "zk", "kill") }
func TestRunHASourceLock(t *testing.T) { runHAKill(t, "source", "kill") }

// TestRunHAPartition: each instance reaches etcd through a proxy of its
// own; the owner of a pipeline is partitioned from etcd (its connections
// frozen, new ones held) three times: it stops delivering its pipelines
// (the log's "lease lost" line, after the run ended) before another
// instance acquires them, and delivers nothing after.
func TestRunHAPartition(t *testing.T) { runHAKill(t, "etcd", "partition") }

// TestRunHACoordinatorDown: etcd is killed for 30 s under the running
// instances: every owner stops within the TTL, nothing is delivered while
// no lease can be valid, and once etcd is back the pipelines are owned
// again and deliver everything.
func TestRunHACoordinatorDown(t *testing.T) { runHAKill(t, "etcd", "down") }

// haPipeline is one of the four pipelines and its workload.
type haPipeline struct {
	name string
	pg   bool
	db   string // MariaDB database or PostgreSQL database
	prog killProgress
}

// haProc is one running sluice process.
type haProc struct {
	inst, life string
	cmd        *exec.Cmd
	port       int
	exited     chan struct{}
}

type haRun struct {
	t        *testing.T
	bin, dir string
	cfg      string
	ports    []int
	// haURL and stateURL are each instance's coordinator and checkpoint
	// URLs (through its own proxy in the partition test).
	haURL, stateURL []string
	mu              sync.Mutex
	procs           map[string]*haProc // by instance
	lives           map[string]int
	client          *http.Client
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start starts instance i (again).
func (r *haRun) start(i int) {
	r.t.Helper()
	inst := fmt.Sprintf("i%d", i)
	r.mu.Lock()
	r.lives[inst]++
	life := fmt.Sprintf("%s-%d", inst, r.lives[inst])
	r.mu.Unlock()
	logf, err := os.Create(filepath.Join(r.dir, "logs", life+".log"))
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "run", "--log-format", "json", r.cfg)
	cmd.Env = append(os.Environ(), "SLUICE_INSTANCE="+inst, "SLUICE_LIFE="+life, fmt.Sprintf("SLUICE_HTTP=127.0.0.1:%d", r.ports[i]),
		"SLUICE_HA="+r.haURL[i], "SLUICE_STATE="+r.stateURL[i])
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	logf.Close()
	p := &haProc{inst: inst, life: life, cmd: cmd, port: r.ports[i], exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	r.t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	r.mu.Lock()
	r.procs[inst] = p
	r.mu.Unlock()
}

// status asks a process for its pipelines.
func (r *haRun) status(p *haProc) (server.PipelineList, error) {
	var list server.PipelineList
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/pipelines", p.port), nil)
	req.Header.Set("Authorization", "Bearer "+haToken)
	res, err := r.client.Do(req)
	if err != nil {
		return list, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return list, fmt.Errorf("status %s", res.Status)
	}
	return list, json.NewDecoder(res.Body).Decode(&list)
}

// owners returns the owner of each pipeline as the live processes report
// it (an owner claims owned: true), and a note when two claim one.
func (r *haRun) owners() (map[string]string, string) {
	r.mu.Lock()
	procs := make([]*haProc, 0, len(r.procs))
	for _, p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	out := map[string]string{}
	note := ""
	for _, p := range procs {
		list, err := r.status(p)
		if err != nil {
			continue
		}
		for _, pv := range list.Pipelines {
			if pv.HA != nil && pv.HA.Owned {
				if prev, ok := out[pv.Name]; ok {
					note += fmt.Sprintf("%s claimed by %s and %s; ", pv.Name, prev, p.inst)
				}
				out[pv.Name] = p.inst
			}
		}
	}
	return out, note
}

func runHAKill(t *testing.T, coord, mode string) {
	total, pace := haSize(mode)
	bin, verify := buildKillBinaries(t)
	maria := testenv.NewMariaDB(t, testenv.MariaDBOptions{})
	pg := testenv.NewPostgres(t, testenv.PostgresOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), pace+6*time.Minute)
	defer cancel()
	pipes := []*haPipeline{{name: "m1", db: "hm1"}, {name: "m2", db: "hm2"}, {name: "p1", pg: true, db: "hp1"}, {name: "p2", pg: true, db: "hp2"}}
	for _, p := range pipes {
		if !p.pg {
			if err := maria.Exec(ctx, `CREATE DATABASE `+p.db,
				`CREATE TABLE `+p.db+`.a (id int PRIMARY KEY, v int NOT NULL, s varchar(40) NOT NULL)`,
				`CREATE TABLE `+p.db+`.b (id bigint PRIMARY KEY, n bigint NOT NULL, s varchar(40) NOT NULL)`,
				`CREATE TABLE `+p.db+`.fin (id int PRIMARY KEY, s varchar(20))`); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := pg.Exec(ctx, "postgres", `CREATE DATABASE `+p.db); err != nil {
			t.Fatal(err)
		}
		if err := pg.Exec(ctx, p.db,
			`CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL, s text NOT NULL)`,
			`CREATE TABLE b (id bigint PRIMARY KEY, n bigint NOT NULL, s text NOT NULL)`,
			`CREATE TABLE fin (id int PRIMARY KEY, s text NOT NULL)`,
			`ALTER TABLE a REPLICA IDENTITY FULL`, `ALTER TABLE b REPLICA IDENTITY FULL`,
			`CREATE PUBLICATION hp FOR TABLE a, b, fin`,
			`SELECT pg_create_logical_replication_slot('`+p.db+`', 'pgoutput')`); err != nil {
			t.Fatal(err)
		}
	}
	if err := maria.Exec(ctx, `CREATE DATABASE hachk`); err != nil {
		t.Fatal(err)
	}

	var haURL string
	state := map[string]string{}
	var etcd *testenv.Etcd
	var proxies []*testenv.Proxy
	switch coord {
	case "etcd":
		etcd = testenv.NewEtcd(t)
		haURL = etcd.URL("sluice")
		for _, p := range pipes {
			state[p.name] = etcd.URL("ckpt")
		}
		if mode == "partition" {
			haURL = "${SLUICE_HA}"
			for _, p := range pipes {
				state[p.name] = "${SLUICE_STATE}"
			}
			for range 3 {
				proxies = append(proxies, testenv.NewProxy(t, etcd.Addr(), 0))
			}
		}
	case "zk":
		z := testenv.NewZooKeeper(t)
		haURL = z.URL("/sluice")
		for _, p := range pipes {
			state[p.name] = z.URL("/ckpt")
		}
	case "source":
		haURL = "source"
		for _, p := range pipes {
			if p.pg {
				state[p.name] = pg.DSN("postgres") + "&table=sluice_checkpoint"
			} else {
				state[p.name] = fmt.Sprintf("mysql://%s:%s@%s/hachk?table=sluice_checkpoint", testenv.MariaDBRootUser, testenv.MariaDBRootPassword, maria.Addr())
			}
		}
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "logs"), 0o755)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "ha:\n  coordinator: %s\n  instance: ${SLUICE_INSTANCE}\n  ttl: %s\n  stop-margin: %s\n", haURL, haTTL, haStopMargin)
	fmt.Fprintf(&cfg, "http:\n  listen: ${SLUICE_HTTP}\n  token: %s\npipelines:\n", haToken)
	for i, p := range pipes {
		src := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", testenv.MariaDBReplUser, testenv.MariaDBReplPassword, maria.Addr(), 6101+i)
		extra := "    from: earliest\n    include: '" + p.db + `\.(a|b|fin)` + "'\n"
		if p.pg {
			src = pg.DSN(p.db) + "&slot=" + p.db + "&publication=hp&create-publication=no"
			extra = "    snapshot: never\n"
		}
		fmt.Fprintf(&cfg, "  %s:\n    source: %q\n    to: 'file://%s/${SLUICE_LIFE}-%s.jsonl'\n    state: '%s'\n%s    checkpoint-interval: 200ms\n    retry-min: 100ms\n    retry-max: 1s\n",
			p.name, src, dir, p.name, state[p.name], extra)
	}
	r := &haRun{t: t, bin: bin, dir: dir, cfg: filepath.Join(dir, "sluice.yaml"), procs: map[string]*haProc{}, lives: map[string]int{},
		client: &http.Client{Timeout: 2 * time.Second}}
	if err := os.WriteFile(r.cfg, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r.ports = append(r.ports, freePort(t))
		if proxies != nil {
			r.haURL = append(r.haURL, "etcd://"+proxies[i].Addr()+"/sluice")
			r.stateURL = append(r.stateURL, "etcd://"+proxies[i].Addr()+"/ckpt")
		} else {
			r.haURL = append(r.haURL, "")
			r.stateURL = append(r.stateURL, "")
		}
	}
	for i := range 3 {
		r.start(i)
	}
	logs := func() string {
		var b strings.Builder
		files, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
		for _, f := range files {
			data, _ := os.ReadFile(f)
			fmt.Fprintf(&b, "== %s\n%s", filepath.Base(f), tail(string(data), 3000))
		}
		return b.String()
	}

	// Every pipeline owned, spread over the three instances.
	var own map[string]string
	waitOwned := func(what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			own, _ = r.owners()
			if len(own) == len(pipes) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %v owned after 60s\n%s", what, own, logs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Every pipeline owned, spread over the three instances: at once
	// when they started together, else once the instance owning the
	// most has handed one off (after the spread delay).
	waitOwned("start")
	t.Logf("owners at the start: %v", own)
	spreadAt := time.Now()
	for {
		spread := map[string]int{}
		for _, inst := range own {
			spread[inst]++
		}
		if len(spread) == 3 && len(own) == len(pipes) {
			t.Logf("spread over the three instances after %v: %v", time.Since(spreadAt).Round(10*time.Millisecond), own)
			break
		}
		if time.Since(spreadAt) > 30*time.Second {
			t.Errorf("the four pipelines are not spread over the three instances 30s after all were owned: %v", own)
			break
		}
		time.Sleep(100 * time.Millisecond)
		own, _ = r.owners()
	}

	r.checkStatus(coord, own)

	// The workloads, each a quarter of the changes, paced together.
	wdone := make(chan error, len(pipes))
	for i, p := range pipes {
		go func() { wdone <- haWorkload(ctx, maria, pg, p, uint64(i+1), total/int64(len(pipes)), pace) }()
	}
	progress := func() int64 {
		var n int64
		for _, p := range pipes {
			n += p.prog.changes.Load()
		}
		return n
	}

	var takeovers []time.Duration
	var notes []string
	var quiet [][2]time.Time // windows in which nothing may be read and delivered
	switch mode {
	case "kill":
		takeovers, notes = r.killLoop(total, progress, pipes, waitOwned, &own, logs)
	case "partition":
		takeovers = r.partitionLoop(total, progress, pipes, waitOwned, &own, proxies)
	case "down":
		quiet = r.coordinatorDown(ctx, total, progress, waitOwned, &own, etcd)
	}
	for range pipes {
		if err := <-wdone; err != nil {
			t.Fatalf("workload: %v", err)
		}
	}
	workEnd := time.Now()
	// Markers: once each pipeline delivered its marker, it delivered
	// everything before it.
	for _, p := range pipes {
		var err error
		if p.pg {
			err = pg.Exec(ctx, p.db, `INSERT INTO fin VALUES (1, 'caught-up-marker')`)
		} else {
			err = maria.Exec(ctx, `INSERT INTO `+p.db+`.fin VALUES (1, 'caught-up-marker')`)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pipes {
		for {
			files, _ := filepath.Glob(filepath.Join(dir, "*-"+p.name+".jsonl"))
			found := false
			for _, f := range files {
				if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte("caught-up-marker")) {
					found = true
				}
			}
			if found {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never delivered its marker\n%s", p.name, logs())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	caughtUp := time.Since(workEnd)
	r.mu.Lock()
	for _, p := range r.procs {
		p.cmd.Process.Signal(os.Interrupt)
	}
	for _, p := range r.procs {
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop 30s after SIGINT", p.life)
		}
	}
	r.mu.Unlock()

	if mode == "partition" {
		checkStoppedBeforeTakeover(t, dir)
	}
	if len(quiet) > 0 {
		checkNothingReadIn(t, dir, quiet)
	}
	// Takeover times.
	sort.Slice(takeovers, func(i, j int) bool { return takeovers[i] < takeovers[j] })
	limit := haTTL + 5*time.Second
	for _, d := range takeovers {
		if d > limit {
			t.Errorf("a takeover took %v, over TTL + 5 s = %v", d.Round(10*time.Millisecond), limit)
		}
	}
	if len(takeovers) == 0 {
		takeovers = []time.Duration{0}
	}
	q := func(f float64) time.Duration {
		return takeovers[min(len(takeovers)-1, int(f*float64(len(takeovers))))].Round(10 * time.Millisecond)
	}
	events := map[string]int{"kill": haKills, "partition": 3, "down": 1}[mode]
	t.Logf("HA-RESULT mode=%s coordinator=%s events=%d takeovers=%d p50=%v p99=%v max=%v min=%v changes=%d ttl=%v stop-margin=%v caught-up=%v",
		mode, coord, events, len(takeovers), q(0.5), q(0.99), takeovers[len(takeovers)-1].Round(10*time.Millisecond), takeovers[0].Round(10*time.Millisecond),
		progress(), haTTL, haStopMargin, caughtUp.Round(100*time.Millisecond))
	if len(notes) > 0 {
		t.Logf("moments two live instances reported owning one pipeline (status polls are not atomic): %v", notes)
	}

	// No overlap: the tenures (from an instance's lease acquisition to its
	// next, per process life) of one pipeline, measured by the read times
	// of the changes they delivered, never overlap.
	for _, p := range pipes {
		checkNoOverlap(t, dir, p.name)
	}

	// The union of all deliveries, deduplicated by position, rebuilds
	// every table.
	for _, p := range pipes {
		files, _ := filepath.Glob(filepath.Join(dir, "*-"+p.name+".jsonl"))
		all := filepath.Join(dir, "all-"+p.name+".jsonl")
		concat(t, all, files)
		tables, unique, dups, ops := rebuildFromOutput(t, verify, all, "-sort")
		if p.pg {
			conn, err := pg.Connect(ctx, p.db)
			if err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"a", "b"} {
				compareRebuilt(t, p.name+"."+table, tables[table], pgSelectRows(ctx, t, conn, table))
			}
			conn.Close(ctx)
		} else {
			for _, table := range []string{"a", "b"} {
				compareRebuilt(t, p.name+"."+table, tables[table], selectRows(ctx, t, maria, p.db+"."+table, map[string]string{"a": "v", "b": "n"}[table]))
			}
		}
		rowChanges := ops["insert"] + ops["update"] + ops["delete"]
		if want := p.prog.changes.Load() + 1; int64(rowChanges) != want {
			t.Errorf("%s: %d distinct row changes delivered, the workload affected %d (+1 marker); by op %v", p.name, rowChanges, want-1, ops)
		}
		t.Logf("%s: %d files, %d distinct changes, %d delivered again", p.name, len(files), unique, dups)
	}
}

// haWorkload writes p's transactions until they affected target row
// changes, paced to take about pace.
func haWorkload(ctx context.Context, maria *testenv.MariaDB, pg *testenv.Postgres, p *haPipeline, seed uint64, target int64, pace time.Duration) error {
	rng := rand.New(rand.NewPCG(seed, 18))
	began := time.Now()
	var conn *pgx.Conn
	if p.pg {
		var err error
		if conn, err = pg.Connect(ctx, p.db); err != nil {
			return err
		}
		defer conn.Close(context.Background())
	}
	nextM := map[string]int{"a": 1, "b": 1}
	nextP := map[string]int64{"a": 1, "b": 1}
	for p.prog.changes.Load() < target {
		var n int64
		var err error
		if p.pg {
			n, _, err = pgKillTx(ctx, conn, rng, nextP)
		} else {
			n, _, err = killTx(ctx, maria, rng, p.db, nextM)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		done := p.prog.changes.Add(n)
		p.prog.txs.Add(1)
		due := time.Duration(float64(pace) * float64(done) / float64(target))
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

// concat writes the files one after the other into out.
func concat(t *testing.T, out string, files []string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range files {
		in, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(f, in)
		in.Close()
		// A killed process may have left a torn last line; it is
		// finished by the next line only if the file ends in one.
		if st, _ := f.Stat(); st.Size() > 0 {
			b := make([]byte, 1)
			f.ReadAt(b, st.Size()-1)
			if b[0] != '\n' {
				f.Write([]byte("\n"))
			}
		}
	}
}

// tenure is one lease of a pipeline held by one process life, and the
// read times of what it delivered.
type tenure struct {
	life        string
	acquired    time.Time
	first, last time.Time
	n           int
}

// checkNoOverlap reads every process life's log for its acquisitions of
// pipeline name and its output file for the read time of each delivered
// change, and fails if two tenures' deliveries overlap in time.
func checkNoOverlap(t *testing.T, dir, name string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	var all []*tenure
	for _, lf := range logs {
		life := strings.TrimSuffix(filepath.Base(lf), ".log")
		var mine []*tenure
		data, _ := os.ReadFile(lf)
		for _, line := range bytes.Split(data, []byte("\n")) {
			var l struct {
				Time     time.Time `json:"time"`
				Msg      string    `json:"msg"`
				Pipeline string    `json:"pipeline"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "ha: lease acquired" && l.Pipeline == name {
				mine = append(mine, &tenure{life: life, acquired: l.Time})
			}
		}
		out, err := os.Open(filepath.Join(dir, life+"-"+name+".jsonl"))
		if err != nil {
			if len(mine) > 0 {
				t.Logf("%s acquired %s %d times and delivered nothing", life, name, len(mine))
			}
			continue
		}
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Bytes()
			i := bytes.Index(line, []byte(`"read_ts":"`))
			if i < 0 {
				continue
			}
			rest := line[i+len(`"read_ts":"`):]
			j := bytes.IndexByte(rest, '"')
			if j < 0 {
				continue // a torn last line
			}
			rt, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
			if err != nil {
				t.Fatalf("%s: read_ts %q: %v", life, rest[:j], err)
			}
			// The tenure is the last acquisition before the read.
			var at *tenure
			for _, tn := range mine {
				if !tn.acquired.After(rt) {
					at = tn
				}
			}
			if at == nil {
				t.Errorf("%s delivered a change of %s read at %s, before any lease of it (acquisitions %d)", life, name, rt.Format(time.RFC3339Nano), len(mine))
				break
			}
			if at.n == 0 || rt.Before(at.first) {
				at.first = rt
			}
			if rt.After(at.last) {
				at.last = rt
			}
			at.n++
		}
		out.Close()
		for _, tn := range mine {
			if tn.n > 0 {
				all = append(all, tn)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].first.Before(all[j].first) })
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if !b.first.After(a.last) {
			t.Errorf("%s: %s delivered changes read %s..%s while %s delivered changes read %s..%s: two owners at once",
				name, a.life, a.first.Format("15:04:05.000"), a.last.Format("15:04:05.000"), b.life, b.first.Format("15:04:05.000"), b.last.Format("15:04:05.000"))
		}
	}
	var gaps []string
	for i := 1; i < len(all); i++ {
		gaps = append(gaps, fmt.Sprintf("%s→%s %v", all[i-1].life, all[i].life, all[i].first.Sub(all[i-1].last).Round(10*time.Millisecond)))
	}
	t.Logf("%s: %d tenures delivered; gaps between them (last read of one to first read of the next): %s", name, len(all), strings.Join(gaps, ", "))
}

// killLoop SIGKILLs the owner of a pipeline haKills times, kill k in the
// k-th tenth of the workload, and returns the takeover times.
func (r *haRun) killLoop(total int64, progress func() int64, pipes []*haPipeline, waitOwned func(string), ownp *map[string]string, logs func() string) ([]time.Duration, []string) {
	// Kill k falls in the k-th tenth of the workload: the owner of
	// pipeline k%4 dies, every pipeline it owned must be owned by another
	// instance within TTL + 5 s, and it is started again.
	t := r.t
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	var takeovers []time.Duration
	var notes []string
	for k := range haKills {
		at := int64((float64(k) + 0.2 + 0.6*rng.Float64()) / haKills * float64(total))
		r.waitProgress(progress, at)
		waitOwned(fmt.Sprintf("before kill %d", k+1))
		victim := (*ownp)[pipes[k%len(pipes)].name]
		var moved []string
		for name, inst := range *ownp {
			if inst == victim {
				moved = append(moved, name)
			}
		}
		r.mu.Lock()
		p := r.procs[victim]
		delete(r.procs, victim)
		r.mu.Unlock()
		p.cmd.Process.Signal(syscall.SIGKILL)
		killed := time.Now()
		<-p.exited
		pending := slices.Clone(moved)
		for len(pending) > 0 {
			now, note := r.owners()
			if note != "" {
				notes = append(notes, note)
			}
			for _, name := range slices.Clone(pending) {
				if inst, ok := now[name]; ok && inst != victim {
					d := time.Since(killed)
					takeovers = append(takeovers, d)
					pending = slices.DeleteFunc(pending, func(n string) bool { return n == name })
					t.Logf("kill %d (%s, at %d of %d changes): %s taken over by %s in %v", k+1, p.life, progress(), total, name, inst, d.Round(10*time.Millisecond))
				}
			}
			if time.Since(killed) > 60*time.Second {
				t.Fatalf("kill %d: %v not taken over 60s after %s died\n%s", k+1, pending, victim, logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		r.start(int(victim[1] - '0'))
	}
	return takeovers, notes
}

// waitProgress waits until the workloads wrote at changes.
func (r *haRun) waitProgress(progress func() int64, at int64) {
	r.t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); progress() < at; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the workloads stalled at %d changes (waiting for %d)", progress(), at)
		}
	}
}

// partitionLoop partitions the owner of pipeline k from etcd, for k = 0,
// 1, 2 at the k-th quarter of the workload, waits until its pipelines are
// owned by the others, and heals the partition.
func (r *haRun) partitionLoop(total int64, progress func() int64, pipes []*haPipeline, waitOwned func(string), ownp *map[string]string, proxies []*testenv.Proxy) []time.Duration {
	t := r.t
	var takeovers []time.Duration
	for k := range 3 {
		r.waitProgress(progress, int64(k+1)*total/4)
		waitOwned(fmt.Sprintf("before partition %d", k+1))
		victim := (*ownp)[pipes[k].name]
		var moved []string
		for name, inst := range *ownp {
			if inst == victim {
				moved = append(moved, name)
			}
		}
		px := proxies[victim[1]-'0']
		px.Partition()
		cut := time.Now()
		pending := slices.Clone(moved)
		for len(pending) > 0 {
			now, _ := r.owners()
			for _, name := range slices.Clone(pending) {
				if inst, ok := now[name]; ok && inst != victim {
					d := time.Since(cut)
					takeovers = append(takeovers, d)
					pending = slices.DeleteFunc(pending, func(n string) bool { return n == name })
					t.Logf("partition %d (%s from etcd): %s taken over by %s in %v", k+1, victim, name, inst, d.Round(10*time.Millisecond))
				}
			}
			if time.Since(cut) > 60*time.Second {
				t.Fatalf("partition %d: %v not taken over 60s after %s was cut off", k+1, pending, victim)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The partitioned instance knows it lost them.
		r.mu.Lock()
		p := r.procs[victim]
		r.mu.Unlock()
		if list, err := r.status(p); err != nil {
			t.Errorf("partition %d: %s's API: %v", k+1, victim, err)
		} else {
			for _, pv := range list.Pipelines {
				if slices.Contains(moved, pv.Name) && pv.HA != nil && pv.HA.Owned {
					t.Errorf("partition %d: %s still claims %s after it was taken over", k+1, victim, pv.Name)
				}
			}
		}
		px.Heal()
	}
	return takeovers
}

// coordinatorDown kills etcd for 30 s a third into the workload: every
// owner must stop within the TTL, and every pipeline be owned again once
// etcd is back. It returns the window in which no lease can be valid.
func (r *haRun) coordinatorDown(ctx context.Context, total int64, progress func() int64, waitOwned func(string), ownp *map[string]string, etcd *testenv.Etcd) [][2]time.Time {
	t := r.t
	r.waitProgress(progress, total/3)
	waitOwned("before the coordinator died")
	etcd.Kill()
	down := time.Now()
	for {
		now, _ := r.owners()
		if len(now) == 0 {
			t.Logf("etcd killed: every owner stopped within %v (TTL %v, stop margin %v)", time.Since(down).Round(10*time.Millisecond), haTTL, haStopMargin)
			break
		}
		if time.Since(down) > haTTL {
			t.Errorf("%v still owned %v after etcd died (TTL %v)", now, time.Since(down).Round(10*time.Millisecond), haTTL)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(down.Add(30 * time.Second)))
	if err := etcd.Start(ctx); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	waitOwned("after the coordinator returned")
	t.Logf("etcd back after %v: every pipeline owned again %v later: %v", up.Sub(down).Round(100*time.Millisecond), time.Since(up).Round(10*time.Millisecond), *ownp)
	return [][2]time.Time{{down.Add(haTTL), up}}
}

// haEvent is a line of a process life's log about a pipeline's lease.
type haEvent struct {
	life, pipeline, msg string
	at                  time.Time
}

// haEvents reads the lease lines of every process life's log.
func haEvents(t *testing.T, dir string) []haEvent {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	var out []haEvent
	for _, lf := range logs {
		life := strings.TrimSuffix(filepath.Base(lf), ".log")
		data, _ := os.ReadFile(lf)
		for _, line := range bytes.Split(data, []byte("\n")) {
			var l struct {
				Time     time.Time `json:"time"`
				Msg      string    `json:"msg"`
				Pipeline string    `json:"pipeline"`
			}
			if json.Unmarshal(line, &l) == nil && l.Pipeline != "" && strings.HasPrefix(l.Msg, "ha: lease") {
				out = append(out, haEvent{life: life, pipeline: l.Pipeline, msg: l.Msg, at: l.Time})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// checkStoppedBeforeTakeover: every holder that lost a lease logged that
// its pipeline had stopped before any other process acquired the lease.
func checkStoppedBeforeTakeover(t *testing.T, dir string) {
	t.Helper()
	events := haEvents(t, dir)
	holder := map[string]string{} // pipeline → life holding it (by the logs)
	lost := 0
	for _, e := range events {
		switch {
		case e.msg == "ha: lease acquired":
			if h := holder[e.pipeline]; h != "" && h != e.life {
				// The previous holder never logged its stop: fine only
				// if it was killed (no kill in this test) — an overlap.
				t.Errorf("%s: %s acquired the lease at %s while %s had not stopped", e.pipeline, e.life, e.at.Format("15:04:05.000"), h)
			}
			holder[e.pipeline] = e.life
		case strings.HasPrefix(e.msg, "ha: lease lost"), strings.HasPrefix(e.msg, "ha: lease released"):
			if holder[e.pipeline] == e.life {
				holder[e.pipeline] = ""
			}
			if strings.HasPrefix(e.msg, "ha: lease lost") {
				lost++
			}
		}
	}
	if lost < 3 {
		t.Errorf("only %d 'lease lost' lines in the logs: the partitions did not depose their owners", lost)
	}
	if t.Failed() {
		for _, e := range events {
			t.Logf("%s %s %s: %s", e.at.Format("15:04:05.000"), e.life, e.pipeline, e.msg)
		}
	}
}

// checkNothingReadIn: no change read inside a window was delivered.
func checkNothingReadIn(t *testing.T, dir string, windows [][2]time.Time) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "i*.jsonl"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, line := range bytes.Split(data, []byte("\n")) {
			i := bytes.Index(line, []byte(`"read_ts":"`))
			if i < 0 {
				continue
			}
			rest := line[i+len(`"read_ts":"`):]
			j := bytes.IndexByte(rest, '"')
			if j < 0 {
				continue
			}
			rt, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
			if err != nil {
				continue
			}
			for _, w := range windows {
				if rt.After(w[0]) && rt.Before(w[1]) {
					t.Errorf("%s: a change read at %s was delivered, while no lease could be valid (%s..%s)", filepath.Base(f),
						rt.Format("15:04:05.000"), w[0].Format("15:04:05.000"), w[1].Format("15:04:05.000"))
					return
				}
			}
		}
	}
}

// checkStatus: every live instance's API names each pipeline's owner (the
// owner itself with its lease's expiry and token), two standbys, and its
// /metrics the ownership and three live instances.
func (r *haRun) checkStatus(coord string, own map[string]string) {
	t := r.t
	// What a standby knows of the owner is up to a poll old: look again
	// for a few seconds before reporting.
	var problems []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		problems = r.statusProblems(coord, own)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func (r *haRun) statusProblems(coord string, own map[string]string) []string {
	var problems []string
	r.mu.Lock()
	procs := make([]*haProc, 0, len(r.procs))
	for _, p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	for _, p := range procs {
		list, err := r.status(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p.inst, err))
			continue
		}
		for _, pv := range list.Pipelines {
			h := pv.HA
			switch {
			case h == nil:
				problems = append(problems, fmt.Sprintf("%s: %s has no ha status", p.inst, pv.Name))
				continue
			case h.Instance != p.inst:
				problems = append(problems, fmt.Sprintf("%s: %s: instance %q", p.inst, pv.Name, h.Instance))
			case h.Owned != (own[pv.Name] == p.inst):
				problems = append(problems, fmt.Sprintf("%s: %s: owned %v, the owner is %s", p.inst, pv.Name, h.Owned, own[pv.Name]))
			case h.Owned && (h.LeaseExpires == nil || h.LeaseToken == 0 || h.Takeovers < 1 || pv.State != "running" && pv.State != "starting"):
				problems = append(problems, fmt.Sprintf("%s: %s owned: %+v, state %s", p.inst, pv.Name, h, pv.State))
			case !h.Owned && (h.LeaseExpires != nil || pv.State != "standby"):
				problems = append(problems, fmt.Sprintf("%s: %s not owned: %+v, state %s", p.inst, pv.Name, h, pv.State))
			case coord != "source" && h.Owner != own[pv.Name]:
				problems = append(problems, fmt.Sprintf("%s: %s: owner %q, want %s", p.inst, pv.Name, h.Owner, own[pv.Name]))
			case coord == "source" && len(h.Standbys) < 2:
				// The membership is on m1's MariaDB, whose lock holders
				// are connections: the owner is not recognised among them.
				problems = append(problems, fmt.Sprintf("%s: %s: standbys %v (owner %s)", p.inst, pv.Name, h.Standbys, h.Owner))
			case coord != "source" && (len(h.Standbys) != 2 || slices.Contains(h.Standbys, h.Owner)):
				problems = append(problems, fmt.Sprintf("%s: %s: standbys %v (owner %s)", p.inst, pv.Name, h.Standbys, h.Owner))
			}
		}
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", p.port), nil)
		req.Header.Set("Authorization", "Bearer "+haToken)
		res, err := r.client.Do(req)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: /metrics: %v", p.inst, err))
			continue
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for name, inst := range own {
			want := fmt.Sprintf("sluice_pipeline_owned{pipeline=%q} %d", name, map[bool]int{true: 1, false: 0}[inst == p.inst])
			if !bytes.Contains(body, []byte(want)) {
				problems = append(problems, fmt.Sprintf("%s: /metrics has no %s", p.inst, want))
			}
		}
		if !bytes.Contains(body, []byte("sluice_ha_instances 3")) || !bytes.Contains(body, []byte("sluice_pipeline_takeovers_total{")) {
			problems = append(problems, fmt.Sprintf("%s: /metrics lacks sluice_ha_instances 3 or the takeovers:\n%s", p.inst, grepMetrics(string(body))))
		}
	}
	return problems
}

func grepMetrics(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "ha_") || strings.Contains(l, "owne") || strings.Contains(l, "takeover") || strings.Contains(l, "lease") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
