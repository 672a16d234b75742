package format

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, so
// benchmarks on a shared machine can report work done rather than wall
// time spent waiting for a core. Callers lock the goroutine to its thread.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
