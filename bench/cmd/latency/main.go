// Command latency measures commit→delivery latency of "sluice stream" at a
// fixed row rate, against a private MariaDB and a private PostgreSQL
// started by internal/servers.
//
// For each source and each shape (rows per transaction × transactions per
// second) it starts the real sluice binary as a child with --to stdout://,
// reads its JSON lines from a pipe, and inserts rows on a fixed schedule
// from several connections. The wall time at which each INSERT's COMMIT
// returned to the writer is recorded under the row's id; the reader
// records the time each row's line arrived. Latency = arrival − commit
// return, both taken from this process's monotonic clock. Rows written
// during the warm-up are not counted. For PostgreSQL, pg_recvlogical
// (test_decoding, written unbuffered to a pipe) reads the same commits from
// its own slot at the same time, as a floor: how soon the server itself
// ships a committed change.
//
// Usage:
//
//	latency -sluice PATH [-sources mariadb,postgres] [-shapes 100x100,10x1000]
//	        [-warmup 10s] [-measure 60s] [-writers 4] [-peer=true]
//
// A shape RxT is R rows per transaction, T transactions per second.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

// shape is a write pattern: rows per transaction and transactions per second.
type shape struct {
	rows, tps int
}

func (s shape) String() string { return fmt.Sprintf("%d rows × %d tx/s", s.rows, s.tps) }

func parseShapes(s string) ([]shape, error) {
	var out []shape
	for _, f := range strings.Split(s, ",") {
		r, t, ok := strings.Cut(strings.TrimSpace(f), "x")
		rows, err1 := strconv.Atoi(r)
		tps, err2 := strconv.Atoi(t)
		if !ok || err1 != nil || err2 != nil || rows <= 0 || tps <= 0 {
			return nil, fmt.Errorf("shape %q: want ROWSxTPS, e.g. 100x100", f)
		}
		out = append(out, shape{rows, tps})
	}
	return out, nil
}

// options are the command-line settings.
type options struct {
	sluice          string
	warmup, measure time.Duration
	writers         int
	peer            bool
	sluiceFlags     []string
	dump            string
	compare         string
}

func run() error {
	var o options
	flag.StringVar(&o.sluice, "sluice", "", "path of the sluice binary (go build ./cmd/sluice)")
	sources := flag.String("sources", "mariadb,postgres", "sources to measure, in order")
	shapesFlag := flag.String("shapes", "100x100,10x1000", "write shapes ROWSxTPS, comma-separated")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "warm-up before measuring (rows written then are not counted)")
	flag.DurationVar(&o.measure, "measure", 60*time.Second, "measured period per source and shape")
	flag.IntVar(&o.writers, "writers", 4, "writer connections")
	flag.BoolVar(&o.peer, "peer", true, "also read the same commits with the server's own client as a floor "+
		"(pg_recvlogical; mariadb-binlog --stop-never under stdbuf -oL)")
	flag.StringVar(&o.compare, "compare", "", "also run this other sluice binary (or a wrapper script) on the same stream at the same time (an A/B of two builds or settings)")
	flag.StringVar(&o.dump, "dump", "", "write per-transaction times (ms since start) to DIR/<source>-<shape>.tsv")
	extra := flag.String("sluice-flags", "", "extra flags for sluice stream, space-separated")
	flag.Parse()
	if o.sluice == "" {
		return errors.New("-sluice PATH is required")
	}
	o.sluiceFlags = strings.Fields(*extra)
	shapes, err := parseShapes(*shapesFlag)
	if err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Printf("Started %s: warm-up %s, measured %s per run, %d writer connections.\n\n",
		time.Now().UTC().Format(time.RFC3339), o.warmup, o.measure, o.writers)
	for _, src := range strings.Split(*sources, ",") {
		var err error
		switch src {
		case "mariadb":
			err = runMariaDB(ctx, &o, shapes)
		case "postgres":
			err = runPostgres(ctx, &o, shapes)
		default:
			err = fmt.Errorf("unknown source %q (want mariadb or postgres)", src)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
	}
	return nil
}

// clock is the one monotonic clock of the run: nanoseconds since base.
type clock struct{ base time.Time }

func (c clock) now() int64 { return int64(time.Since(c.base)) }

// recorder holds, per row id, when its commit returned and when it was
// delivered (0: not yet), in clock nanoseconds.
type recorder struct {
	clk       clock
	committed []atomic.Int64
	arrived   []atomic.Int64
	lines     atomic.Int64 // row lines read
	unknown   atomic.Int64 // row lines whose id was out of range or seen twice
}

