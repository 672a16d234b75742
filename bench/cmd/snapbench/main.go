// Command snapbench measures initial snapshots against the databases' own
// dump tools on one table, in one run (bench/snapshot.sh runs it under
// benchrun and writes bench/results/snapshot.md):
//
//   - MariaDB: `sluice stream --snapshot only` to Sluice JSON on /dev/null
//     vs `mariadb-dump --single-transaction --quick` (one thread) and
//     `mydumper` with as many threads as sluice's --snapshot-workers, on
//     the same table;
//   - PostgreSQL: the same sluice command vs `psql -c "COPY t TO STDOUT"`.
//
// Each tool runs -rounds times, interleaved, and the median is reported:
// rows per second over the wall time, CPU seconds of the tool, and the
// peak RSS of sluice. Tables of wider rows (-wide) check that sluice's
// memory does not grow with the row width. Goals (issue 16): sluice ≥ 1.0×
// mariadb-dump's rows/s, ≥ 0.7× COPY's, peak RSS < 64 MiB at every width.
//
//	snapbench -sluice bin/sluice -out results.md [-rows 2000000] [-workers 2] [-rounds 3] [-wide=true]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/procstat"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	sluice := flag.String("sluice", "bench/.data/sluice", "the sluice binary")
	out := flag.String("out", "", "Markdown results (default: standard output)")
	rows := flag.Int("rows", 2_000_000, "rows of the narrow table")
	workers := flag.Int("workers", 2, "sluice --snapshot-workers and mydumper --threads")
	rounds := flag.Int("rounds", 3, "runs of each tool, interleaved")
	wide := flag.Bool("wide", true, "also tables of 4 KiB and 1 MiB rows (sluice's peak RSS)")
	flag.Parse()
	if err := run(*sluice, *out, *rows, *workers, *rounds, *wide); err != nil {
		fmt.Fprintln(os.Stderr, "snapbench:", err)
		os.Exit(1)
	}
}

// result is one run of one tool.
type result struct {
	wall   time.Duration
	cpu    time.Duration
	server time.Duration // CPU time of the database server during the run
	rss    int64         // bytes
}

