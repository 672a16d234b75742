// Command mysqlstream benchmarks reading a live MariaDB binlog:
// "sluice stream" against a go-mysql v1.13.0 BinlogSyncer reader (this
// program's "gomysql" mode: every row decoded and written as JSON with
// encoding/json) and "mariadb-binlog --read-from-remote-server -v". Each
// reader runs as its own process with its standard output piped here and
// discarded.
//
// Backlog mode (the default) writes one backlog, then drains it with every
// reader, -rounds times, interleaved (A B C, then C B A, …) so that the machine's
// changing load hits every reader alike. Per run it reports wall time,
// rows/s, CPU seconds (user+sys, getrusage of the child), CPU seconds per
// million rows, core use (CPU/wall) and peak RSS; then the median per
// reader and the ratios to the first reader. Even rounds run the readers
// in reverse order.
//
// Follow mode (-follow) starts "sluice stream" at the current position,
// then -writers connections insert -rows rows as fast as MariaDB takes them
// (INSERT … SELECT FROM seq, -chunk rows per autocommit statement) while
// sluice follows. It reports the writer's rate, how many rows sluice had
// delivered when the writer finished (the lag) and how long it took to
// deliver the rest, sluice's rate and its core use while following (CPU
// from /proc/PID/stat).
//
// With -out, backlog mode also writes its runs, medians and ratios as
// Markdown to FILE (bench/mysql-stream.sh points it at the body of the
// results file, whose header bench/cmd/benchrun writes).
//
// Usage:
//
//	mysqlstream -sluice PATH [-rows N] [-width BYTES] [-update] [-rounds N] [-sluice-flags FLAGS] [-readers sluice,gomysql,mariadb-binlog,sluice=PATH] [-out FILE]
//	mysqlstream -sluice PATH -follow [-rows N] [-chunk N] [-writers N] [-rounds N]
//	mysqlstream gomysql ADDR USER PASSWORD FILE POS ENDFILE ENDPOS
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "gomysql" {
		if err := goMySQLReader(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "mysqlstream gomysql:", err)
			os.Exit(1)
		}
		return
	}
	if err := bench(); err != nil {
		fmt.Fprintln(os.Stderr, "mysqlstream:", err)
		os.Exit(1)
	}
}

// result is one reader's measurement.
type result struct {
	name      string
	round     int
	load      string // load average when the run ended
	wall, cpu time.Duration
	maxRSSKB  int64
	lines     int64
}

// flags are the benchmark's options.
type flags struct {
	sluiceBin, sluiceFlags, readers string
	out                             string
	rows, width, rounds, chunk      int
	writers                         int
	update, follow                  bool
}

