package machine

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
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

// TestUnderTime runs a command under GNU time while this process holds
// 96 MB: the command's peak must be its own (a few MB, where wait4's
// Maxrss would say 96 MB or more), its output must pass through, and
// TimedPID must find it for a signal.
func TestUnderTime(t *testing.T) {
	if _, err := os.Stat(GNUTime); err != nil {
		t.Skipf("no GNU time at %s", GNUTime)
	}
	ballast := make([]byte, 96<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	cmd := exec.Command("sh", "-c", "echo hello")
	peakKB, err := UnderTime(cmd)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil || string(out) != "hello\n" {
		t.Fatalf("output %q, %v; want hello", out, err)
	}
	kb, err := peakKB()
	if err != nil || kb <= 0 || kb > 16<<10 {
		t.Errorf("peak %d KiB, %v; want more than 0 and under 16 MiB", kb, err)
	}

	cmd = exec.Command("sleep", "30")
	peakKB, err = UnderTime(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid, err := TimedPID(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	cmd.Wait()
	if time.Since(began) > 10*time.Second {
		t.Error("sleep did not end on the SIGTERM sent to TimedPID's process")
	}
	peakKB()
	_ = ballast[len(ballast)-1]
}
