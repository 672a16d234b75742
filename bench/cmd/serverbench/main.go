// Command serverbench measures `sluice run` with many pipelines from one
// MariaDB against one `sluice stream` (bench/server.sh runs it and writes
// bench/results/server.md):
//
//   - drain: a backlog of -rows row inserts in one binlog is read by one
//     `sluice stream` (rows/s), then by `sluice run` with -pipelines
//     pipelines, each reading the whole backlog from the same start (total
//     rows/s over all pipelines). Goal: the total rate ≥ 80 % of the single
//     stream's.
//   - idle: the run process once every pipeline has caught up and waited
//     -idle: its RSS, and RSS per pipeline. Goal: < 30 MB per idle
//     pipeline.
//
// Both write to stdout:// with standard output sent to /dev/null, so the
// measure is reading, decoding, the pipeline and the JSON encoding, not a
// consumer. Progress is read from each process's /metrics
// (sluice_pipeline_changes_total), polled every 50 ms.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/procstat"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	if err := bench(); err != nil {
		fmt.Fprintln(os.Stderr, "serverbench:", err)
		os.Exit(1)
	}
}

type flags struct {
	sluice, out     string
	rows, pipelines int
	rounds          int
	idle            time.Duration
}

type result struct {
	wall, cpu       time.Duration
	peakRSSKB       int64
	idleRSSKB       int64
	changes         int64
	load            string
	pipelines, kind string
}

func bench() error {
	var f flags
	flag.StringVar(&f.sluice, "sluice", "", "path of the sluice binary")
	flag.StringVar(&f.out, "out", "", "write the results as Markdown to this file")
	flag.IntVar(&f.rows, "rows", 500000, "rows in the backlog")
	flag.IntVar(&f.pipelines, "pipelines", 10, "pipelines of the sluice run")
	flag.IntVar(&f.rounds, "rounds", 2, "rounds, each one stream then one run")
	flag.DurationVar(&f.idle, "idle", 10*time.Second, "how long the caught-up run idles before its RSS is read")
	flag.Parse()
	if f.sluice == "" {
		return errors.New("-sluice is required")
	}
	ctx := context.Background()
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", "innodb_buffer_pool_size=256M", "max_allowed_packet=1G",
		"binlog_cache_size=1M", "max_binlog_cache_size=16G"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	logs, err := srv.BinaryLogs(ctx)
	if err != nil {
		return err
	}
	start := logs[len(logs)-1]
	began := time.Now()
	if err := srv.Exec(ctx, "CREATE DATABASE b", "USE b",
		"CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL)",
		fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100 FROM seq_1_to_%d", f.rows)); err != nil {
		return err
	}
	from := fmt.Sprintf("binlog:%s:%d", start.Name, start.Size)
	fmt.Printf("backlog: %d rows in one transaction from %s, written in %s\n", f.rows, from, time.Since(began).Round(time.Millisecond))
	url := func(id int) string {
		return fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr(), id)
	}
	dir, err := os.MkdirTemp("", "serverbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var singles, runs []result
	for round := 1; round <= f.rounds; round++ {
		port := freePort()
		state := filepath.Join(dir, fmt.Sprintf("stream-%d.db", round))
		cmd := exec.Command(f.sluice, "stream", url(7000), "--to", "stdout://", "--from", from, "--state", state,
			"--log-level", "warn", "--metrics", "127.0.0.1:"+port)
		r, err := measure(cmd, "http://127.0.0.1:"+port+"/metrics", "", int64(f.rows), 0)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		r.kind, r.pipelines = "sluice stream", "1"
		singles = append(singles, r)
		report(round, r)

		port = freePort()
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "http:\n  listen: 127.0.0.1:%s\n  token: bench\nlog:\n  level: warn\n  format: json\npipelines:\n", port)
		for i := range f.pipelines {
			fmt.Fprintf(&cfg, "  p%02d:\n    source: '%s'\n    to: stdout://\n    from: '%s'\n    state: run-%d.db\n", i, url(7100+i), from, round)
		}
		path := filepath.Join(dir, fmt.Sprintf("run-%d.yaml", round))
		if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
			return err
		}
		cmd = exec.Command(f.sluice, "run", path)
		r, err = measure(cmd, "http://127.0.0.1:"+port+"/metrics", "bench", int64(f.rows)*int64(f.pipelines), f.idle)
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		r.kind, r.pipelines = "sluice run", strconv.Itoa(f.pipelines)
		runs = append(runs, r)
		report(round, r)
	}
	md := markdown(f, from, singles, runs)
	fmt.Print(md)
	if f.out != "" {
		return os.WriteFile(f.out, []byte(md), 0o644)
	}
	return nil
}