// measure runs cmd with its standard output to /dev/null and returns its
// wall time, CPU time and peak RSS, and the CPU time the server process
// serverPID (with its children that ended: PostgreSQL's backends) used
// meanwhile.
func measure(cmd *exec.Cmd, serverPID int) (result, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer devnull.Close()
	cmd.Stdout = devnull
	var stderr strings.Builder
	cmd.Stderr = &stderr
	name, tool := strings.Join(cmd.Args, " "), cmd.Args[0]
	if os.Getenv("SNAPBENCH_LOG_LEVEL") != "" {
		defer func() { fmt.Fprintf(os.Stderr, "%s:\n%s\n", tool, stderr.String()) }()
	}
	peakKB, err := machine.UnderTime(cmd)
	if err != nil {
		return result{}, err
	}
	began, server0 := time.Now(), procstat.CPU(serverPID)
	if err := cmd.Run(); err != nil {
		peakKB()
		return result{}, fmt.Errorf("%s: %w\n%s", name, err, tail(stderr.String()))
	}
	r := result{wall: time.Since(began), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	// PostgreSQL's postmaster counts a backend once it has reaped it.
	time.Sleep(50 * time.Millisecond)
	r.server = procstat.CPU(serverPID) - server0
	kb, err := peakKB()
	if err != nil {
		return result{}, err
	}
	r.rss = kb << 10
	return r, nil
}

// logLevel is sluice's: warn, or $SNAPBENCH_LOG_LEVEL.
func logLevel() string {
	if l := os.Getenv("SNAPBENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

// profileArg is sluice's --cpuprofile for the run named, into the
// directory $SNAPBENCH_CPUPROFILE (--cpuprofile= when unset: none).
func profileArg(name string) string {
	dir := os.Getenv("SNAPBENCH_CPUPROFILE")
	if dir == "" {
		return "--cpuprofile="
	}
	return "--cpuprofile=" + filepath.Join(dir, name+".pprof")
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}

func median(rs []result) result {
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(a, b result) int { return int(a.wall - b.wall) })
	m := sorted[len(sorted)/2]
	for _, r := range rs {
		m.rss = max(m.rss, r.rss)
	}
	return m
}

// table is one table measured: its name, rows and row width.
type table struct {
	name  string
	rows  int
	width int // bytes of the payload column
}

func run(sluice, out string, rows, workers, rounds int, wide bool) error {
	ctx := context.Background()
	var w io.Writer = os.Stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	tables := []table{{"t", rows, 60}}
	if wide {
		tables = append(tables, table{"w4k", 100_000, 4 << 10}, table{"w1m", 400, 1 << 20})
	}
	fmt.Fprintf(w, "Tables: `t` %d rows of about 100 bytes (int key, bigint, decimal, varchar, datetime(6), %d-byte text)", rows, tables[0].width)
	if wide {
		fmt.Fprintf(w, "; `w4k` 100,000 rows with a 4 KiB text column; `w1m` 400 rows with a 1 MiB text column")
	}
	fmt.Fprintf(w, ". sluice: `sluice stream URL --snapshot only --snapshot-workers %d --to stdout:// > /dev/null` (Sluice JSON); "+
		"every tool's output goes to /dev/null (mydumper's to a temporary directory); %d rounds, interleaved, median by wall time; peak RSS the highest of the rounds; CPU is the tool's (user+system, with its children), server CPU that of mariadbd or of PostgreSQL's processes during the run (the machine's 2 cores run both).\n\n",
		workers, rounds)

	mdb, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: []string{"innodb_buffer_pool_size=1G"}})
	if err != nil {
		return err
	}
	defer mdb.Close()
	pg, err := servers.StartPostgres(ctx, servers.PostgresOptions{ExtraConfig: []string{"shared_buffers = 512MB"}})
	if err != nil {
		return err
	}
	defer pg.Close()
	if err := loadMariaDB(ctx, mdb, tables); err != nil {
		return err
	}
	if err := loadPostgres(ctx, pg, tables); err != nil {
		return err
	}
	if os.Getenv("SNAPBENCH_HOLD") != "" {
		// For profiling by hand: the loaded servers stay up until interrupted.
		fmt.Fprintf(os.Stderr, "snapbench: holding; MariaDB %s (user %s), PostgreSQL %s; Ctrl-C ends\n", mdb.Addr(), servers.MariaDBReplUser, pg.DSN("postgres"))
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		return nil
	}

	fmt.Fprintln(w, "| database | table | tool | rows/s | wall | CPU | server CPU | peak RSS | vs peer |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	var verdicts []string
	dir, err := os.MkdirTemp("", "snapbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, t := range tables {
		// MariaDB.
		maria := fmt.Sprintf("mariadb://%s:%s@%s/?server-id=%d", servers.MariaDBReplUser, servers.MariaDBReplPassword, mdb.Addr(), 9000)
		tools := []struct {
			name string
			cmd  func(round int) *exec.Cmd
		}{
			{"sluice", func(round int) *exec.Cmd {
				return exec.Command(sluice, "stream", maria, "--snapshot", "only", "--snapshot-workers", fmt.Sprint(workers),
					"--include", `bench\.`+t.name, "--to", "stdout://", "--state", filepath.Join(dir, fmt.Sprintf("m-%s-%d.db", t.name, round)), "--log-level", logLevel(),
					profileArg(fmt.Sprintf("m-%s-%d", t.name, round)))
			}},
			{"mariadb-dump --single-transaction --quick", func(int) *exec.Cmd {
				return exec.Command("mariadb-dump", append([]string{"--no-defaults"}, append(mdb.ConnArgs(), "--single-transaction", "--quick", "bench", t.name)...)...)
			}},
			{fmt.Sprintf("mydumper --threads %d", workers), func(round int) *exec.Cmd {
				d := filepath.Join(dir, fmt.Sprintf("mydumper-%s-%d", t.name, round))
				return exec.Command("mydumper", "--host", "127.0.0.1", "--port", fmt.Sprint(mdb.Port()), "--user", servers.MariaDBRootUser,
					"--password", servers.MariaDBRootPassword, "--threads", fmt.Sprint(workers), "--rows", "100000",
					"--database", "bench", "--regex", `^bench\.`+t.name+`$`, "--outputdir", d)
			}},
		}
		res, err := rounds3(tools, rounds, mdb.PID())
		if err != nil {
			return err
		}
		// mydumper writes files: check that it wrote the table.
		var dumped int64
		filepath.Walk(filepath.Join(dir, fmt.Sprintf("mydumper-%s-0", t.name)), func(_ string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && strings.HasPrefix(fi.Name(), "bench."+t.name+".") && strings.HasSuffix(fi.Name(), ".sql") && !strings.Contains(fi.Name(), "-schema") {
				dumped += fi.Size()
			}
			return nil
		})
		if dumped < int64(t.rows)*int64(t.width) {
			var names []string
			entries, _ := os.ReadDir(filepath.Join(dir, fmt.Sprintf("mydumper-%s-0", t.name)))
			for _, e := range entries {
				names = append(names, e.Name())
			}
			return fmt.Errorf("mydumper wrote %d bytes of data files for %d rows of %d bytes: it did not dump the table (files: %v)", dumped, t.rows, t.width, names)
		}
		for i, tl := range tools {
			m := median(res[i])
			ratio := ""
			if i > 0 {
				ratio = fmt.Sprintf("sluice %.2f×", m.wall.Seconds()/median(res[0]).wall.Seconds())
			}
			fmt.Fprintf(w, "| MariaDB | %s | %s | %.0f | %v | %v | %v | %s | %s |\n", t.name, tl.name, float64(t.rows)/m.wall.Seconds(),
				m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond), m.server.Round(time.Millisecond), rssText(m.rss, i == 0), ratio)
		}
		s, dump := median(res[0]), median(res[1])
		verdicts = append(verdicts, verdict(fmt.Sprintf("MariaDB %s: sluice ≥ 1.0× mariadb-dump's rows/s", t.name), dump.wall.Seconds()/s.wall.Seconds(), 1.0))
		verdicts = append(verdicts, rssVerdict("MariaDB "+t.name, s.rss))

		// PostgreSQL.
		pgTools := []struct {
			name string
			cmd  func(round int) *exec.Cmd
		}{
			{"sluice", func(round int) *exec.Cmd {
				slot := fmt.Sprintf("bench_%s_%d", t.name, round)
				return exec.Command(sluice, "stream", pg.DSN("postgres")+"&slot="+slot+"&publication=bench_"+t.name+"&create-publication=public."+t.name,
					"--snapshot", "only", "--snapshot-workers", fmt.Sprint(workers), "--to", "stdout://",
					"--state", filepath.Join(dir, fmt.Sprintf("p-%s-%d.db", t.name, round)), "--log-level", logLevel(),
					profileArg(fmt.Sprintf("p-%s-%d", t.name, round)))
			}},
			{`psql -c "COPY t TO STDOUT"`, func(int) *exec.Cmd {
				return exec.Command(filepath.Join(servers.PostgresBinDir, "psql"), pg.DSN("postgres"), "-c", "COPY "+t.name+" TO STDOUT")
			}},
		}
		pres, err := rounds3(pgTools, rounds, pg.PID())
		if err != nil {
			return err
		}
		// The slots the snapshots made.
		pg.Exec(ctx, "postgres", `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'bench_%'`)
		for i, tl := range pgTools {
			m := median(pres[i])
			ratio := ""
			if i > 0 {
				ratio = fmt.Sprintf("sluice %.2f×", m.wall.Seconds()/median(pres[0]).wall.Seconds())
			}
			fmt.Fprintf(w, "| PostgreSQL | %s | %s | %.0f | %v | %v | %v | %s | %s |\n", t.name, tl.name, float64(t.rows)/m.wall.Seconds(),
				m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond), m.server.Round(time.Millisecond), rssText(m.rss, i == 0), ratio)
		}
		s, cp := median(pres[0]), median(pres[1])
		verdicts = append(verdicts, verdict(fmt.Sprintf("PostgreSQL %s: sluice ≥ 0.7× COPY's rows/s", t.name), cp.wall.Seconds()/s.wall.Seconds(), 0.7))
		verdicts = append(verdicts, rssVerdict("PostgreSQL "+t.name, s.rss))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Goals:")
	fmt.Fprintln(w)
	for _, v := range verdicts {
		fmt.Fprintln(w, "- "+v)
	}
	return nil
}

