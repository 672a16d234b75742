// Command binlogdecode benchmarks Sluice's binlog decoder against go-mysql's
// BinlogParser and `mariadb-binlog -v` on one ≥ 300 MB binlog written by a
// private MariaDB (sbtest-shaped rows plus a wide mixed-type table), and
// writes the numbers to a Markdown file.
//
//	go run ./bench/cmd/binlogdecode -out FILE [-alt OTHER-BINLOGDECODE]
//
// Each decoder runs in its own child process so that its peak RSS is its
// own (getrusage of the child). The binlog is built once and kept in -dir.
// -alt names this program built from another source tree (e.g. the commit
// before a change): its Sluice decoders run too, interleaved with this
// tree's, and the report compares the two builds. bench/binlog-decode.sh
// runs it under bench/cmd/benchrun, which writes the header of the
// results file (machine, load, commits).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/bench/internal/machine"
)

// result is what a child reports on stdout, as JSON.
type result struct {
	Rows    int64   `json:"rows"`
	Events  int64   `json:"events"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Mallocs uint64  `json:"mallocs"` // heap allocations during the timed part
	// Filled by the parent.
	MaxRSSKB int64   `json:"-"`
	Wall     float64 `json:"-"` // seconds, process start to exit
	CPU      float64 `json:"-"` // user+system seconds of the process
}

// named is one decoder's median result.
type named struct {
	name string
	res  result
	err  error
}

// children are the timed modes a child process runs (-child NAME FILE).
var children = map[string]func(path string) (result, error){
	"sluice":         decodeSluice,
	"sluice-changes": decodeChanges,
	"sluice-json":    decodeJSON,
	"sluice-scan":    scanSluice,
	"go-mysql":       decodeGoMySQL,
}

func main() {
	child := flag.String("child", "", "internal: run one timed mode on FILE and print JSON")
	dir := flag.String("dir", "bench/.data", "where the generated binlog is kept (not in git)")
	out := flag.String("out", "", "Markdown file for the results (default: print only)")
	targetMB := flag.Int("mb", 320, "minimum size of the generated binlog in MB")
	runs := flag.Int("runs", 5, "runs per decoder; the run with the median CPU time is reported")
	alt := flag.String("alt", "", "this program built from another tree: its Sluice decoders run too, as \"MODE (before)\"")
	flag.Parse()

	if *child != "" {
		if err := runChild(*child, flag.Arg(0)); err != nil {
			fmt.Fprintln(os.Stderr, "binlogdecode:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dir, *out, *alt, *targetMB, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "binlogdecode:", err)
		os.Exit(1)
	}
}

func runChild(mode, path string) error {
	f, ok := children[mode]
	if !ok {
		return fmt.Errorf("unknown mode %q", mode)
	}
	r, err := f(path)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// measure runs fn with allocation counting around it.
func measure(fn func() (rows, events, bytes int64, err error)) (result, error) {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	rows, events, n, err := fn()
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	return result{Rows: rows, Events: events, Bytes: n, Seconds: el.Seconds(), Mallocs: m1.Mallocs - m0.Mallocs}, err
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "binlogdecode: "+format+"\n", args...)
}

// altSuffix marks the decoders of the -alt build.
const altSuffix = " (before)"

func run(ctx context.Context, dir, out, alt string, targetMB, runs int) error {
	path := filepath.Join(dir, fmt.Sprintf("bench-%dmb.000001", targetMB))
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		logf("building %s (≥ %d MB) with a private MariaDB", path, targetMB)
		if err := buildBinlog(ctx, path, targetMB, logf); err != nil {
			return fmt.Errorf("build binlog: %w", err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	// Warm the page cache so every decoder reads from memory.
	if err := readAll(path); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var rows []named
	// Interleave the decoders run by run, so that load from other
	// processes on a shared machine falls on all of them alike.
	modes := []string{"sluice", "sluice-changes", "sluice-json", "go-mysql", "mariadb-binlog", "sluice-scan"}
	if alt != "" {
		// Each of our decoders right after the same decoder of this build.
		modes = []string{"sluice", "sluice" + altSuffix, "sluice-changes", "sluice-changes" + altSuffix,
			"sluice-json", "sluice-json" + altSuffix, "go-mysql", "mariadb-binlog", "sluice-scan", "sluice-scan" + altSuffix}
	}
	all := make(map[string][]result)
	errs := make(map[string]error)
	for i := 0; i < runs; i++ {
		for _, mode := range modes {
			if errs[mode] != nil {
				continue
			}
			var r result
			var err error
			if mode == "mariadb-binlog" {
				r, err = runMariaDBBinlog(ctx, path)
			} else if m, ok := strings.CutSuffix(mode, altSuffix); ok {
				r, err = runSelf(ctx, alt, m, path)
			} else {
				r, err = runSelf(ctx, self, mode, path)
			}
			if err != nil {
				errs[mode] = err
				continue
			}
			all[mode] = append(all[mode], r)
			logf("run %d %-15s %s", i+1, mode, describe(r, nil))
		}
	}
	for _, mode := range modes {
		if errs[mode] != nil {
			rows = append(rows, named{mode, result{}, errs[mode]})
			continue
		}
		rows = append(rows, named{mode, medianOf(all[mode]), nil})
	}

	get := func(name string) (result, error) {
		for _, r := range rows {
			if r.name == name {
				return r.res, r.err
			}
		}
		return result{}, fmt.Errorf("no %s", name)
	}
	// Row count: ours, else go-mysql's; every decoder reads the same file.
	var nrows int64
	for _, n := range []string{"sluice", "go-mysql"} {
		if r, err := get(n); err == nil && r.Rows > 0 {
			nrows = r.Rows
			break
		}
	}
	report := formatReport(st.Size(), nrows, runs, rows, all)
	fmt.Print(report)
	if out != "" {
		return os.WriteFile(out, []byte(report), 0o644)
	}
	return nil
}

func describe(r result, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%.2fs CPU, %.2fs wall, %d rows, %d events, %d MB RSS", r.CPU, r.Wall, r.Rows, r.Events, r.MaxRSSKB/1024)
}

// medianOf returns the run with the median CPU time.
func medianOf(rs []result) result {
	rs = append([]result(nil), rs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].CPU < rs[j].CPU })
	return rs[len(rs)/2]
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// runSelf runs this program as a child in mode and returns its report,
// wall time and peak RSS.
func runSelf(ctx context.Context, self, mode, path string) (result, error) {
	cmd := exec.CommandContext(ctx, self, "-child", mode, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	peakKB, err := machine.UnderTime(cmd)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		peakKB()
		return result{}, fmt.Errorf("%s: %w: %s", mode, err, strings.TrimSpace(stderr.String()))
	}
	var r result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return result{}, fmt.Errorf("%s: bad report %q: %w", mode, stdout.String(), err)
	}
	r.Wall = wall.Seconds()
	r.MaxRSSKB, r.CPU, err = usage(cmd.ProcessState, peakKB)
	return r, err
}

// runMariaDBBinlog times `mariadb-binlog -v FILE > /dev/null`.
func runMariaDBBinlog(ctx context.Context, path string) (result, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return result{}, err
	}
	defer null.Close()
	cmd := exec.CommandContext(ctx, "mariadb-binlog", "--no-defaults", "-v", path)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = null, &stderr
	peakKB, err := machine.UnderTime(cmd)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		peakKB()
		return result{}, fmt.Errorf("mariadb-binlog: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	r := result{Wall: wall.Seconds(), Seconds: wall.Seconds()}
	r.MaxRSSKB, r.CPU, err = usage(cmd.ProcessState, peakKB)
	return r, err
}

// usage returns the peak RSS (KiB, from GNU time: see
// machine.UnderTime) and the CPU seconds (user+system) of an exited child.
func usage(ps *os.ProcessState, peakKB func() (int64, error)) (maxRSSKB int64, cpu float64, err error) {
	maxRSSKB, err = peakKB()
	return maxRSSKB, (ps.UserTime() + ps.SystemTime()).Seconds(), err
}
