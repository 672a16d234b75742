// Package machine describes the machine a benchmark runs on, from /proc,
// for the benchmarks' reports.
package machine

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Loadavg returns the 1, 5 and 15 minute load averages as "a b c", or "?"
// where /proc/loadavg cannot be read.
func Loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// CPUModel returns the CPU's model name, or the architecture where
// /proc/cpuinfo does not name it.
func CPUModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// MemTotal returns the machine's memory as "N GiB memory".
func MemTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			var kb int64
			fmt.Sscanf(strings.TrimPrefix(l, "MemTotal:"), "%d", &kb)
			return fmt.Sprintf("%.0f GiB memory", float64(kb)/(1<<20))
		}
	}
	return "? memory"
}

// GNUTime is the path of GNU time, which Measure runs commands under.
const GNUTime = "/usr/bin/time"

// Usage is what Measure measured of one command.
type Usage struct {
	Wall, CPU time.Duration
	// RSSKB is the command's peak resident set size in KiB.
	RSSKB int64
}

// Measure runs args to its end, its output discarded, under GNU time,
// which reports the peak RSS of the command alone: the Maxrss that wait4
// reports for a child of a Go program also counts the program's own peak,
// because Go starts children with vfork and Linux carries the old
// memory's peak over an exec (a child of a 200 MB parent that runs
// /bin/true "peaks" at 200 MB). GNU time forks the command from its own
// small process. CPU is that of the command and its waited-for children
// (GNU time's own is a millisecond).
func Measure(args []string) (Usage, error) {
	rssFile, err := os.CreateTemp("", "bench-rss")
	if err != nil {
		return Usage{}, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	cmd := exec.Command(GNUTime, append([]string{"-f", "%M", "-o", rssFile.Name(), "--"}, args...)...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		return Usage{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	u := Usage{Wall: time.Since(began), CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	b, err := os.ReadFile(rssFile.Name())
	if err != nil {
		return Usage{}, err
	}
	if _, err := fmt.Sscan(string(b), &u.RSSKB); err != nil {
		return Usage{}, fmt.Errorf("peak RSS from %s: %q: %v", GNUTime, b, err)
	}
	return u, nil
}

// ProcCPU returns the user+system CPU time the process pid has used so
// far, with that of its children it has waited for (a PostgreSQL
// postmaster's backends that ended), or zero when /proc cannot tell.
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (which may hold spaces) in parentheses:
	// utime, stime, cutime and cstime are the 14th to 17th fields of the
	// line, in clock ticks.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 15 {
		return 0
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, _ := strconv.ParseInt(s, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}