// rounds3 runs each tool rounds times, interleaved (tool order rotating).
func rounds3(tools []struct {
	name string
	cmd  func(round int) *exec.Cmd
}, rounds, serverPID int) ([][]result, error) {
	res := make([][]result, len(tools))
	for r := 0; r < rounds; r++ {
		for k := range tools {
			i := (k + r) % len(tools)
			m, err := measure(tools[i].cmd(r), serverPID)
			if err != nil {
				return nil, err
			}
			res[i] = append(res[i], m)
		}
	}
	return res, nil
}

func rssText(rss int64, show bool) string {
	if !show {
		return ""
	}
	return fmt.Sprintf("%.1f MiB", float64(rss)/(1<<20))
}

func verdict(what string, ratio, goal float64) string {
	mark := "met"
	if ratio < goal {
		mark = "NOT met"
	}
	return fmt.Sprintf("%s: %.2f× — %s", what, ratio, mark)
}

func rssVerdict(what string, rss int64) string {
	mark := "met"
	if rss >= 64<<20 {
		mark = "NOT met"
	}
	return fmt.Sprintf("%s: sluice peak RSS %.1f MiB < 64 MiB — %s", what, float64(rss)/(1<<20), mark)
}

func payloadSQL(width int, k string) string {
	return fmt.Sprintf("RPAD(CONCAT('row ', %s, ' '), %d, 'x')", k, width)
}