func newRecorder(clk clock, n int) *recorder {
	return &recorder{clk: clk, committed: make([]atomic.Int64, n+1), arrived: make([]atomic.Int64, n+1)}
}

// arrive records id's arrival at t (the first arrival counts).
func (r *recorder) arrive(id int64, t int64) {
	r.lines.Add(1)
	if id < 0 || id >= int64(len(r.arrived)) || !r.arrived[id].CompareAndSwap(0, t) {
		r.unknown.Add(1)
	}
}

// readLines reads lines from rd and records the id idOf finds in each,
// stamped with the time the read that completed the line returned.
func (r *recorder) readLines(rd io.Reader, idOf func([]byte) (int64, bool)) error {
	br := bufio.NewReaderSize(rd, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		for err == bufio.ErrBufferFull { // a line longer than the buffer: skip its middle
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if id, ok := idOf(line); ok {
			r.arrive(id, r.clk.now())
		}
	}
}

// idAfter returns a parser of the integer following marker in a line.
func idAfter(marker string) func([]byte) (int64, bool) {
	m := []byte(marker)
	return func(line []byte) (int64, bool) {
		i := bytes.Index(line, m)
		if i < 0 {
			return 0, false
		}
		j := i + len(m)
		var n int64
		k := j
		for ; k < len(line) && line[k] >= '0' && line[k] <= '9'; k++ {
			n = n*10 + int64(line[k]-'0')
		}
		return n, k > j
	}
}

// writer runs the paced insert workload.
type writer struct {
	shape   shape
	total   int // transactions
	start   time.Time
	rec     *recorder
	exec    []func(ctx context.Context, firstID, rows int) error
	behind  atomic.Int64 // max lateness of a transaction's start, ns
	execDur []int64      // per transaction: commit round trip, ns
	err     error
}

// run starts transaction k (ids k*rows+1 … (k+1)*rows) at start + k/tps,
// on whichever connection is free, and records when each commit returned.
func (w *writer) run(ctx context.Context) error {
	var next atomic.Int64
	period := time.Second / time.Duration(w.shape.tps)
	w.execDur = make([]int64, w.total)
	var wg sync.WaitGroup
	var once sync.Once
	for _, ex := range w.exec {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= int64(w.total) || ctx.Err() != nil {
					return
				}
				due := w.start.Add(time.Duration(k) * period)
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				} else if late := int64(-d); late > w.behind.Load() {
					w.behind.Store(late) // racy max; good enough for a report
				}
				first := int(k)*w.shape.rows + 1
				t0 := w.rec.clk.now()
				if err := ex(ctx, first, w.shape.rows); err != nil {
					once.Do(func() { w.err = fmt.Errorf("insert ids %d..%d: %w", first, first+w.shape.rows-1, err) })
					return
				}
				t1 := w.rec.clk.now()
				w.execDur[k] = t1 - t0
				for id := first; id < first+w.shape.rows; id++ {
					w.rec.committed[id].Store(t1)
				}
			}
		}()
	}
	wg.Wait()
	return w.err
}

// valuesSQL returns "(id,k,c,pad),…" for rows ids from first; placeholder
// style does not matter since the values are literals.
func valuesSQL(first, rows int) string {
	var b strings.Builder
	b.Grow(rows * 210)
	for id := first; id < first+rows; id++ {
		if id > first {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,%d,'%0120d','%060d')", id, id%1000, id, id)
	}
	return b.String()
}

// child is a reader process whose stdout this program reads.
type child struct {
	name string
	cmd  *exec.Cmd
	rec  *recorder
	done chan error // readLines result
	// serverPID, when set, finds the server process that feeds this reader
	// (a PostgreSQL walsender), whose CPU is reported too.
	serverPID func() int
	server    int
}

func startChild(name string, cmd *exec.Cmd, rec *recorder, idOf func([]byte) (int64, bool), stderr io.Writer) (*child, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	// The child dies with this program, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, rec: rec, done: make(chan error, 1)}
	go func() { c.done <- rec.readLines(out, idOf) }()
	return c, nil
}

// cpu returns the child's user+system CPU time so far from /proc.
func (c *child) cpu() time.Duration { return procCPU(c.cmd.Process.Pid) }

