package main

import (
	"os"
	"runtime/debug"
)

// isTerminal reports whether f is a character device (a terminal), the
// cheap portable test that is enough to decide whether to draw progress.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// version returns the module version sluice was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