func loadMariaDB(ctx context.Context, s *servers.MariaDB, tables []table) error {
	db, err := sql.Open("mysql", s.DSN(""))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE bench"); err != nil {
		return err
	}
	db.Close()
	// The seq_N_to_M tables of the sequence engine need a database.
	if db, err = sql.Open("mysql", s.DSN("bench")); err != nil {
		return err
	}
	// The replication user reads the tables (SELECT is among its grants).
	for _, t := range tables {
		col := "VARCHAR(255)"
		if t.width > 255 {
			col = "LONGTEXT"
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE bench.%s (id INT PRIMARY KEY, n BIGINT, d DECIMAL(12,2), s VARCHAR(40), at DATETIME(6), p %s)`, t.name, col)); err != nil {
			return err
		}
		step := max(1, min(10000, (16<<20)/(t.width+100)))
		for k := 0; k < t.rows; k += step {
			q := fmt.Sprintf(`INSERT INTO bench.%s SELECT seq, seq * 7, seq / 100, CONCAT('name-', seq), '2024-01-02 03:04:05.123456' + INTERVAL seq SECOND, %s
				FROM seq_%d_to_%d`, t.name, payloadSQL(t.width, "seq"), k, min(k+step, t.rows)-1)
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("load %s: %w", t.name, err)
			}
		}
		if _, err := db.ExecContext(ctx, "ANALYZE TABLE bench."+t.name); err != nil {
			return err
		}
	}
	return nil
}

func loadPostgres(ctx context.Context, s *servers.Postgres, tables []table) error {
	for _, t := range tables {
		err := s.Exec(ctx, "postgres",
			fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, n bigint, d numeric(12,2), s varchar(40), at timestamp(6), p text)`, t.name),
			fmt.Sprintf(`INSERT INTO %s SELECT g, g * 7, g / 100.0, 'name-' || g, '2024-01-02 03:04:05.123456'::timestamp + g * interval '1 second',
				rpad('row ' || g || ' ', %d, 'x') FROM generate_series(0, %d) g`, t.name, t.width, t.rows-1),
			// Stored plain: a TOASTed, compressed 1 MiB value would measure compression.
			fmt.Sprintf(`VACUUM ANALYZE %s`, t.name))
		if err != nil {
			return fmt.Errorf("load %s: %w", t.name, err)
		}
	}
	return nil
}
