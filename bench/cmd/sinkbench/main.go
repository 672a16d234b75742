// Command sinkbench measures "sluice stream" draining a MariaDB backlog
// into Redis (stream mode) and NATS JetStream, beside a plain client loop
// writing the same rows to the same server in the same run: the
// destination's own limit. bench/sinks.sh runs it and writes
// bench/results/sinks.md.
//
// Every sluice run streams the same backlog (-rows rows inserted in one
// transaction) from its first event to its end (--stop-at), in its own
// process. The plain loops are the same program run as a child
// (-plain redis|nats): they read the rows sluice writes for the backlog
// (its Sluice JSON lines, with each line's position and key, prepared once
// before the rounds) and write them as the sink does — XADD of the same
// fields, pipelined 1000 commands at a time; JetStream publishes with the
// same headers and Nats-Msg-Id, 1024 in flight — and wait for the last
// acknowledgement. Runs are interleaved round by round. Wall time, rows/s,
// CPU seconds per million rows (getrusage of the child) and peak RSS are
// reported per run and as medians.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"
	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	var err error
	if len(os.Args) > 2 && os.Args[1] == "-plain" {
		err = plain(os.Args[2], os.Args[3:])
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sinkbench:", err)
		os.Exit(1)
	}
}

// result is one run's measurement.
type result struct {
	wall, cpu time.Duration
	rssKB     int64
	// server is the CPU time the destination server's process used
	// during the run (negative: no server).
	server time.Duration
}

// mode is one way of writing the backlog.
type mode struct {
	name   string
	args   func(r int) []string
	check  func(ctx context.Context, r int) error // what arrived; frees the server's memory
	server func() int                             // the PID of the server written to (nil: none)
}

