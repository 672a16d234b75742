// Command sqlapplybench measures the SQL sink: "sluice stream mysql://… --to
// mysql://…" and "--to postgres://…" applying a MariaDB backlog of -rows
// inserted rows to a MariaDB and a PostgreSQL target, beside each
// server's own bulk load of the same rows ("mariadb < dump.sql" of
// mariadb-dump's output, "psql -f" of pg_dump's), and "sluice verify"
// comparing the equal tables: MariaDB ↔ MariaDB and PostgreSQL ↔
// PostgreSQL (chunk checksums in the servers), MariaDB ↔ PostgreSQL (every
// row read and compared). bench/sql-apply.sh runs it under bench/cmd/benchrun,
// which writes the header of bench/results/sql-apply.md; this program
// writes its body (BENCH_BODY).
//
// The servers are private ones (internal/servers) on this machine. Every
// run is its own process, measured with getrusage: wall time, CPU seconds
// (user+sys of the process and its children — for the loads, the client
// only: the servers do the work, for the sink as for the clients) and peak
// RSS — and the CPU seconds of the three servers during the run (from
// /proc: the servers' own work, which for verify is most of it). Runs
// are interleaved round by round.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/internal/procstat"
	"github.com/sluice-cdc/sluice/internal/servers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sqlapplybench:", err)
		os.Exit(1)
	}
}

// result is one run's measurement.
type result struct {
	wall, cpu time.Duration
	server    time.Duration // the servers' CPU during the run
	rssKB     int64
}

