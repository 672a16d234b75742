// Command kafkabench measures "sluice stream --to kafka://" draining a
// MariaDB backlog into a 3-broker kfake cluster (internal/servers), in each
// delivery mode (and format, for the formats the build has), beside the
// same drain to /dev/null and "sluice stream --to stdout:// | kcat -P".
// bench/kafka.sh runs it and writes bench/results/kafka.md.
//
// Every run streams the same backlog (-rows rows inserted in one
// transaction) from its first event to its end (--stop-at), in its own
// process; runs are interleaved round by round. Wall time, rows/s, CPU
// seconds per million rows (getrusage of the child and its children), the
// broker's CPU seconds per million rows during the run (/proc of the kfake
// process) and peak RSS (GNU time's, of the command alone) are reported
// per run and as medians.
//
// For performance work: -modes REGEXP runs some modes only, -profile DIR
// writes sluice's CPU profile of every run and the broker's of the whole
// bench, and -alt PATH runs every mode again with another sluice binary
// right after it ("MODE (alt)"), for a before/after under the same load;
// -alt-query adds URL parameters to the alt runs' kafka:// URL.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
	"github.com/sluice-cdc/sluice/format"
	"github.com/sluice-cdc/sluice/internal/procstat"
	"github.com/sluice-cdc/sluice/internal/servers"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kafkabench:", err)
		os.Exit(1)
	}
}

// result is one run's measurement.
type result struct {
	wall, cpu time.Duration
	rssKB     int64
	broker    time.Duration // CPU of the kfake process during the run
}

// mode is one way of draining the backlog.
type mode struct {
	name string
	// args builds the command of round r.
	args func(r int) []string
	// kafka runs produce to topics named by prefix (deleted after the run).
	prefix func(r int) string
}