func report(round int, r result) {
	fmt.Printf("round %d %-13s pipelines %2s  wall %6.2fs  rows/s %9.0f  cpu %6.2fs  peak RSS %6.1f MB  idle RSS %6.1f MB  load %s\n",
		round, r.kind, r.pipelines, r.wall.Seconds(), float64(r.changes)/r.wall.Seconds(), r.cpu.Seconds(),
		float64(r.peakRSSKB)/1024, float64(r.idleRSSKB)/1024, r.load)
}

// measure starts cmd, polls its metrics until want row changes were
// delivered (the wall time ends there, startup included), reads its RSS
// after idle, stops it with SIGTERM and reads its CPU and peak RSS.
func measure(cmd *exec.Cmd, metricsURL, token string, want int64, idle time.Duration) (result, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer null.Close()
	cmd.Stdout = null
	var stderr strings.Builder
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	var r result
	for {
		n, err := delivered(metricsURL, token)
		if err == nil && n >= want {
			r.wall, r.changes = time.Since(began), n
			break
		}
		if time.Since(began) > 10*time.Minute {
			cmd.Process.Kill()
			cmd.Wait()
			return r, fmt.Errorf("%d of %d changes after 10 minutes (last error %v)\n%s", n, want, err, stderr.String())
		}
		if cmd.ProcessState != nil {
			return r, fmt.Errorf("exited: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if idle > 0 {
		time.Sleep(idle)
		r.idleRSSKB = rssKB(cmd.Process.Pid)
	}
	r.load = machine.Loadavg()
	// The server's own peak, read while it runs: wait4's Maxrss would
	// count this program's too (see package procstat).
	peak, err := procstat.PeakRSS(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return r, err
	}
	r.peakRSSKB = peak >> 10
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return r, nil
}

// delivered sums sluice_pipeline_changes_total{op="insert"} of a scrape.
func delivered(url, token string) (int64, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	var n int64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "sluice_pipeline_changes_total{") && strings.Contains(line, `op="insert"`) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int64(v)
		}
	}
	io.Copy(io.Discard, res.Body)
	return n, sc.Err()
}

func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func markdown(f flags, from string, singles, runs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Backlog: %d row inserts (4 columns: INT key, BIGINT, VARCHAR, DECIMAL) in one transaction, from %s. "+
		"`sluice stream` reads it once; `sluice run` runs %d pipelines (each its own replica connection and server-id, one shared state file) that each read the whole backlog. "+
		"Both write Sluice JSON to stdout:// with standard output on /dev/null. Wall time runs from the process's start until its /metrics (polled every 50 ms) shows every row delivered, startup included. "+
		"CPU and peak RSS from getrusage of the process; idle RSS is VmRSS after every pipeline caught up and idled %s. Rounds alternate stream then run.\n\n",
		f.rows, from, f.pipelines, f.idle)
	b.WriteString("| round | command | pipelines | wall s | rows/s (all pipelines) | CPU s | cores | peak RSS MB | idle RSS MB | load after |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for i := range singles {
		for _, r := range []result{singles[i], runs[i]} {
			idle := "–"
			if r.idleRSSKB > 0 {
				idle = fmt.Sprintf("%.1f", float64(r.idleRSSKB)/1024)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %.2f | %.0f | %.2f | %.2f | %.1f | %s | %s |\n", i+1, r.kind, r.pipelines, r.wall.Seconds(),
				float64(r.changes)/r.wall.Seconds(), r.cpu.Seconds(), r.cpu.Seconds()/r.wall.Seconds(), float64(r.peakRSSKB)/1024, idle, r.load)
		}
	}
	rate := func(rs []result) float64 {
		var v []float64
		for _, r := range rs {
			v = append(v, float64(r.changes)/r.wall.Seconds())
		}
		return median(v)
	}
	var idle []float64
	for _, r := range runs {
		idle = append(idle, float64(r.idleRSSKB)/1024)
	}
	single, multi := rate(singles), rate(runs)
	perPipe := median(idle) / float64(f.pipelines)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(&b, "\nMedians of %d rounds: one `sluice stream` %.0f rows/s; `sluice run` with %d pipelines %.0f rows/s in total, "+
		"%.2f× the single stream (goal ≥ 0.80×: %s). Idle RSS of the run %.1f MB, %.1f MB per pipeline (goal < 30 MB: %s).\n",
		len(singles), single, f.pipelines, multi, multi/single, verdict(multi/single >= 0.8), median(idle), perPipe, verdict(perPipe < 30))
	return b.String()
}