func bench() error {
	var f flags
	flag.StringVar(&f.sluiceBin, "sluice", "", "path of the sluice binary")
	flag.IntVar(&f.rows, "rows", 1000000, "rows inserted (and, with -update, updated) in one transaction each; with -follow, rows the writer inserts")
	flag.IntVar(&f.width, "width", 0, "bytes of a VARCHAR payload column per row (0: none)")
	flag.BoolVar(&f.update, "update", false, "also update every row (a second transaction)")
	flag.StringVar(&f.sluiceFlags, "sluice-flags", "", "extra flags for sluice stream, space-separated (e.g. \"--queue-bytes 4194304\")")
	flag.StringVar(&f.readers, "readers", "sluice,gomysql,mariadb-binlog", "readers to run, in order, each round; sluice=PATH runs another sluice binary")
	flag.IntVar(&f.rounds, "rounds", 1, "times to run the reader list, interleaved")
	flag.BoolVar(&f.follow, "follow", false, "follow a bulk writer instead of draining a backlog")
	flag.IntVar(&f.chunk, "chunk", 10000, "with -follow: rows per INSERT statement")
	flag.IntVar(&f.writers, "writers", 1, "with -follow: writer connections inserting at once")
	flag.StringVar(&f.out, "out", "", "backlog mode: also write the results as Markdown to this file")
	flag.Parse()
	if f.sluiceBin == "" {
		return fmt.Errorf("-sluice is required")
	}
	ctx := context.Background()

	srv, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{
		"max_binlog_size=1073741824", "innodb_buffer_pool_size=256M", "max_allowed_packet=1G",
		"binlog_cache_size=1M", "max_binlog_cache_size=16G"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Printf("load average at start: %s\n", machine.Loadavg())
	defer func() { fmt.Printf("load average at end: %s\n", machine.Loadavg()) }()
	if f.follow {
		return follow(ctx, srv, f)
	}
	return backlog(ctx, srv, f)
}

// backlog writes the backlog, then drains it with every reader, f.rounds
// times, interleaved.
func backlog(ctx context.Context, srv *servers.MariaDB, f flags) error {
	start, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	payload := "''"
	if f.width > 0 {
		payload = fmt.Sprintf("REPEAT(CHAR(97 + seq %% 26), %d)", f.width)
	}
	began := time.Now()
	stmts := []string{
		"CREATE DATABASE b", "USE b",
		fmt.Sprintf("CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL, p VARCHAR(%d) NOT NULL)", max(f.width, 1)),
		fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100, %s FROM seq_1_to_%d", payload, f.rows),
	}
	if f.update {
		stmts = append(stmts, "UPDATE b.t SET n = n + 1")
	}
	if err := srv.Exec(ctx, stmts...); err != nil {
		return err
	}
	end, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	changes := int64(f.rows)
	if f.update {
		changes *= 2
	}
	fmt.Printf("backlog: %d row changes (%d rows, width %d, update %v) written in %s, binlog %s:%d .. %s:%d\n",
		changes, f.rows, f.width, f.update, time.Since(began).Round(time.Millisecond), start.Name, start.Pos, end.Name, end.Pos)

	_, port, _ := net.SplitHostPort(srv.Addr())
	byReader := map[string][]result{}
	var order []string
	for round := 1; round <= f.rounds; round++ {
		// Odd rounds run the readers in the order given, even rounds in
		// reverse, so that no reader always follows the same one.
		readers := strings.Split(f.readers, ",")
		if round%2 == 0 {
			slices.Reverse(readers)
		}
		for _, r := range readers {
			var cmd *exec.Cmd
			var stop func(line []byte) bool // for readers that never end on their own
			switch name, path, _ := strings.Cut(r, "="); name {
			case "sluice":
				if path == "" {
					path = f.sluiceBin
				}
				state, err := os.MkdirTemp("", "mysqlstream")
				if err != nil {
					return err
				}
				defer os.RemoveAll(state)
				url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7001", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr())
				cmd = exec.Command(path, "stream", url, "--to", "stdout://", "--state", state+"/state.db",
					"--from", fmt.Sprintf("binlog:%s:%d", start.Name, start.Pos), "--log-level", "warn")
				cmd.Args = append(cmd.Args, strings.Fields(f.sluiceFlags)...)
				seen := int64(0)
				stop = func(line []byte) bool { seen++; return seen >= changes }
			case "gomysql":
				cmd = exec.Command(os.Args[0], "gomysql", srv.Addr(), servers.MariaDBReplUser, servers.MariaDBReplPassword,
					start.Name, strconv.Itoa(int(start.Pos)), end.Name, strconv.Itoa(int(end.Pos)))
			case "mariadb-binlog":
				cmd = exec.Command("mariadb-binlog", "--read-from-remote-server", "--host=127.0.0.1", "--port="+port,
					"--user="+servers.MariaDBReplUser, "--password="+servers.MariaDBReplPassword, "-v",
					fmt.Sprintf("--start-position=%d", start.Pos), start.Name)
			default:
				return fmt.Errorf("unknown reader %q", r)
			}
			res, err := measure(cmd, stop)
			if err != nil {
				return fmt.Errorf("%s: %w", r, err)
			}
			res.name, res.round, res.load = r, round, machine.Loadavg()
			if _, ok := byReader[r]; !ok {
				order = append(order, r)
			}
			byReader[r] = append(byReader[r], res)
			secs := res.wall.Seconds()
			fmt.Printf("round %d %-15s wall %7.2fs  rows/s %9.0f  cpu %6.2fs  cpu-s/M rows %5.2f  cores %4.2f  peak RSS %6.1f MB  lines %d  load %s\n",
				round, r, secs, float64(changes)/secs, res.cpu.Seconds(), res.cpu.Seconds()/(float64(changes)/1e6),
				res.cpu.Seconds()/secs, float64(res.maxRSSKB)/1024, res.lines, machine.Loadavg())
		}
	}
	// Medians, and ratios to the first reader.
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
	fmt.Printf("\nmedians of %d rounds (ratios: first reader / this one; >1 means the first is better)\n", f.rounds)
	var md strings.Builder
	fmt.Fprintf(&md, "Backlog: %d row changes (%d rows, payload width %d, update %v) in one transaction, binlog %s:%d .. %s:%d. "+
		"Each reader drains it in its own process, output piped here and discarded; readers interleaved, in this order in odd rounds and in reverse in even ones: %s. "+
		"sluice runs `sluice stream mysql://… --to stdout:// --from binlog:FILE:POS --log-level warn%s` and gets SIGINT at the last row (its wall time ends there, startup included); "+
		"gomysql is go-mysql %s's BinlogSyncer with every row decoded and written as JSON with encoding/json (bench/cmd/mysqlstream); "+
		"mariadb-binlog is `mariadb-binlog --read-from-remote-server -v`. CPU and peak RSS from getrusage of each child.\n\n",
		changes, f.rows, f.width, f.update, start.Name, start.Pos, end.Name, end.Pos, f.readers, prefixed(f.sluiceFlags), goMySQLVersion)
	md.WriteString("| round | reader | wall s | rows/s | CPU s | CPU s per M rows | cores (CPU/wall) | peak RSS MB | load after |\n|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
	for round := 1; round <= f.rounds; round++ {
		ran := slices.Clone(order)
		if round%2 == 0 {
			slices.Reverse(ran)
		}
		for _, r := range ran {
			x := byReader[r][round-1]
			fmt.Fprintf(&md, "| %d | %s | %.2f | %.0f | %.2f | %.2f | %.2f | %.1f | %s |\n", round, label(r), x.wall.Seconds(),
				float64(changes)/x.wall.Seconds(), x.cpu.Seconds(), x.cpu.Seconds()/(float64(changes)/1e6),
				x.cpu.Seconds()/x.wall.Seconds(), float64(x.maxRSSKB)/1024, x.load)
		}
	}
	fmt.Fprintf(&md, "\nMedians of %d rounds. Ratios compare with the first reader, %s: rows/s ratio = its rows/s ÷ this reader's (> 1: the first is faster), CPU ratio = this reader's CPU per row ÷ the first's (> 1: the first uses less).\n\n", f.rounds, label(order[0]))
	md.WriteString("| reader | rows/s | CPU s per M rows | cores | peak RSS MB | rows/s ratio | CPU ratio |\n|---|---:|---:|---:|---:|---:|---:|\n")
	var base [2]float64
	for i, r := range order {
		rate := med(byReader[r], func(x result) float64 { return float64(changes) / x.wall.Seconds() })
		cpu := med(byReader[r], func(x result) float64 { return x.cpu.Seconds() / (float64(changes) / 1e6) })
		cores := med(byReader[r], func(x result) float64 { return x.cpu.Seconds() / x.wall.Seconds() })
		rss := med(byReader[r], func(x result) float64 { return float64(x.maxRSSKB) / 1024 })
		if i == 0 {
			base = [2]float64{rate, cpu}
		}
		fmt.Printf("%-15s rows/s %9.0f  cpu-s/M rows %5.2f  cores %4.2f  peak RSS %6.1f MB  rate ratio %5.2fx  cpu ratio %5.2fx\n",
			r, rate, cpu, cores, rss, base[0]/rate, cpu/base[1])
		fmt.Fprintf(&md, "| %s | %.0f | %.2f | %.2f | %.1f | %.3f× | %.3f× |\n", label(r), rate, cpu, cores, rss, base[0]/rate, cpu/base[1])
	}
	if f.out != "" {
		return os.WriteFile(f.out, []byte(md.String()), 0o644)
	}
	return nil
}

// follow starts sluice at the current position and has a bulk writer
// insert f.rows rows at full speed while sluice follows, f.rounds times.
func follow(ctx context.Context, srv *servers.MariaDB, f flags) error {
	if err := srv.Exec(ctx, "CREATE DATABASE f", "CREATE TABLE f.m (id INT PRIMARY KEY)"); err != nil {
		return err
	}
	db, err := srv.DB()
	if err != nil {
		return err
	}
	for round := 1; round <= f.rounds; round++ {
		table := fmt.Sprintf("f.t%d", round)
		if err := srv.Exec(ctx, "CREATE TABLE "+table+" (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL, p VARCHAR(1) NOT NULL)"); err != nil {
			return err
		}
		state, err := os.MkdirTemp("", "mysqlstream")
		if err != nil {
			return err
		}
		defer os.RemoveAll(state)
		url := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7001", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr())
		cmd := exec.Command(f.sluiceBin, "stream", url, "--to", "stdout://", "--state", state+"/state.db",
			"--from", "latest", "--log-level", "warn")
		cmd.Args = append(cmd.Args, strings.Fields(f.sluiceFlags)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		// Marker rows and the writer's rows delivered; sluice is stopped
		// at the writer's last row.
		var markers, seen atomic.Int64
		rowTable := []byte(fmt.Sprintf(`"table":"t%d"`, round))
		readDone := make(chan error, 1)
		began := time.Now()
		go func() {
			br := bufio.NewReaderSize(out, 1<<20)
			for {
				line, err := br.ReadSlice('\n')
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
				if err != nil {
					readDone <- err
					return
				}
				switch {
				case !bytesHasOp(line):
				case bytes.Contains(line, rowTable):
					if seen.Add(1) == int64(f.rows) {
						cmd.Process.Signal(os.Interrupt)
					}
				default:
					markers.Add(1)
				}
			}
		}()
		// Wait until sluice is connected and streaming: it shows a marker
		// row (one every 200 ms, since sluice starts at the latest
		// position, which it learns only once connected).
		for k := 1; markers.Load() == 0; k++ {
			if time.Since(began) > time.Minute {
				cmd.Process.Kill()
				return fmt.Errorf("round %d: sluice delivered nothing in a minute", round)
			}
			if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO f.m VALUES (%d)", round*1000000+k)); err != nil {
				cmd.Process.Kill()
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
		cpu0 := procCPU(cmd.Process.Pid)
		// The writers take chunks of ids in turn, each on its own connection.
		wbegan := time.Now()
		var nextChunk atomic.Int64
		werr := make(chan error, f.writers)
		for w := 0; w < f.writers; w++ {
			go func() {
				for {
					lo := int(nextChunk.Add(1)-1)*f.chunk + 1
					if lo > f.rows {
						werr <- nil
						return
					}
					hi := min(lo+f.chunk-1, f.rows)
					q := fmt.Sprintf("INSERT INTO %s SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100, '' FROM f.seq_%d_to_%d", table, lo, hi)
					if _, err := db.ExecContext(ctx, q); err != nil {
						werr <- err
						return
					}
				}
			}()
		}
		for w := 0; w < f.writers; w++ {
			if err := <-werr; err != nil {
				cmd.Process.Kill()
				return err
			}
		}
		wrote := time.Since(wbegan)
		atEnd := seen.Load()
		cpuAtEnd := procCPU(cmd.Process.Pid)
		for seen.Load() < int64(f.rows) {
			if time.Since(wbegan) > 5*time.Minute {
				cmd.Process.Kill()
				return fmt.Errorf("round %d: sluice delivered %d of %d rows in 5 minutes", round, seen.Load(), f.rows)
			}
			time.Sleep(time.Millisecond)
		}
		caughtUp := time.Since(wbegan)
		cpu1 := procCPU(cmd.Process.Pid)
		<-readDone
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("sluice stream: %w", err)
		}
		cpu := cpu1 - cpu0
		lag := f.rows - int(atEnd)
		fmt.Printf("round %d: %d writer(s) %d rows in %.2fs (%.0f rows/s); sluice had delivered %d when it finished (lag %d rows, %.2fs at the writer's rate), all %d after %.2fs (+%.0f ms): %.0f rows/s; "+
			"sluice cpu %.2fs over %.2fs = %.2f cores (%.2f cores while the writer ran), %.2f cpu-s/M rows; load %s\n",
			round, f.writers, f.rows, wrote.Seconds(), float64(f.rows)/wrote.Seconds(), atEnd, lag, float64(lag)/(float64(f.rows)/wrote.Seconds()),
			f.rows, caughtUp.Seconds(), float64(caughtUp-wrote)/1e6, float64(f.rows)/caughtUp.Seconds(),
			cpu.Seconds(), caughtUp.Seconds(), cpu.Seconds()/caughtUp.Seconds(), (cpuAtEnd-cpu0).Seconds()/wrote.Seconds(),
			cpu.Seconds()/(float64(f.rows)/1e6), machine.Loadavg())
	}
	return nil
}

// goMySQLVersion is the go-mysql module this program is built with.
const goMySQLVersion = "v1.13.0"

// label names a reader for the tables: "sluice=PATH" becomes
// "sluice (base name of PATH)".
func label(r string) string {
	if name, path, ok := strings.Cut(r, "="); ok {
		return fmt.Sprintf("%s (%s)", name, path[strings.LastIndexByte(path, '/')+1:])
	}
	return r
}

// prefixed is s with a space before it, or "" if s is empty.
func prefixed(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

// procCPU is a process's user+sys CPU time so far, from /proc (0 if it
// cannot be read).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesized command name: state is field 3;
	// utime and stime are fields 14 and 15, in clock ticks (100 Hz here).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fs := strings.Fields(string(b[i+1:]))
	if len(fs) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fs[11], 10, 64)
	s, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(u+s) * (time.Second / 100)
}

// measure runs cmd with its standard output piped here and counted (lines
// discarded). If stop is set, the child gets SIGINT once stop reports the
// wanted line, and the wall time ends at that line.
func measure(cmd *exec.Cmd, stop func([]byte) bool) (result, error) {
	var res result
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	cmd.Stderr = os.Stderr
	// Under GNU time for the reader's own peak RSS (wait4's would count
	// this program's too).
	peakKB, err := machine.UnderTime(cmd)
	if err != nil {
		return res, err
	}
	defer peakKB() // removes its report when measure fails
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	br := bufio.NewReaderSize(out, 1<<20)
	signalled := false
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
		}
		if err != nil {
			if err != io.EOF {
				return res, err
			}
			break
		}
		res.lines++
		if stop != nil && !signalled && bytesHasOp(line) && stop(line) {
			res.wall = time.Since(began)
			pid, err := machine.TimedPID(cmd)
			if err != nil {
				cmd.Process.Kill()
				return res, err
			}
			syscall.Kill(pid, syscall.SIGINT)
			signalled = true
		}
	}
	waitErr := cmd.Wait()
	if !signalled {
		res.wall = time.Since(began)
		if waitErr != nil {
			return res, waitErr
		}
	}
	res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if res.maxRSSKB, err = peakKB(); err != nil {
		return res, err
	}
	return res, nil
}