func run() error {
	sluice := flag.String("sluice", "", "path of the sluice binary")
	rows := flag.Int("rows", 1000000, "rows in the backlog")
	rounds := flag.Int("rounds", 3, "rounds, every mode once per round")
	out := flag.String("out", "", "write the markdown report here (default: standard output only)")
	commit := flag.String("commit", "", "commit the binary was built from, for the report")
	alt := flag.String("alt", "", "a second sluice binary (another commit): every mode but the pipe runs with it too, as \"MODE (alt)\", right after the mode")
	only := flag.String("modes", "", "run only the modes whose name matches this regular expression")
	altQuery := flag.String("alt-query", "", "with -alt, URL parameters the alt runs add to the kafka:// URL (\"&in-flight=32\"): -alt may name the same binary")
	profile := flag.String("profile", "", "write CPU profiles here: sluice's of every run (MODE-ROUND.pprof) and the broker's of all runs (kfake.pprof)")
	flag.Parse()
	if *sluice == "" {
		return fmt.Errorf("-sluice is required")
	}
	modeRE, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-modes: %w", err)
	}
	if *profile != "" {
		if *profile, err = filepath.Abs(*profile); err != nil {
			return err
		}
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
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
	kopts := servers.KafkaOptions{Partitions: 6}
	if *profile != "" {
		kopts.CPUProfile = filepath.Join(*profile, "kfake.pprof")
	}
	k, err := servers.StartKafka(ctx, kopts)
	if err != nil {
		return err
	}
	defer k.Close()

	start, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	if err := srv.Exec(ctx, "CREATE DATABASE b",
		"CREATE TABLE b.t (id INT PRIMARY KEY, n BIGINT NOT NULL, name VARCHAR(64) NOT NULL, price DECIMAL(12,2) NOT NULL)",
		"USE b", fmt.Sprintf("INSERT INTO b.t SELECT seq, seq * 7, CONCAT('name-', seq), seq / 100 FROM seq_1_to_%d", *rows)); err != nil {
		return err
	}
	end, err := binlogPos(ctx, srv)
	if err != nil {
		return err
	}
	src := fmt.Sprintf("mysql://%s:%s@%s/?server-id=7101", servers.MariaDBReplUser, servers.MariaDBReplPassword, srv.Addr())
	dir, err := os.MkdirTemp("", "kafkabench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	stream := func(r int, name string, extra ...string) []string {
		a := []string{*sluice, "stream", src, "--from", start, "--stop-at", end, "--log-level", "warn",
			"--include", `b\.t`, "--state", fmt.Sprintf("%s/%s-%d.db", dir, name, r), "--id", fmt.Sprintf("%s-%d", name, r)}
		if *profile != "" {
			a = append(a, "--cpuprofile", filepath.Join(*profile, fmt.Sprintf("%s-%d.pprof", name, r)))
		}
		return append(a, extra...)
	}
	seeds := k.Seeds()
	kafkaURL := func(prefix, query string) string {
		return "kafka://" + seeds + "/?prefix=" + prefix + "&create-topics=on" + query
	}
	modes := []mode{
		{name: "/dev/null", args: func(r int) []string { return stream(r, "null", "--to", "stdout://") }},
		{name: "stdout piped to kcat -P", prefix: func(r int) string { return fmt.Sprintf("pipe%d", r) },
			args: func(r int) []string {
				cmd := strings.Join(quoteAll(stream(r, "pipe", "--to", "stdout://")), " ") +
					fmt.Sprintf(" | kcat -P -b %s -t pipe%d.b.t -X acks=all -X enable.idempotence=true -X compression.codec=snappy", seeds, r)
				return []string{"sh", "-c", cmd}
			}},
		{name: "kafka at-least-once", prefix: func(r int) string { return fmt.Sprintf("alo%d", r) },
			args: func(r int) []string { return stream(r, "alo", "--to", kafkaURL(fmt.Sprintf("alo%d", r), "")) }},
		{name: "kafka exactly-once", prefix: func(r int) string { return fmt.Sprintf("eo%d", r) },
			args: func(r int) []string {
				return stream(r, "eo", "--to", kafkaURL(fmt.Sprintf("eo%d", r), "&delivery=exactly-once"))
			}},
	}
	if slices.Contains(format.Names(), "debezium") {
		modes = append(modes,
			mode{name: "/dev/null debezium", args: func(r int) []string {
				return stream(r, "dnull", "--to", "stdout://", "--format", "debezium")
			}},
			mode{name: "kafka at-least-once debezium", prefix: func(r int) string { return fmt.Sprintf("dalo%d", r) },
				args: func(r int) []string {
					return stream(r, "dalo", "--to", kafkaURL(fmt.Sprintf("dalo%d", r), ""), "--format", "debezium")
				}},
			mode{name: "kafka exactly-once debezium", prefix: func(r int) string { return fmt.Sprintf("deo%d", r) },
				args: func(r int) []string {
					return stream(r, "deo", "--to", kafkaURL(fmt.Sprintf("deo%d", r), "&delivery=exactly-once"), "--format", "debezium")
				}})
	}

	modes = slices.DeleteFunc(modes, func(m mode) bool { return !modeRE.MatchString(m.name) })
	if *alt != "" {
		var both []mode
		for _, m := range modes {
			both = append(both, m)
			if strings.Contains(m.name, "kcat") {
				continue
			}
			am := mode{name: m.name + " (alt)", args: func(r int) []string {
				a := m.args(r + 1000) // its own state, id and topics
				a[0] = *alt
				for i := range a {
					if strings.HasPrefix(a[i], "kafka://") {
						a[i] += *altQuery
					}
				}
				return a
			}}
			if m.prefix != nil {
				am.prefix = func(r int) string { return m.prefix(r + 1000) }
			}
			both = append(both, am)
		}
		modes = both
	}
	if len(modes) == 0 {
		return fmt.Errorf("-modes %q matches no mode", *only)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	results := map[string][]result{}
	var log strings.Builder
	for r := 1; r <= *rounds; r++ {
		for _, m := range modes {
			if m.name == "stdout piped to kcat -P" { // kcat does not create topics
				if _, err := adm.CreateTopics(ctx, 6, -1, nil, m.prefix(r)+".b.t"); err != nil {
					return err
				}
			}
			b0 := procstat.CPU(k.PID())
			res, err := measure(m.args(r))
			if err != nil {
				return fmt.Errorf("round %d %s: %w", r, m.name, err)
			}
			res.broker = procstat.CPU(k.PID()) - b0
			if m.prefix != nil {
				// Check what arrived, then free the cluster's memory.
				topic := m.prefix(r) + ".b.t"
				n, err := countRecords(ctx, adm, topic)
				if err != nil {
					return err
				}
				if n < int64(*rows) {
					return fmt.Errorf("round %d %s: %d records in %s, want %d", r, m.name, n, topic, *rows)
				}
				if _, err := adm.DeleteTopics(ctx, topic); err != nil {
					return err
				}
			}
			results[m.name] = append(results[m.name], res)
			line := fmt.Sprintf("| %d | %s | %.2f | %.0f | %.2f | %.2f | %.1f | %s |\n", r, m.name, res.wall.Seconds(),
				float64(*rows)/res.wall.Seconds(), res.cpu.Seconds()/(float64(*rows)/1e6), res.broker.Seconds()/(float64(*rows)/1e6),
				float64(res.rssKB)/1024, machine.Loadavg())
			log.WriteString(line)
			fmt.Print(line)
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Kafka sink: draining a MariaDB backlog into kfake\n\n")
	fmt.Fprintf(&b, "Written by bench/kafka.sh on %s: %s, %d cores, %s; commit %s; load average %s at the start, %s at the end; %s in all.\n\n",
		began.UTC().Format("2006-01-02 15:04 MST"), machine.CPUModel(), runtime.NumCPU(), machine.MemTotal(), *commit, load0, machine.Loadavg(), time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "The backlog: %d rows inserted into b.t (INT key, BIGINT, VARCHAR(64), DECIMAL(12,2)) in one transaction, "+
		"binlog %s to %s. Each run streams it, in its own process, from its start to --stop-at its end (sluice reads, "+
		"decodes and delivers every row, then exits); modes are interleaved round by round. The Kafka cluster is franz-go's kfake "+
		"(3 brokers in one process, every partition on one broker: kfake does not replicate), topics of 6 partitions; the kcat pipe "+
		"produces with acks=all, idempotence and snappy compression, as the sink does by default. Wall time includes start-up and the last acknowledgement; "+
		"CPU is user+sys of the process and its children (the pipe: sluice and kcat); the broker's CPU during the run (all of kfake's "+
		"threads, from /proc) is its own column; peak RSS is GNU time's %%M of the command (the pipe: its largest process). The machine is shared: compare CPU-s more than wall time.\n\n", *rows, start, end)
	if *alt != "" {
		fmt.Fprintf(&b, "The \"(alt)\" runs use %s", *alt)
		if *altQuery != "" {
			fmt.Fprintf(&b, " with `%s` added to the kafka:// URL", *altQuery)
		}
		fmt.Fprintf(&b, "; each runs right after its mode.\n\n")
	}
	fmt.Fprintf(&b, "## Medians of %d rounds\n\n| mode | rows/s | of /dev/null (same format) | CPU-s per M rows | broker CPU-s per M rows | peak RSS MB |\n| --- | --- | --- | --- | --- | --- |\n", *rounds)
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
	for _, m := range modes {
		rs := results[m.name]
		rate[m.name] = med(rs, func(x result) float64 { return float64(*rows) / x.wall.Seconds() })
		rss[m.name] = med(rs, func(x result) float64 { return float64(x.rssKB) / 1024 })
		base := "/dev/null" // of the same format
		if strings.Contains(m.name, "debezium") {
			base = "/dev/null debezium"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f %% | %.2f | %.2f | %.1f |\n", m.name, rate[m.name], 100*rate[m.name]/rate[base],
			med(rs, func(x result) float64 { return x.cpu.Seconds() / (float64(*rows) / 1e6) }),
			med(rs, func(x result) float64 { return x.broker.Seconds() / (float64(*rows) / 1e6) }), rss[m.name])
	}
	fmt.Fprintf(&b, "\n## Goals\n\n")
	goal := func(what string, ok bool) {
		mark := "met"
		if !ok {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "- %s: %s\n", what, mark)
	}
	// A goal is judged only when the bench ran its modes (-modes).
	ratio := func(mode, base string) (float64, bool) {
		a, ok1 := rate[mode]
		b, ok2 := rate[base]
		return a / b, ok1 && ok2
	}
	for _, f := range []string{"", " debezium"} {
		null := "/dev/null" + f
		if r, ok := ratio("kafka at-least-once"+f, null); ok {
			goal(fmt.Sprintf("at-least-once%s ≥ 60 %% of the %s drain (%.0f %%)", f, null, 100*r), r >= 0.6)
		}
		if r, ok := ratio("kafka exactly-once"+f, null); ok {
			goal(fmt.Sprintf("exactly-once%s ≥ 40 %% of the %s drain (%.0f %%)", f, null, 100*r), r >= 0.4)
		}
	}
	maxRSS := 0.0
	for _, m := range modes {
		if strings.HasPrefix(m.name, "kafka") {
			maxRSS = max(maxRSS, rss[m.name])
		}
	}
	goal(fmt.Sprintf("peak RSS < 100 MB in every Kafka mode (largest median %.1f MB)", maxRSS), maxRSS < 100)
	for _, m := range []string{"kafka at-least-once", "kafka exactly-once"} {
		if r, ok := ratio(m, "stdout piped to kcat -P"); ok {
			goal(fmt.Sprintf("%s faster than the kcat pipe (%.2f× its rows/s)", m, r), r > 1)
		}
	}
	if !slices.Contains(format.Names(), "debezium") {
		fmt.Fprintf(&b, "\nThe debezium format is not in this build (formats: %s): its rows are missing.\n", strings.Join(format.Names(), ", "))
	}
	fmt.Fprintf(&b, "\n## Every run\n\n| round | mode | wall s | rows/s | CPU-s per M rows | broker CPU-s per M rows | peak RSS MB | load average after |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	b.WriteString(log.String())
	fmt.Print("\n" + b.String())
	if *out != "" {
		return os.WriteFile(*out, []byte(b.String()), 0o644)
	}
	return nil
}

// measure runs args under GNU time (see machine.Measure).
func measure(args []string) (result, error) {
	u, err := machine.Measure(args)
	return result{wall: u.Wall, cpu: u.CPU, rssKB: u.RSSKB}, err
}

// countRecords sums the end offsets of a topic's partitions.
func countRecords(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
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
	row := db.QueryRowContext(ctx, "SHOW MASTER STATUS")
	if err := row.Scan(&file, &pos, &a, &b); err != nil {
		return "", err
	}
	return file + ":" + pos, nil
}
