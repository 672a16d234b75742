//go:build !linux

package format

import "time"

// threadCPU is not available outside Linux.
func threadCPU() (time.Duration, bool) { return 0, false }