// serverCPU returns the CPU time of the server process feeding the child
// (0 when unknown).
func (c *child) serverCPU() time.Duration {
	if c.serverPID == nil {
		return 0
	}
	if c.server == 0 {
		c.server = c.serverPID()
	}
	if c.server == 0 {
		return 0
	}
	return procCPU(c.server)
}

// procCPU returns a process's user+system CPU time so far from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// stop interrupts the child and waits for it and its reader.
func (c *child) stop() error {
	c.cmd.Process.Signal(os.Interrupt)
	t := time.AfterFunc(20*time.Second, func() { c.cmd.Process.Kill() })
	defer t.Stop()
	rerr := <-c.done
	werr := c.cmd.Wait()
	if rerr != nil {
		return fmt.Errorf("%s: read: %w", c.name, rerr)
	}
	var ee *exec.ExitError
	if werr != nil && !(errors.As(werr, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled()) {
		// sluice exits 0 on SIGINT; pg_recvlogical exits 0 too.
		return fmt.Errorf("%s: %w", c.name, werr)
	}
	return nil
}

// waitFor waits until id has arrived in rec or d passes.
func waitFor(rec *recorder, id int, d time.Duration, c *child) error {
	end := time.Now().Add(d)
	for rec.arrived[id].Load() == 0 {
		if time.Now().After(end) {
			return fmt.Errorf("%s: row %d not delivered within %s", c.name, id, d)
		}
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("%s ended before row %d arrived (read error %v)", c.name, id, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// measureRun runs one shape against started readers and prints the results.
func measureRun(ctx context.Context, o *options, title string, sh shape, clk clock, rec []*recorder, readers []*child,
	exec []func(context.Context, int, int) error) error {
	total := int((o.warmup + o.measure).Seconds() * float64(sh.tps))
	warmTx := int(o.warmup.Seconds() * float64(sh.tps))
	w := &writer{shape: sh, total: total, rec: rec[0], exec: exec}
	// All readers share the committed times of rec[0].
	for _, r := range rec[1:] {
		r.committed = rec[0].committed
	}
	w.start = time.Now().Add(50 * time.Millisecond)
	load0 := machine.Loadavg()
	// CPU of each reader over the measured period, taken when the
	// schedule reaches it.
	cpuStart := make([]time.Duration, len(readers))
	srvStart := make([]time.Duration, len(readers))
	var cpuStartAt time.Time
	for _, c := range readers {
		c.serverCPU() // find the server process now, not in the timer
	}
	timer := time.AfterFunc(time.Until(w.start.Add(o.warmup)), func() {
		for i, c := range readers {
			cpuStart[i], srvStart[i] = c.cpu(), c.serverCPU()
		}
		cpuStartAt = time.Now()
	})
	defer timer.Stop()
	fmt.Fprintf(os.Stderr, "latency: %s, %s: writing %d transactions\n", title, sh, total)
	if err := w.run(ctx); err != nil {
		return err
	}
	written := time.Since(w.start)
	fmt.Fprintf(os.Stderr, "latency: written in %s; waiting for delivery\n", written.Round(time.Millisecond))
	lastID := total * sh.rows
	for _, c := range readers {
		if err := waitFor(c.rec, lastID, 30*time.Second, c); err != nil {
			return err
		}
	}
	cpuEndAt := time.Now()
	cpuEnd := make([]time.Duration, len(readers))
	srvEnd := make([]time.Duration, len(readers))
	for i, c := range readers {
		cpuEnd[i], srvEnd[i] = c.cpu(), c.serverCPU()
	}
	load1 := machine.Loadavg()
	delivered := time.Since(w.start)

	firstID, endID := warmTx*sh.rows+1, lastID
	if o.dump != "" {
		if err := dumpTimes(o.dump, title, sh, w, readers); err != nil {
			return err
		}
	}
	fmt.Printf("## %s, %s\n\n", title, sh)
	fmt.Printf("%d transactions (%d rows) written in %.1f s (scheduled %.1f s; latest transaction start %.1f ms behind schedule), "+
		"all delivered %.1f s after the first; "+
		"measured ids %d..%d (%d rows, after %s warm-up). Load average %s at start, %s at end.\n\n",
		total, lastID, written.Seconds(), (o.warmup + o.measure).Seconds(), float64(w.behind.Load())/1e6, delivered.Seconds(),
		firstID, endID, endID-firstID+1, o.warmup, load0, load1)
	ed := slices.Clone(w.execDur[warmTx:])
	slices.Sort(ed)
	fmt.Printf("Writer commit round trip (INSERT of %d rows, autocommit): p50 %.2f ms, p99 %.2f ms, max %.2f ms.\n\n",
		sh.rows, pct(ed, 50)/1e6, pct(ed, 99)/1e6, float64(ed[len(ed)-1])/1e6)
	fmt.Println("| reader | rows | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | min ms | CPU s | CPU cores | server-side CPU cores | lost |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for i, c := range readers {
		r := c.rec
		lat := make([]int64, 0, endID-firstID+1)
		lost := 0
		for id := firstID; id <= endID; id++ {
			a, cm := r.arrived[id].Load(), r.committed[id].Load()
			if a == 0 || cm == 0 {
				lost++
				continue
			}
			lat = append(lat, a-cm)
		}
		slices.Sort(lat)
		cpu := cpuEnd[i] - cpuStart[i]
		span := cpuEndAt.Sub(cpuStartAt)
		srv := "n/a"
		if c.serverPID != nil && c.server != 0 {
			srv = fmt.Sprintf("%.2f", (srvEnd[i]-srvStart[i]).Seconds()/span.Seconds())
		}
		if len(lat) == 0 {
			fmt.Printf("| %s | 0 | | | | | | | | | | %d |\n", c.name, lost)
			continue
		}
		fmt.Printf("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %d |\n", c.name, len(lat),
			pct(lat, 50)/1e6, pct(lat, 90)/1e6, pct(lat, 99)/1e6, pct(lat, 99.9)/1e6,
			float64(lat[len(lat)-1])/1e6, float64(lat[0])/1e6, cpu.Seconds(), cpu.Seconds()/span.Seconds(), srv, lost)
	}
	fmt.Println()
	return nil
}

// dumpTimes writes one line per transaction: its number, scheduled start,
// commit return and each reader's arrival of its first row (ms since the
// clock's base).
func dumpTimes(dir, title string, sh shape, w *writer, readers []*child) error {
	name := strings.ToLower(strings.Fields(title)[0])
	f, err := os.Create(fmt.Sprintf("%s/%s-%dx%d.tsv", dir, name, sh.rows, sh.tps))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	fmt.Fprint(bw, "tx\tdue_ms\tcommit_ms")
	for _, c := range readers {
		fmt.Fprintf(bw, "\t%s_ms", strings.Fields(c.name)[0])
	}
	fmt.Fprintln(bw)
	base := w.rec.clk.base
	period := time.Second / time.Duration(sh.tps)
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	for k := 0; k < w.total; k++ {
		id := k*sh.rows + 1
		due := w.start.Add(time.Duration(k) * period).Sub(base)
		fmt.Fprintf(bw, "%d\t%.3f\t%.3f", k, ms(int64(due)), ms(w.rec.committed[id].Load()))
		for _, c := range readers {
			fmt.Fprintf(bw, "\t%.3f", ms(c.rec.arrived[id].Load()))
		}
		fmt.Fprintln(bw)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pct is the p-th percentile (nearest rank) of sorted v.
func pct(v []int64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(v)))) - 1
	return float64(v[max(0, min(i, len(v)-1))])
}

// ---- MariaDB ----

func runMariaDB(ctx context.Context, o *options, shapes []shape) error {
	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{"innodb_buffer_pool_size=256M"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	db, err := sql.Open("mysql", srv.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(o.writers + 1)
	db.SetMaxIdleConns(o.writers + 1)
	if _, err := db.ExecContext(ctx, "CREATE DATABASE lat"); err != nil {
		return err
	}
	for i, sh := range shapes {
		table := fmt.Sprintf("lat.t%d", i)
		if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s (id BIGINT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)", table)); err != nil {
			return err
		}
		file, pos, err := masterStatus(ctx, db)
		if err != nil {
			return err
		}
		state, err := os.MkdirTemp("", "latency")
		if err != nil {
			return err
		}
		defer os.RemoveAll(state)
		clk := clock{time.Now()}
		n := int((o.warmup+o.measure).Seconds()*float64(sh.tps)) * sh.rows
		rec := newRecorder(clk, n)
		url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr(), 7100+i)
		cmd := exec.Command(o.sluice, append([]string{"stream", url, "--to", "stdout://", "--state", state + "/state.db",
			"--from", fmt.Sprintf("binlog:%s:%d", file, pos), "--include", `lat\.t` + strconv.Itoa(i), "--log-level", "warn"}, o.sluiceFlags...)...)
		sl, err := startChild("sluice stream", cmd, rec, idAfter(`"key":{"id":`), os.Stderr)
		if err != nil {
			return err
		}
		recs, readers := []*recorder{rec}, []*child{sl}
		stopAll := func() error {
			var first error
			for _, c := range readers {
				if err := c.stop(); err != nil && first == nil {
					first = err
				}
			}
			return first
		}
		if o.compare != "" {
			crec := newRecorder(clk, n)
			url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=%d", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr(), 7150+i)
			cmd := exec.Command(o.compare, append([]string{"stream", url, "--to", "stdout://", "--state", state + "/compare.db",
				"--from", fmt.Sprintf("binlog:%s:%d", file, pos), "--include", `lat\.t` + strconv.Itoa(i), "--log-level", "warn"}, o.sluiceFlags...)...)
			c, err := startChild("sluice stream ("+o.compare+")", cmd, crec, idAfter(`"key":{"id":`), os.Stderr)
			if err != nil {
				stopAll()
				return err
			}
			recs, readers = append(recs, crec), append(readers, c)
		}
		if o.peer {
			// mariadb-binlog writes through stdio; stdbuf -oL makes it write
			// each line as soon as it is formatted, as it would to a terminal.
			prec := newRecorder(clk, n)
			host, port, _ := strings.Cut(srv.Addr(), ":")
			cmd := exec.Command("stdbuf", "-oL", "mariadb-binlog", "--read-from-remote-server", "--stop-never",
				fmt.Sprintf("--stop-never-slave-server-id=%d", 7200+i), "--host="+host, "--port="+port,
				"--user="+servers.MariaDBReplUser, "--password="+servers.MariaDBReplPassword,
				"--base64-output=DECODE-ROWS", "-v", fmt.Sprintf("--start-position=%d", pos), file)
			peer, err := startChild("mariadb-binlog -v (line-buffered)", cmd, prec, idAfter("###   @1="), os.Stderr)
			if err != nil {
				stopAll()
				return err
			}
			recs, readers = append(recs, prec), append(readers, peer)
		}
		// The marker row 0: once it arrives the readers are streaming.
		if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s VALUES %s", table, valuesSQL(0, 1))); err != nil {
			stopAll()
			return err
		}
		for _, c := range readers {
			if err := waitFor(c.rec, 0, 60*time.Second, c); err != nil {
				stopAll()
				return err
			}
		}
		// Each writer goroutine uses the pool; it holds o.writers+1 connections.
		conns := make([]func(context.Context, int, int) error, o.writers)
		for j := range conns {
			conns[j] = func(ctx context.Context, first, rows int) error {
				_, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES "+valuesSQL(first, rows))
				return err
			}
		}
		err = measureRun(ctx, o, "MariaDB "+mariaVersion(ctx, db), sh, clk, recs, readers, conns)
		if serr := stopAll(); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func masterStatus(ctx context.Context, db *sql.DB) (string, uint64, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, err
	}
	vals := make([]any, len(cols))
	var file string
	var pos uint64
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(any)
	}
	if !rows.Next() {
		return "", 0, errors.New("SHOW MASTER STATUS: no row (binary log off?)")
	}
	if err := rows.Scan(vals...); err != nil {
		return "", 0, err
	}
	return file, pos, rows.Err()
}

func mariaVersion(ctx context.Context, db *sql.DB) string {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return ""
	}
	return v
}

// ---- PostgreSQL ----

func runPostgres(ctx context.Context, o *options, shapes []shape) error {
	srv, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		return err
	}
	defer srv.Close()
	admin, err := srv.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	var version string
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	for i, sh := range shapes {
		table := fmt.Sprintf("t%d", i)
		slot, peerSlot := fmt.Sprintf("sluice_%d", i), fmt.Sprintf("peer_%d", i)
		pub := fmt.Sprintf("lat_%d", i)
		for _, q := range []string{
			fmt.Sprintf("CREATE TABLE %s (id bigint PRIMARY KEY, k int NOT NULL, c char(120) NOT NULL, pad char(60) NOT NULL)", table),
			fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s", pub, table),
			fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot),
			fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'test_decoding')", peerSlot),
			fmt.Sprintf("SELECT pg_create_logical_replication_slot('cmp_%d', 'pgoutput')", i),
		} {
			if _, err := admin.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		state, err := os.MkdirTemp("", "latency")
		if err != nil {
			return err
		}
		defer os.RemoveAll(state)
		clk := clock{time.Now()}
		n := int((o.warmup+o.measure).Seconds()*float64(sh.tps)) * sh.rows
		recs := []*recorder{newRecorder(clk, n)}
		url := fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&slot=%s&publication=%s&create-publication=no",
			servers.PostgresUser, servers.PostgresPassword, srv.Addr(), slot, pub)
		cmd := exec.Command(o.sluice, append(append([]string{"stream", url, "--to", "stdout://", "--state", state + "/state.db",
			"--log-level", "warn"}, noSnapshot(o.sluice)...), o.sluiceFlags...)...)
		sl, err := startChild("sluice stream", cmd, recs[0], idAfter(`"key":{"id":`), os.Stderr)
		if err != nil {
			return err
		}
		sl.serverPID = walsender(ctx, admin, slot)
		readers := []*child{sl}
		stopAll := func() error {
			var first error
			for _, c := range readers {
				if err := c.stop(); err != nil && first == nil {
					first = err
				}
			}
			return first
		}
		if o.compare != "" {
			crec := newRecorder(clk, n)
			url := fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&slot=cmp_%d&publication=%s&create-publication=no",
				servers.PostgresUser, servers.PostgresPassword, srv.Addr(), i, pub)
			cmd := exec.Command(o.compare, append(append([]string{"stream", url, "--to", "stdout://", "--state", state + "/compare.db",
				"--log-level", "warn"}, noSnapshot(o.compare)...), o.sluiceFlags...)...)
			c, err := startChild("sluice stream ("+o.compare+")", cmd, crec, idAfter(`"key":{"id":`), os.Stderr)
			if err != nil {
				stopAll()
				return err
			}
			c.serverPID = walsender(ctx, admin, fmt.Sprintf("cmp_%d", i))
			recs, readers = append(recs, crec), append(readers, c)
		}
		if o.peer {
			rec := newRecorder(clk, n)
			recs = append(recs, rec)
			host, port, _ := strings.Cut(srv.Addr(), ":")
			cmd := exec.Command(servers.PostgresBinDir+"/pg_recvlogical", "-h", host, "-p", port, "-U", servers.PostgresUser,
				"-d", "postgres", "--slot", peerSlot, "--start", "-F", "0", "-s", "10", "-f", "-")
			cmd.Env = append(os.Environ(), "PGPASSWORD="+servers.PostgresPassword)
			peer, err := startChild("pg_recvlogical (test_decoding)", cmd, rec, idAfter(`id[bigint]:`), os.Stderr)
			if err != nil {
				stopAll()
				return err
			}
			peer.serverPID = walsender(ctx, admin, peerSlot)
			readers = append(readers, peer)
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf("INSERT INTO %s VALUES %s", table, valuesSQL(0, 1))); err != nil {
			stopAll()
			return err
		}
		for _, c := range readers {
			if err := waitFor(c.rec, 0, 60*time.Second, c); err != nil {
				stopAll()
				return err
			}
		}
		conns := make([]func(context.Context, int, int) error, o.writers)
		for j := range conns {
			c, err := srv.Connect(ctx, "postgres")
			if err != nil {
				stopAll()
				return err
			}
			defer c.Close(context.Background())
			conns[j] = func(ctx context.Context, first, rows int) error {
				_, err := c.Exec(ctx, "INSERT INTO "+table+" VALUES "+valuesSQL(first, rows), pgx.QueryExecModeSimpleProtocol)
				return err
			}
		}
		err = measureRun(ctx, o, "PostgreSQL "+version, sh, clk, recs, readers, conns)
		if serr := stopAll(); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walsender returns a function finding the pid of the walsender serving slot.
func walsender(ctx context.Context, admin *pgx.Conn, slot string) func() int {
	return func() int {
		var pid *int32
		if err := admin.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&pid); err != nil || pid == nil {
			return 0
		}
		return int(*pid)
	}
}

// noSnapshot returns the flag that makes bin stream from its slot's own
// position: a sluice that snapshots a stream without a saved position by
// default has one; a sluice from before snapshots has none.
func noSnapshot(bin string) []string {
	help, _ := exec.Command(bin, "stream", "--help").CombinedOutput()
	if strings.Contains(string(help), "--snapshot") {
		return []string{"--snapshot", "never"}
	}
	return nil
}
