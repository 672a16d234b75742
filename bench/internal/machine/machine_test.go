package machine

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name, got string
		want      *regexp.Regexp
	}{
		{"Loadavg", Loadavg(), regexp.MustCompile(`^[0-9.]+ [0-9.]+ [0-9.]+$`)},
		{"MemTotal", MemTotal(), regexp.MustCompile(`^[0-9]+ GiB memory$`)},
		{"CPUModel", CPUModel(), regexp.MustCompile(`\S`)},
	} {
		if !tc.want.MatchString(tc.got) || strings.Contains(tc.got, "\n") {
			t.Errorf("%s() = %q, want a match of %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestMeasure(t *testing.T) {
	if _, err := os.Stat(GNUTime); err != nil {
		t.Skipf("no GNU time at %s", GNUTime)
	}
	u, err := Measure([]string{"sh", "-c", "head -c 20000000 /dev/zero | tail -c 1 >/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Wall <= 0 || u.RSSKB <= 0 {
		t.Errorf("Measure = %+v, want a wall time and a peak RSS", u)
	}
	if _, err := Measure([]string{"false"}); err == nil {
		t.Error("Measure of a failing command returned no error")
	}
}

// TestProcCPU checks that ProcCPU counts this process's CPU time (a busy
// loop of 300 ms moves it by at least 100 ms) and is zero for a process
// that does not exist.
func TestProcCPU(t *testing.T) {
	before := ProcCPU(os.Getpid())
	x := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	if got := ProcCPU(os.Getpid()) - before; got < 100*time.Millisecond {
		t.Errorf("ProcCPU grew by %v over a 300 ms busy loop (%d turns), want at least 100ms", got, x)
	}
	if got := ProcCPU(1 << 30); got != 0 {
		t.Errorf("ProcCPU of no process = %v, want 0", got)
	}
}
