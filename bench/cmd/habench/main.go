// Command habench measures what a shared checkpoint store costs a
// pipeline: the same "sluice stream" drain of a MariaDB backlog to
// /dev/null, with --state a bbolt file, etcd, ZooKeeper, a table in
// PostgreSQL, a table in MariaDB (the source server) and Redis, modes
// interleaved round by round, once with the default checkpoint interval
// (1 s) and once saving after every write (--checkpoint-interval 0). It
// writes a Markdown report with its own header (date, machine, commit,
// load). bench/ha.sh runs it.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/change"
	"github.com/sluice-cdc/sluice/checkpoint"
	"github.com/sluice-cdc/sluice/internal/servers"
	"github.com/sluice-cdc/sluice/stores"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "habench:", err)
		os.Exit(1)
	}
}

type result struct {
	wall, cpu   time.Duration
	checkpoints int
}

type mode struct {
	name  string
	state func(round int, interval string) string
}

func run() error {
	sluice := flag.String("sluice", "", "the sluice binary")
	rows := flag.Int("rows", 1000000, "rows in the backlog")
	txRows := flag.Int("tx-rows", 100, "rows per source transaction")
	rounds := flag.Int("rounds", 3, "rounds (modes interleaved in each)")
	saves := flag.Int("saves", 500, "fenced saves timed per store")
	out := flag.String("out", "bench/results/ha.md", "report file")
	commit := flag.String("commit", "", "commit the binary was built from, for the report")
	flag.Parse()
	if *sluice == "" {
		return fmt.Errorf("-sluice is required")
	}
	ctx := context.Background()
	load0 := machine.Loadavg()
	began := time.Now()

	maria, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{"innodb_buffer_pool_size=256M"}})
	if err != nil {
		return err
	}
	defer maria.Close()
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		return err
	}
	defer pg.Close()
	etcd, err := servers.StartEtcd(ctx)
	if err != nil {
		return err
	}
	defer etcd.Close()
	zk, err := servers.StartZooKeeper(ctx)
	if err != nil {
		return err
	}
	defer zk.Close()
	redis, err := servers.StartRedis(ctx)
	if err != nil {
		return err
	}
	defer redis.Close()

	start, err := binlogPos(ctx, maria)
	if err != nil {
		return err
	}
	stmts := []string{"CREATE DATABASE b", "CREATE DATABASE state",
		"CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL)", "USE b"}
	for lo := 1; lo <= *rows; lo += *txRows {
		hi := min(lo+*txRows-1, *rows)
		stmts = append(stmts, fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100 FROM seq_%d_to_%d", lo, hi))
	}
	if err := maria.Exec(ctx, stmts...); err != nil {
		return err
	}
	end, err := binlogPos(ctx, maria)
	if err != nil {
		return err
	}
	src := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7201", servers.MariaDBReplUser, servers.MariaDBReplPassword, maria.Addr())
	dir, err := os.MkdirTemp("", "habench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	modes := []mode{
		{"bbolt file", func(r int, iv string) string { return fmt.Sprintf("%s/state-%s-%d.db", dir, iv, r) }},
		{"etcd", func(r int, iv string) string { return etcd.URL(fmt.Sprintf("bench/%s-%d", iv, r)) }},
		{"ZooKeeper", func(r int, iv string) string { return zk.URL(fmt.Sprintf("bench/%s-%d", iv, r)) }},
		{"PostgreSQL table", func(r int, iv string) string {
			return fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&table=cp_%s_%d", servers.PostgresUser, servers.PostgresPassword, pg.Addr(), iv, r)
		}},
		{"MariaDB table (the source server)", func(r int, iv string) string {
			return fmt.Sprintf("mysql://%s:%s@%s/state?tls=off&table=cp_%s_%d", servers.MariaDBRootUser, servers.MariaDBRootPassword, maria.Addr(), iv, r)
		}},
		{"Redis", func(r int, iv string) string { return redis.URL(0) + fmt.Sprintf("?key=bench:%s:%d", iv, r) }},
	}
	// The cost of one save, alone: fenced saves in a row, each waiting
	// for the store's acknowledgement, as the pipeline's checkpoint
	// goroutine does.
	latencies := map[string][]time.Duration{}
	for _, m := range modes {
		l, err := saveLatencies(ctx, m.state(0, "lat"), *saves)
		if err != nil {
			return fmt.Errorf("%s: save latency: %w", m.name, err)
		}
		latencies[m.name] = l
		fmt.Printf("%s: %d saves, p50 %s, p99 %s\n", m.name, len(l), pct(l, 50), pct(l, 99))
	}
	intervals := []string{"1s", "0s"}
	results := map[string][]result{}
	var log strings.Builder
	for r := 1; r <= *rounds; r++ {
		for _, iv := range intervals {
			for _, m := range modes {
				args := []string{"stream", src, "--from", start, "--stop-at", end, "--log-level", "info",
					"--include", `b\.t`, "--to", "stdout://", "--checkpoint-interval", iv,
					"--state", m.state(r, iv), "--id", "bench"}
				res, err := measure(*sluice, args)
				if err != nil {
					return fmt.Errorf("round %d %s interval %s: %w", r, m.name, iv, err)
				}
				key := m.name + "|" + iv
				results[key] = append(results[key], res)
				line := fmt.Sprintf("| %d | %s | %s | %.2f | %.0f | %.2f | %d | %s |\n", r, m.name, iv, res.wall.Seconds(),
					float64(*rows)/res.wall.Seconds(), res.cpu.Seconds()/(float64(*rows)/1e6), res.checkpoints, machine.Loadavg())
				log.WriteString(line)
				fmt.Print(line)
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# High availability: what a shared checkpoint store costs\n\n")
	fmt.Fprintf(&b, "Written by bench/ha.sh on %s: %s, %d cores, %s; commit %s; load average %s at the start, %s at the end; %s in all.\n\n",
		began.UTC().Format("2006-01-02 15:04 MST"), machine.CPUModel(), runtime.NumCPU(), machine.MemTotal(), *commit, load0, machine.Loadavg(), time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "The backlog: %d rows inserted into b.t (INT key, BIGINT, VARCHAR(64), DECIMAL(12,2)) in transactions of %d rows, "+
		"binlog %s to %s. Each run is `sluice stream` in its own process, reading the backlog from its start to --stop-at its end "+
		"and writing it to stdout (/dev/null), with --state one of the stores below, all on this machine's loopback "+
		"(etcd-server %s, ZooKeeper 3.8 standalone, PostgreSQL 15, the source MariaDB itself, Redis with appendfsync everysec). "+
		"Every run is a fresh pipeline. Modes are interleaved round by round; wall and CPU are the sluice process's "+
		"(getrusage of the child), checkpoints the saves it reports. With the default interval a run saves about once a second; "+
		"with --checkpoint-interval 0 it saves as often as the store lets it: the pipeline saves on a goroutine of its own, handed the latest acknowledged position, "+
		"so a slower store means fewer saves, not slower delivery.\n\n", *rows, *txRows, start, end, etcdVersion())
	fmt.Fprintf(&b, "## One save\n\n%d fenced saves in a row per store (each a new position, each waiting for the store's acknowledgement, "+
		"as the pipeline's checkpoint goroutine saves), from this process:\n\n", *saves)
	fmt.Fprintf(&b, "| checkpoint store | p50 | p90 | p99 | max |\n|---|---|---|---|---|\n")
	for _, m := range modes {
		l := latencies[m.name]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", m.name, pct(l, 50), pct(l, 90), pct(l, 99), pct(l, 100))
	}
	fmt.Fprintf(&b, "\n## Draining the backlog: medians over %d rounds\n\n", *rounds)
	fmt.Fprintf(&b, "| checkpoint store | interval | wall s | rows/s | CPU µs/row | checkpoints | wall vs bbolt |\n|---|---|---|---|---|---|---|\n")
	for _, iv := range intervals {
		base := median(results["bbolt file|"+iv], func(r result) float64 { return r.wall.Seconds() })
		for _, m := range modes {
			rs := results[m.name+"|"+iv]
			wall := median(rs, func(r result) float64 { return r.wall.Seconds() })
			cpu := median(rs, func(r result) float64 { return r.cpu.Seconds() / (float64(*rows) / 1e6) })
			cps := median(rs, func(r result) float64 { return float64(r.checkpoints) })
			fmt.Fprintf(&b, "| %s | %s | %.2f | %.0f | %.2f | %.0f | %.2f× |\n", m.name, iv, wall, float64(*rows)/wall, cpu, cps, wall/base)
		}
	}
	fmt.Fprintf(&b, "\nReading: the wall-clock columns move with the machine's load (recorded per run below), by more than any store "+
		"changes them; CPU µs/row is the sluice process's own and compares fairly across modes. The pipeline saves on a goroutine of "+
		"its own (pipeline/doc.go, Latency), so a store adds its saves' CPU, never their latency, to delivery.\n")
	fmt.Fprintf(&b, "\n## Every run\n\n| round | checkpoint store | interval | wall s | rows/s | CPU µs/row | checkpoints | load |\n|---|---|---|---|---|---|---|---|\n%s", log.String())
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

// saveLatencies opens the store raw names, fences pipeline "lat" and
// times n saves.
func saveLatencies(ctx context.Context, raw string, n int) ([]time.Duration, error) {
	st, err := stores.Open(ctx, raw, checkpoint.Config{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var s checkpoint.Store = st
	if f, ok := st.(checkpoint.Fencer); ok {
		if s, err = f.Fence(ctx, "lat", checkpoint.Fence{Token: 1, Owner: "habench"}); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		p := change.Position{Flavor: change.FlavorBinlog, File: "mariadb-bin.000001", Offset: uint64(4 + i*1000), Index: uint64(i % 7),
			GTIDSet: fmt.Sprintf("0-1-%d", i)}
		began := time.Now()
		if err := s.Save(ctx, "lat", p); err != nil {
			return nil, err
		}
		out = append(out, time.Since(began))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// pct is the p-th percentile of sorted durations, rounded for reading.
func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (len(sorted) - 1) * p / 100
	d := sorted[i]
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

var checkpointsRE = regexp.MustCompile(`checkpoints=(\d+)`)

// measure runs sluice with args, its output to /dev/null, and returns
// its wall and CPU time and the checkpoints its summary reports.
func measure(sluice string, args []string) (result, error) {
	cmd := exec.Command(sluice, args...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer devnull.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = devnull, &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	res := result{wall: time.Since(began)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m := checkpointsRE.FindStringSubmatch(stderr.String()); m != nil {
		res.checkpoints, _ = strconv.Atoi(m[1])
	}
	return res, nil
}

func median(rs []result, f func(result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// binlogPos is the server's current binlog FILE:POS.
func binlogPos(ctx context.Context, srv *servers.MariaDB) (string, error) {
	db, err := srv.DB()
	if err != nil {
		return "", err
	}
	var file, pos string
	var a, b any
	if err := db.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &a, &b); err != nil {
		return "", err
	}
	return file + ":" + pos, nil
}

func etcdVersion() string {
	out, err := exec.Command("etcd", "--version").Output()
	if err != nil {
		return "?"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(first, "etcd Version: ")
}