func run() error {
	sluice := flag.String("sluice", "", "path of the sluice binary")
	rows := flag.Int("rows", 1000000, "rows in the backlog")
	txRows := flag.Int("tx-rows", 1000, "rows per source transaction")
	rounds := flag.Int("rounds", 2, "rounds, every run once per round")
	flag.Parse()
	if *sluice == "" {
		return fmt.Errorf("-sluice is required")
	}
	ctx := context.Background()
	cnf := []string{"innodb_buffer_pool_size=256M", "max_allowed_packet=256M", "innodb_log_file_size=256M"}
	src, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: cnf})
	if err != nil {
		return err
	}
	defer src.Close()
	dstM, err := servers.StartMariaDB(ctx, servers.MariaDBOptions{ExtraConfig: cnf})
	if err != nil {
		return err
	}
	defer dstM.Close()
	dstP, err := servers.StartPostgres(ctx, servers.PostgresOptions{})
	if err != nil {
		return err
	}
	defer dstP.Close()
	work, err := os.MkdirTemp("", "sqlapplybench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// The backlog: -rows rows in transactions of -tx-rows.
	start, err := binlogPos(ctx, src)
	if err != nil {
		return err
	}
	stmts := []string{"CREATE DATABASE b",
		"CREATE TABLE b.t (id BIGINT PRIMARY KEY, n INT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL, at DATETIME(6) NOT NULL, ratio DOUBLE NOT NULL)"}
	for lo := 1; lo <= *rows; lo += *txRows {
		hi := min(lo+*txRows-1, *rows)
		stmts = append(stmts, fmt.Sprintf("INSERT INTO b.t SELECT seq, seq %% 1000, CONCAT('name-', seq), seq / 100, "+
			"TIMESTAMPADD(MICROSECOND, seq * 1000003, '2026-01-01 00:00:00'), seq / 7 FROM b.seq_%d_to_%d", lo, hi))
	}
	fmt.Fprintf(os.Stderr, "writing the backlog: %d rows in %d transactions\n", *rows, (*rows+*txRows-1) / *txRows)
	if err := src.Exec(ctx, stmts...); err != nil {
		return err
	}
	end, err := binlogPos(ctx, src)
	if err != nil {
		return err
	}
	// Something after the end, so that --stop-at sees it was passed.
	if err := src.Exec(ctx, "CREATE TABLE b.marker (id int PRIMARY KEY)", "INSERT INTO b.marker VALUES (1)"); err != nil {
		return err
	}

	// The peers' dumps of the same rows.
	myDump := filepath.Join(work, "dump.sql")
	if err := dumpMariaDB(ctx, src, myDump); err != nil {
		return err
	}
	srcURL := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7301", servers.MariaDBReplUser, servers.MariaDBReplPassword, src.Addr())
	srcRoot := (&url.URL{Scheme: "mysql", User: url.UserPassword(servers.MariaDBRootUser, servers.MariaDBRootPassword), Host: src.Addr(), Path: "/b"}).String()
	myURL := (&url.URL{Scheme: "mysql", User: url.UserPassword(servers.MariaDBRootUser, servers.MariaDBRootPassword), Host: dstM.Addr(), Path: "/sluice"}).String()
	pgURL := (&url.URL{Scheme: "postgres", User: url.UserPassword(servers.PostgresUser, servers.PostgresPassword), Host: dstP.Addr(), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	stream := func(r int, to, target string) []string {
		return []string{*sluice, "stream", srcURL, "--from", start, "--stop-at", end, "--log-level", "warn",
			"--include", `b\.t`, "--id", fmt.Sprintf("%s-%d", target, r), "--to", to}
	}
	psql := func(args ...string) []string {
		return append([]string{filepath.Join(servers.PostgresBinDir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
			"-h", "127.0.0.1", "-p", fmt.Sprint(dstP.Port()), "-U", servers.PostgresUser, "-d", "postgres"}, args...)
	}
	os.Setenv("PGPASSWORD", servers.PostgresPassword)
	pgDump := filepath.Join(work, "dump.pg.sql")

	type runDef struct {
		name  string
		kind  string // "apply", "load", "verify"
		setup func(r int) error
		args  func(r int) []string
		check func(r int) error
	}
	count := func(q func() (int64, error), what string) error {
		n, err := q()
		if err != nil {
			return err
		}
		if n != int64(*rows) {
			return fmt.Errorf("%s holds %d rows, want %d", what, n, *rows)
		}
		return nil
	}
	myCount := func(db string) func(int) error {
		return func(int) error {
			return count(func() (int64, error) { return queryInt(ctx, dstM, "SELECT COUNT(*) FROM "+db+".t") }, "MariaDB "+db+".t")
		}
	}
	pgCount := func(schema string) func(int) error {
		return func(int) error {
			return count(func() (int64, error) { return pgInt(ctx, dstP, "SELECT count(*) FROM "+schema+".t") }, "PostgreSQL "+schema+".t")
		}
	}
	runs := []runDef{
		{name: "sluice → MariaDB", kind: "apply",
			setup: func(r int) error { return dstM.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS s%d", r)) },
			args: func(r int) []string {
				return stream(r, myURL+fmt.Sprintf("?create-tables=on&schema=s%d", r), "mariadb")
			},
			check: func(r int) error { return myCount(fmt.Sprintf("s%d", r))(r) }},
		{name: "mariadb < dump.sql", kind: "load",
			setup: func(r int) error {
				return dstM.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS d%d", r), fmt.Sprintf("CREATE DATABASE d%d", r))
			},
			args: func(r int) []string {
				cmd, _ := dstM.ClientCmd(ctx, fmt.Sprintf("d%d", r))
				return []string{"sh", "-c", strings.Join(quoteAll(cmd.Args), " ") + " < " + myDump}
			},
			check: func(r int) error { return myCount(fmt.Sprintf("d%d", r))(r) }},
		{name: "sluice → PostgreSQL", kind: "apply",
			setup: func(r int) error {
				return dstP.Exec(ctx, "postgres", fmt.Sprintf("DROP SCHEMA IF EXISTS s%d CASCADE", r))
			},
			args: func(r int) []string {
				return stream(r, pgURL+fmt.Sprintf("&create-tables=on&schema=s%d", r), "postgres")
			},
			check: func(r int) error {
				if err := pgCount(fmt.Sprintf("s%d", r))(r); err != nil {
					return err
				}
				if _, err := os.Stat(pgDump); err != nil {
					// pg_dump's dump of the copy, loaded by psql -f below.
					return dumpPostgres(ctx, dstP, fmt.Sprintf("s%d", r), pgDump)
				}
				return nil
			}},
		{name: "psql -f dump.sql", kind: "load",
			setup: func(r int) error {
				return dstP.Exec(ctx, "postgres", fmt.Sprintf("DROP SCHEMA IF EXISTS d%d CASCADE", r), fmt.Sprintf("CREATE SCHEMA d%d", r))
			},
			args: func(r int) []string {
				return []string{"sh", "-c", strings.Join(quoteAll(psql("-c", fmt.Sprintf("SET search_path = d%d", r), "-f", pgDump)), " ")}
			},
			check: func(r int) error { return pgCount(fmt.Sprintf("d%d", r))(r) }},
		{name: "verify MariaDB ↔ MariaDB", kind: "verify",
			args: func(r int) []string {
				return []string{*sluice, "verify", srcRoot, myURL, "--tables", "b.t", "--schema", fmt.Sprintf("s%d", r), "--recheck", "0"}
			}},
		{name: "verify PostgreSQL ↔ PostgreSQL", kind: "verify",
			args: func(r int) []string {
				u := pgURL
				return []string{*sluice, "verify", u, u, "--tables", fmt.Sprintf("s%d.t", r), "--schema", fmt.Sprintf("d%d", r), "--recheck", "0"}
			}},
		{name: "verify MariaDB ↔ PostgreSQL", kind: "verify",
			args: func(r int) []string {
				return []string{*sluice, "verify", srcRoot, pgURL, "--tables", "b.t", "--schema", fmt.Sprintf("s%d", r), "--recheck", "0"}
			}},
	}
	results := map[string][]result{}
	var log strings.Builder
	for r := 1; r <= *rounds; r++ {
		for _, d := range runs {
			if d.setup != nil {
				if err := d.setup(r); err != nil {
					return fmt.Errorf("round %d %s: setup: %w", r, d.name, err)
				}
			}
			ld := machine.Loadavg()
			res, out, err := measure(d.args(r), src.PID(), dstM.PID(), dstP.PID())
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r, d.name, err)
			}
			if d.kind == "verify" && !strings.Contains(out, ": equal, ") {
				return fmt.Errorf("round %d %s: not equal:\n%s", r, d.name, out)
			}
			if d.check != nil {
				if err := d.check(r); err != nil {
					return fmt.Errorf("round %d %s: %w", r, d.name, err)
				}
			}
			results[d.name] = append(results[d.name], res)
			line := fmt.Sprintf("| %d | %s | %.2f | %.0f | %.2f | %.2f | %.1f | %s |\n", r, d.name, res.wall.Seconds(),
				float64(*rows)/res.wall.Seconds(), res.cpu.Seconds()/(float64(*rows)/1e6), res.server.Seconds()/(float64(*rows)/1e6),
				float64(res.rssKB)/1024, ld)
			log.WriteString(line)
			fmt.Fprint(os.Stderr, line)
		}
	}

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
	rate := map[string]float64{}
	rss := map[string]float64{}
	var b strings.Builder
	fmt.Fprintf(&b, "The backlog: %d rows inserted into b.t (BIGINT key, INT, VARCHAR(64), DECIMAL(12,2), DATETIME(6), DOUBLE) "+
		"in transactions of %d rows on a MariaDB source, binlog %s to %s. The sink runs stream it from its start to --stop-at its "+
		"end into a table the sink creates (create-tables=on), on a MariaDB and a PostgreSQL target (private servers on this machine, "+
		"MariaDB with innodb_flush_log_at_trx_commit=2 and its binlog on, PostgreSQL with fsync off, as internal/servers starts them). "+
		"The loads are each server's own bulk path for the same rows into an empty table: \"mariadb < dump.sql\" of mariadb-dump's "+
		"dump of the source (extended INSERTs), \"psql -f\" of pg_dump's dump of the sink's copy (COPY). verify compares the equal "+
		"tables (--recheck 0): MariaDB ↔ MariaDB and PostgreSQL ↔ PostgreSQL by chunk checksums in the servers, MariaDB ↔ PostgreSQL "+
		"by reading every row of both sides; its rows/s are rows per second on each side. CPU is user+sys of the measured process "+
		"and its children: sluice for the sink and verify, the client for the loads; servers' CPU is that of the three servers during the run "+
		"(their work for it, with their background work). "+
		"The 2 cores run the three servers and sluice together: compare within a round.\n\n", *rows, *txRows, start, end)
	fmt.Fprintf(&b, "## Medians of %d rounds\n\n| run | rows/s | CPU-s per M rows | servers' CPU-s per M rows | peak RSS MB |\n| --- | ---: | ---: | ---: | ---: |\n", *rounds)
	for _, d := range runs {
		rs := results[d.name]
		rate[d.name] = med(rs, func(x result) float64 { return float64(*rows) / x.wall.Seconds() })
		rss[d.name] = med(rs, func(x result) float64 { return float64(x.rssKB) / 1024 })
		fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %.1f |\n", d.name, rate[d.name],
			med(rs, func(x result) float64 { return x.cpu.Seconds() / (float64(*rows) / 1e6) }),
			med(rs, func(x result) float64 { return x.server.Seconds() / (float64(*rows) / 1e6) }), rss[d.name])
	}
	fmt.Fprintf(&b, "\nThe sink against the server's own bulk load: MariaDB %.0f %%, PostgreSQL %.0f %% of its rows/s.\n",
		100*rate["sluice → MariaDB"]/rate["mariadb < dump.sql"], 100*rate["sluice → PostgreSQL"]/rate["psql -f dump.sql"])
	fmt.Fprintf(&b, "\n## Goals\n\n")
	goal := func(what string, ok bool) {
		mark := "met"
		if !ok {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", what, mark)
	}
	goal(fmt.Sprintf("≥ 50 k rows/s applied into MariaDB (%.0f)", rate["sluice → MariaDB"]), rate["sluice → MariaDB"] >= 50000)
	goal(fmt.Sprintf("≥ 50 k rows/s applied into PostgreSQL (%.0f)", rate["sluice → PostgreSQL"]), rate["sluice → PostgreSQL"] >= 50000)
	maxRSS := max(rss["sluice → MariaDB"], rss["sluice → PostgreSQL"])
	goal(fmt.Sprintf("peak RSS < 100 MB applying (largest median %.1f MB)", maxRSS), maxRSS < 100)
	for _, v := range []string{"verify MariaDB ↔ MariaDB", "verify PostgreSQL ↔ PostgreSQL", "verify MariaDB ↔ PostgreSQL"} {
		goal(fmt.Sprintf("%s ≥ 500 k rows/s per side on equal tables (%.0f)", strings.TrimPrefix(v, "verify "), rate[v]), rate[v] >= 500000)
	}
	fmt.Fprintf(&b, "\n## Every run\n\n| round | run | wall s | rows/s | CPU-s per M rows | servers' CPU-s per M rows | peak RSS MB | load average before |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	b.WriteString(log.String())
	if p := os.Getenv("BENCH_BODY"); p != "" {
		return os.WriteFile(p, []byte(b.String()), 0o644)
	}
	fmt.Print(b.String())
	return nil
}

// measure runs args to their end and returns the measurement (with the
// CPU the server processes pids used meanwhile) and the standard output.
func measure(args []string, pids ...int) (result, string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	servers := func() (d time.Duration) {
		for _, p := range pids {
			d += procstat.CPU(p)
		}
		return d
	}
	peakKB, err := machine.UnderTime(cmd) // sluice's own peak RSS
	if err != nil {
		return result{}, "", err
	}
	began, server0 := time.Now(), servers()
	if err := cmd.Run(); err != nil {
		peakKB()
		return result{}, "", fmt.Errorf("%v: %s%s", err, stdout.String(), stderr.String())
	}
	res := result{wall: time.Since(began), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	// PostgreSQL's postmaster counts a backend once it has reaped it.
	time.Sleep(50 * time.Millisecond)
	res.server = servers() - server0
	if res.rssKB, err = peakKB(); err != nil {
		return result{}, "", err
	}
	return res, stdout.String(), nil
}

// dumpMariaDB writes mariadb-dump's dump of b.t (table and rows) to path.
func dumpMariaDB(ctx context.Context, s *servers.MariaDB, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	args := append([]string{"--no-defaults"}, s.ConnArgs()...)
	args = append(args, "--single-transaction", "b", "t")
	cmd := exec.CommandContext(ctx, "mariadb-dump", args...)
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mariadb-dump: %v: %s", err, stderr.String())
	}
	return nil
}

// dumpPostgres writes pg_dump's dump of schema.t to path, with the schema
// left out of its names (the load sets search_path).
func dumpPostgres(ctx context.Context, s *servers.Postgres, schema, path string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(servers.PostgresBinDir, "pg_dump"), "-h", "127.0.0.1", "-p", fmt.Sprint(s.Port()),
		"-U", servers.PostgresUser, "-t", schema+".t", "--no-owner", "--no-privileges", "postgres")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	r := bufio.NewReaderSize(out, 1<<20)
	for {
		line, err := r.ReadString('\n')
		// Names qualified with the copy's schema go to search_path's;
		// pg_dump's own reset of search_path is dropped.
		if !strings.HasPrefix(line, "SELECT pg_catalog.set_config('search_path'") {
			line = strings.ReplaceAll(line, schema+".t", "t")
			w.WriteString(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("pg_dump: %v: %s", err, stderr.String())
	}
	return w.Flush()
}

func queryInt(ctx context.Context, s *servers.MariaDB, q string) (int64, error) {
	db, err := s.DB()
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

func pgInt(ctx context.Context, s *servers.Postgres, q string) (int64, error) {
	c, err := s.Connect(ctx, "postgres")
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int64
	err = c.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// quoteAll quotes arguments for sh.
func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

// binlogPos is the server's current binlog position as FILE:POS.
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