// bytesHasOp reports whether a sluice JSON line is a row change.
func bytesHasOp(line []byte) bool {
	s := string(line[:min(len(line), 20)])
	return strings.HasPrefix(s, `{"op":"insert"`) || strings.HasPrefix(s, `{"op":"update"`) || strings.HasPrefix(s, `{"op":"delete"`)
}

// binlogPos is the server's current binlog file and position.
func binlogPos(ctx context.Context, srv *servers.MariaDB) (gmysql.Position, error) {
	db, err := srv.DB()
	if err != nil {
		return gmysql.Position{}, err
	}
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return gmysql.Position{}, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	var file string
	var pos uint32
	vals[0], vals[1] = &file, &pos
	for i := 2; i < len(vals); i++ {
		vals[i] = new(any)
	}
	if !rows.Next() {
		return gmysql.Position{}, fmt.Errorf("SHOW MASTER STATUS: no row")
	}
	if err := rows.Scan(vals...); err != nil {
		return gmysql.Position{}, err
	}
	return gmysql.Position{Name: file, Pos: pos}, nil
}

// goMySQLReader reads the binlog from FILE:POS to ENDFILE:ENDPOS with
// go-mysql's BinlogSyncer, decodes every row and writes one JSON object per
// row change with encoding/json.
func goMySQLReader(args []string) error {
	if len(args) != 7 {
		return fmt.Errorf("want ADDR USER PASSWORD FILE POS ENDFILE ENDPOS")
	}
	host, portS, err := net.SplitHostPort(args[0])
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(portS)
	pos, _ := strconv.Atoi(args[4])
	endPos, _ := strconv.Atoi(args[6])
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: 7002, Flavor: "mariadb", Host: host, Port: uint16(port), User: args[1], Password: args[2],
		Logger: slog.New(slog.DiscardHandler),
	})
	defer syncer.Close()
	st, err := syncer.StartSync(gmysql.Position{Name: args[3], Pos: uint32(pos)})
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	enc := json.NewEncoder(w)
	type rowChange struct {
		Op     string         `json:"op"`
		DB     string         `json:"db"`
		Table  string         `json:"table"`
		Before map[string]any `json:"before,omitempty"`
		After  map[string]any `json:"after,omitempty"`
	}
	file := args[3]
	ctx := context.Background()
	for {
		ev, err := st.GetEvent(ctx)
		if err != nil {
			return err
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			names := e.Table.ColumnNameString()
			asMap := func(row []any) map[string]any {
				m := make(map[string]any, len(row))
				for i, v := range row {
					name := strconv.Itoa(i)
					if i < len(names) {
						name = names[i]
					}
					m[name] = v
				}
				return m
			}
			rc := rowChange{DB: string(e.Table.Schema), Table: string(e.Table.Table)}
			switch ev.Header.EventType {
			case replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
				rc.Op = "insert"
				for _, r := range e.Rows {
					rc.After = asMap(r)
					if err := enc.Encode(&rc); err != nil {
						return err
					}
				}
			case replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
				rc.Op = "delete"
				for _, r := range e.Rows {
					rc.Before = asMap(r)
					if err := enc.Encode(&rc); err != nil {
						return err
					}
				}
			default:
				rc.Op = "update"
				for i := 0; i+1 < len(e.Rows); i += 2 {
					rc.Before, rc.After = asMap(e.Rows[i]), asMap(e.Rows[i+1])
					if err := enc.Encode(&rc); err != nil {
						return err
					}
				}
			}
		}
		if file == args[5] && ev.Header.LogPos >= uint32(endPos) {
			return nil
		}
	}
}
