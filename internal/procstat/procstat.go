// Package procstat reads what Linux's /proc tells of a process that tests
// and benchmarks measure: its peak resident memory and its CPU time.
//
// The peak resident set size that wait4 reports for a child of a Go
// program (os.ProcessState.SysUsage's Maxrss) is not the child's own: Go
// starts children with vfork, and Linux carries the peak of the memory the
// child shared with its parent over the exec, so a child of a test binary
// of 200 MB "peaks" at 200 MB however little it uses. PeakRSS reads the
// process's own peak (VmHWM, reset by exec) while it still runs.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// PeakRSS returns the peak resident set size, in bytes, of the running
// process pid since it last started a program: /proc/PID/status's VmHWM.
// Read it before the process ends; a process that has ended has none.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: VmHWM %q: %w", pid, strings.TrimSpace(rest), err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM (the process has ended)", pid)
}

// CPU returns the user+system CPU time the process pid has used so far,
// with that of its children it has waited for (a PostgreSQL postmaster's
// backends that ended), or zero when /proc cannot tell.
func CPU(pid int) time.Duration {
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
