// Package machine describes the machine a benchmark runs on, from /proc,
// for the benchmarks' reports.
package machine

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
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

// Measure runs args to its end, its output discarded, under GNU time
// (see UnderTime). CPU is that of the command and its waited-for children
// (GNU time's own is a millisecond).
func Measure(args []string) (Usage, error) {
	cmd := exec.Command(args[0], args[1:]...)
	peakKB, err := UnderTime(cmd)
	if err != nil {
		return Usage{}, err
	}
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	began := time.Now()
	if err := cmd.Run(); err != nil {
		peakKB()
		return Usage{}, fmt.Errorf("%v: %s", err, stderr.String())
	}
	u := Usage{Wall: time.Since(began), CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if u.RSSKB, err = peakKB(); err != nil {
		return Usage{}, err
	}
	return u, nil
}

// UnderTime makes cmd, not started yet, run under GNU time, which reports
// the peak RSS of the command alone: the Maxrss that wait4 reports for a
// child of a Go program also counts the program's own peak, because Go
// starts children with vfork and Linux carries the old memory's peak over
// an exec (a child of a 200 MB parent that runs /bin/true "peaks" at
// 200 MB). GNU time forks the command from its own small process and
// passes its standard streams, exit status and CPU time through. Call
// peakKB once cmd has ended: it returns the command's peak RSS in KiB
// (and removes GNU time's report). Signals go to GNU time, not the
// command: stop a command that must be signalled some other way, or read
// its peak with procstat.PeakRSS while it runs.
func UnderTime(cmd *exec.Cmd) (peakKB func() (int64, error), err error) {
	f, err := os.CreateTemp("", "bench-rss")
	if err != nil {
		return nil, err
	}
	f.Close()
	name := f.Name()
	cmd.Args = append([]string{GNUTime, "-f", "%M", "-o", name, "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = GNUTime
	return func() (int64, error) {
		defer os.Remove(name)
		b, err := os.ReadFile(name)
		if err != nil {
			return 0, err
		}
		var kb int64
		if _, err := fmt.Sscan(string(b), &kb); err != nil {
			return 0, fmt.Errorf("peak RSS from %s: %q: %v", GNUTime, b, err)
		}
		return kb, nil
	}, nil
}

// TimedPID returns the process id of the command that cmd, started after
// UnderTime, runs under GNU time (GNU time's only child), for signals and
// /proc: GNU time itself ignores SIGINT and SIGQUIT while it waits.
func TimedPID(cmd *exec.Cmd) (int, error) {
	pid := cmd.Process.Pid
	for range 100 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			return 0, err
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			var child int
			if _, err := fmt.Sscan(f[0], &child); err != nil {
				return 0, err
			}
			return child, nil
		}
		time.Sleep(10 * time.Millisecond) // not forked yet
	}
	return 0, fmt.Errorf("%s (pid %d) started no command", GNUTime, pid)
}
