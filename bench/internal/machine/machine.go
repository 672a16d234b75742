// Package machine describes the machine a benchmark runs on, from /proc,
// for the benchmarks' reports.
package machine

import (
	"fmt"
	"os"
	"runtime"
	"strings"
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