func run() error {
	sluice := flag.String("sluice", "", "path of the sluice binary")
	self := flag.String("self", "", "path of this program, for the plain loops (default: os.Args[0])")
	rows := flag.Int("rows", 1000000, "rows in the backlog")
	rounds := flag.Int("rounds", 3, "rounds, every mode once per round")
	out := flag.String("out", "", "write the markdown report here (default: standard output only)")
	commit := flag.String("commit", "", "commit the binary was built from, for the report")
	flag.Parse()
	if *sluice == "" {
		return fmt.Errorf("-sluice is required")
	}
	if _, err := os.Stat(machine.GNUTime); err != nil {
		return fmt.Errorf("GNU time measures the peak RSS (apt-get install time): %w", err)
	}
	if *self == "" {
		*self = os.Args[0]
	}
	ctx := context.Background()
	load0 := machine.Loadavg()
	began := time.Now()
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", "innodb_buffer_pool_size=256M", "max_allowed_packet=1G",
		"binlog_cache_size=1M", "max_binlog_cache_size=16G"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	rds, err := servers.StartRedis(ctx)
	if err != nil {
		return err
	}
	defer rds.Close()
	nts, err := servers.StartNATS(ctx)
	if err != nil {
		return err
	}
	defer nts.Close()

	if err := srv.Exec(ctx, "CREATE DATABASE b",
		"CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL)"); err != nil {
		return err
	}
	// The backlog is the rows alone: every sink holds exactly -rows
	// messages after a run.
	start, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	if err := srv.Exec(ctx, "USE b", fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100 FROM seq_1_to_%d", *rows)); err != nil {
		return err
	}
	end, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	src := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7201", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr())
	dir, err := os.MkdirTemp("", "sinkbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stream := func(r int, name string, extra ...string) []string {
		a := []string{*sluice, "stream", src, "--from", start, "--stop-at", end, "--log-level", "warn",
			"--include", `b\.t`, "--state", fmt.Sprintf("%s/%s-%d.db", dir, name, r), "--id", fmt.Sprintf("%s-%d", name, r)}
		return append(a, extra...)
	}

	// The rows the plain loops write: what sluice writes for the backlog.
	lines := filepath.Join(dir, "rows.jsonl")
	if _, err := measure(stream(0, "prepare", "--to", "file://"+lines)); err != nil {
		return fmt.Errorf("prepare the rows: %w", err)
	}
	input := filepath.Join(dir, "rows.tsv")
	n, err := prepare(lines, input)
	if err != nil {
		return err
	}
	if n != *rows {
		return fmt.Errorf("sluice wrote %d rows of the backlog, want %d", n, *rows)
	}
	os.Remove(lines)

	rcl := goredis.NewClient(&goredis.Options{Addr: rds.Addr(), Password: rds.Password()})
	defer rcl.Close()
	nc, err := nts.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	versions := serverVersions(ctx, rcl, nc)
	redisURL := fmt.Sprintf("redis://:%s@%s/0", rds.Password(), rds.Addr())
	natsURL := fmt.Sprintf("nats://%s:%s@%s/", servers.NATSUser, url.QueryEscape(servers.NATSPassword), nts.Addr())
	countStream := func(key string) func(ctx context.Context, r int) error {
		return func(ctx context.Context, r int) error {
			k := fmt.Sprintf(key, r)
			got, err := rcl.XLen(ctx, k).Result()
			if err != nil {
				return err
			}
			if got != int64(*rows) {
				return fmt.Errorf("%d entries in %s, want %d", got, k, *rows)
			}
			return rcl.Del(ctx, k, k+":positions", fmt.Sprintf("r%d:positions", r)).Err()
		}
	}
	newJS := func(name string) func(r int) error {
		return func(r int) error {
			_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: fmt.Sprintf("%s%d", name, r),
				Subjects: []string{fmt.Sprintf("%s%d.>", name, r)}, Storage: jetstream.FileStorage})
			return err
		}
	}
	countJS := func(name string) func(ctx context.Context, r int) error {
		return func(ctx context.Context, r int) error {
			s := fmt.Sprintf("%s%d", name, r)
			st, err := js.Stream(ctx, s)
			if err != nil {
				return err
			}
			info, err := st.Info(ctx)
			if err != nil {
				return err
			}
			if info.State.Msgs != uint64(*rows) {
				return fmt.Errorf("%d messages in stream %s, want %d", info.State.Msgs, s, *rows)
			}
			return js.DeleteStream(ctx, s)
		}
	}
	modes := []mode{
		{name: "/dev/null", args: func(r int) []string { return stream(r, "null", "--to", "stdout://") }},
		{name: "redis stream (sluice)", check: countStream("r%d:b:t"), server: rds.PID,
			args: func(r int) []string {
				return stream(r, "redis", "--to", redisURL+fmt.Sprintf("?prefix=r%d", r))
			}},
		{name: "redis XADD loop", check: countStream("p%d:b:t"), server: rds.PID,
			args: func(r int) []string {
				return []string{*self, "-plain", "redis", "-addr", rds.Addr(), "-password", rds.Password(), "-key", fmt.Sprintf("p%d:b:t", r), "-in", input}
			}},
		{name: "redis MULTI/EXEC loop", check: countStream("m%d:b:t"), server: rds.PID,
			args: func(r int) []string {
				return []string{*self, "-plain", "redis-multi", "-addr", rds.Addr(), "-password", rds.Password(), "-key", fmt.Sprintf("m%d:b:t", r), "-in", input}
			}},
		{name: "nats (sluice)", check: countJS("SN"), server: nts.PID,
			args: func(r int) []string {
				return stream(r, "nats", "--to", natsURL+fmt.Sprintf("?stream=SN%d&subject=SN%d.{db}.{table}&prefix=SN%d", r, r, r))
			}},
		{name: "nats publish loop", check: countJS("PN"), server: nts.PID,
			args: func(r int) []string {
				return []string{*self, "-plain", "nats", "-url", nts.URL(), "-subject", fmt.Sprintf("PN%d.b.t", r), "-in", input}
			}},
	}
	setup := map[string]func(r int) error{"nats (sluice)": newJS("SN"), "nats publish loop": newJS("PN")}

	results := map[string][]result{}
	var log strings.Builder
	for r := 1; r <= *rounds; r++ {
		for _, m := range modes {
			if f := setup[m.name]; f != nil {
				if err := f(r); err != nil {
					return fmt.Errorf("round %d %s: %w", r, m.name, err)
				}
			}
			var before time.Duration
			if m.server != nil {
				if before, err = procCPU(m.server()); err != nil {
					return err
				}
			}
			res, err := measure(m.args(r))
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r, m.name, err)
			}
			res.server = -1
			if m.server != nil {
				after, err := procCPU(m.server())
				if err != nil {
					return err
				}
				res.server = after - before
			}
			if m.check != nil {
				if err := m.check(ctx, r); err != nil {
					return fmt.Errorf("round %d %s: %w", r, m.name, err)
				}
			}
			results[m.name] = append(results[m.name], res)
			line := fmt.Sprintf("| %d | %s | %.2f | %.0f | %.2f | %s | %.1f | %s |\n", r, m.name, res.wall.Seconds(),
				float64(*rows)/res.wall.Seconds(), res.cpu.Seconds()/(float64(*rows)/1e6), serverCPU(res, *rows), float64(res.rssKB)/1024, machine.Loadavg())
			log.WriteString(line)
			fmt.Print(line)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Redis and NATS sinks: draining a MariaDB backlog\n\n")
	fmt.Fprintf(&b, "Written by bench/sinks.sh on %s: %s, %d cores, %s; commit %s; %s; load average %s at the start, %s at the end; %s in all.\n\n",
		began.UTC().Format("2006-01-02 15:04 MST"), machine.CPUModel(), runtime.NumCPU(), machine.MemTotal(), *commit, versions, load0, machine.Loadavg(), time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "The backlog: %d rows inserted into b.t (INT key, BIGINT, VARCHAR(64), DECIMAL(12,2)) in one transaction, "+
		"binlog %s to %s. Each sluice run streams it, in its own process, from its start to --stop-at its end (sluice reads, "+
		"decodes, encodes and delivers every row, then exits): into Redis %s in stream mode (XADD of op, db, table, pos, key and "+
		"value per row, every batch and the position in one Lua script), and into NATS %s JetStream (a file-storage stream, "+
		"Nats-Msg-Id, Nats-Expected-Last-Msg-Id and four headers per message, 1024 publishes in flight). Beside them, the plain "+
		"client loops write the same rows (the Sluice JSON lines sluice writes for the backlog, prepared once) to the same server: "+
		"go-redis pipelining the same XADD commands 1000 at a time (and, for comparison, the same in MULTI/EXEC blocks of 1000 with "+
		"an HSET of the last position, as a sink could write a batch atomically without a script), and nats.go publishing asynchronously with the same headers "+
		"and Nats-Msg-Id, 1024 in flight, waiting for every acknowledgement — the destination's own limit, without reading a "+
		"binlog. Modes are interleaved round by round; CPU is user+sys of the measured process (never the server's), peak RSS its own "+
		"(GNU time's %%M); the server's CPU is that of the Redis or NATS server process during the run, from /proc. The machine "+
		"is shared: compare CPU-s more than wall time.\n\n", *rows, start, end, rds.Addr(), nts.Addr())
	fmt.Fprintf(&b, "## Medians of %d rounds\n\n| mode | rows/s | CPU-s per M rows | server CPU-s per M rows | peak RSS MB |\n| --- | --- | --- | --- | --- |\n", *rounds)
	med := func(rs []result, f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	rate, rss := map[string]float64{}, map[string]float64{}
	for _, m := range modes {
		rs := results[m.name]
		rate[m.name] = med(rs, func(x result) float64 { return float64(*rows) / x.wall.Seconds() })
		rss[m.name] = med(rs, func(x result) float64 { return float64(x.rssKB) / 1024 })
		srv := "–"
		if m.server != nil {
			srv = fmt.Sprintf("%.2f", med(rs, func(x result) float64 { return x.server.Seconds() / (float64(*rows) / 1e6) }))
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %s | %.1f |\n", m.name, rate[m.name],
			med(rs, func(x result) float64 { return x.cpu.Seconds() / (float64(*rows) / 1e6) }), srv, rss[m.name])
	}
	fmt.Fprintf(&b, "\n## Goals\n\n")
	goal := func(what string, ok bool) {
		mark := "met"
		if !ok {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", what, mark)
	}
	rr := rate["redis stream (sluice)"] / rate["redis XADD loop"]
	nr := rate["nats (sluice)"] / rate["nats publish loop"]
	// The ratio in each round, where the two ran a few seconds apart.
	perRound := func(a, b string) string {
		var out []string
		for i := range results[a] {
			out = append(out, fmt.Sprintf("%.0f %%", 100*results[b][i].wall.Seconds()/results[a][i].wall.Seconds()))
		}
		return strings.Join(out, ", ")
	}
	goal(fmt.Sprintf("Redis ≥ 50 %% of the plain XADD loop's rows/s (%.0f %% of the median; per round %s)", 100*rr,
		perRound("redis stream (sluice)", "redis XADD loop")), rr >= 0.5)
	goal(fmt.Sprintf("NATS ≥ 50 %% of the plain publish loop's rows/s (%.0f %% of the median; per round %s)", 100*nr,
		perRound("nats (sluice)", "nats publish loop")), nr >= 0.5)
	maxRSS := max(rss["redis stream (sluice)"], rss["nats (sluice)"])
	goal(fmt.Sprintf("peak RSS < 100 MB for sluice into each (largest median %.1f MB)", maxRSS), maxRSS < 100)
	fmt.Fprintf(&b, "\n## Every run\n\n| round | mode | wall s | rows/s | CPU-s per M rows | server CPU-s per M rows | peak RSS MB | load average after |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	b.WriteString(log.String())
	fmt.Print("\n" + b.String())
	if *out != "" {
		return os.WriteFile(*out, []byte(b.String()), 0o644)
	}
	return nil
}

// prepare reads sluice's JSON lines and writes, per row, its position,
// key and line, tab-separated, for the plain loops. It returns the rows.
func prepare(in, out string) (int, error) {
	f, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(o, 1<<20)
	br := bufio.NewReaderSize(f, 1<<20)
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		c, err := change.DecodeJSON(line)
		if err != nil {
			return 0, err
		}
		if c.Op != change.OpInsert {
			continue
		}
		key := fmt.Sprintf(`{"id":%d}`, c.After[0].I)
		fmt.Fprintf(w, "%s\t%s\t%s\n", c.Pos.String(), key, line)
		n++
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	return n, o.Close()
}

// plain runs a plain client loop (a child process of run).
func plain(kind string, args []string) error {
	fs := flag.NewFlagSet("plain", flag.ExitOnError)
	in := fs.String("in", "", "rows file")
	addr := fs.String("addr", "", "redis address")
	password := fs.String("password", "", "redis password")
	key := fs.String("key", "", "redis stream")
	natsURL := fs.String("url", "", "nats URL")
	subject := fs.String("subject", "", "nats subject")
	fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	next := func() (pos, k, value []byte, ok bool, err error) {
		line, err := br.ReadBytes('\n')
		if err == io.EOF && len(line) == 0 {
			return nil, nil, nil, false, nil
		}
		if err != nil && err != io.EOF {
			return nil, nil, nil, false, err
		}
		parts := bytes.SplitN(bytes.TrimSuffix(line, []byte("\n")), []byte("\t"), 3)
		return parts[0], parts[1], parts[2], true, nil
	}
	ctx := context.Background()
	switch kind {
	case "redis", "redis-multi":
		cl := goredis.NewClient(&goredis.Options{Addr: *addr, Password: *password, Protocol: 2, DisableIdentity: true})
		defer cl.Close()
		for {
			// redis-multi: each 1000 in MULTI/EXEC with the last position
			// (HSET), as a sink without a script could write them.
			pipe := cl.Pipeline()
			if kind == "redis-multi" {
				pipe = cl.TxPipeline()
			}
			var last []byte
			n := 0
			for n < 1000 {
				pos, k, v, ok, err := next()
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				pipe.Do(ctx, "XADD", *key, "*", "op", "insert", "db", "b", "table", "t", "pos", pos, "key", k, "value", v)
				last = pos
				n++
			}
			if n == 0 {
				return nil
			}
			if kind == "redis-multi" {
				pipe.Do(ctx, "HSET", *key+":positions", "plain", last)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	case "nats":
		nc, err := natsgo.Connect(*natsURL)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
		if err != nil {
			return err
		}
		for {
			pos, k, v, ok, err := next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			_ = k
			p := string(pos)
			m := &natsgo.Msg{Subject: *subject, Data: v, Header: natsgo.Header{
				"op": {"insert"}, "db": {"b"}, "table": {"t"}, "position": {p}, jetstream.MsgIDHeader: {p}}}
			// A full window waits for acknowledgements (nats.go's stall
			// wait is 200 ms by default, too short on a loaded machine).
			if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
				return err
			}
		}
		select {
		case <-js.PublishAsyncComplete():
			return nil
		case <-time.After(5 * time.Minute):
			return fmt.Errorf("acknowledgements still pending after 5 minutes")
		}
	}
	return fmt.Errorf("unknown plain loop %q", kind)
}

// measure runs args under GNU time (see machine.Measure).
func measure(args []string) (result, error) {
	u, err := machine.Measure(args)
	return result{wall: u.Wall, cpu: u.CPU, rssKB: u.RSSKB}, err
}

// procCPU returns the CPU time (user and system) process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command's name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	// USER_HZ is 100 on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// serverCPU formats the server's CPU seconds per million rows of res.
func serverCPU(res result, rows int) string {
	if res.server < 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", res.server.Seconds()/(float64(rows)/1e6))
}

// binlogPos is the server's current binlog position as FILE:POS.
func binlogPos(ctx context.Context, srv *servers.MariaDB) (string, error) {
	db, err := srv.DB()
	if err != nil {
		return "", err
	}
	var file, pos string
	var a, b any
	row := db.QueryRowContext(ctx, "SHOW MASTER STATUS")
	if err := row.Scan(&file, &pos, &a, &b); err != nil {
		return "", err
	}
	return file + ":" + pos, nil
}

// serverVersions names the Redis and NATS servers' versions.
func serverVersions(ctx context.Context, rcl *goredis.Client, nc *natsgo.Conn) string {
	redisVersion := "?"
	if info, err := rcl.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				redisVersion = v
			}
		}
	}
	return fmt.Sprintf("redis-server %s, nats-server %s, %s", redisVersion, nc.ConnectedServerVersion(), runtime.Version())
}
