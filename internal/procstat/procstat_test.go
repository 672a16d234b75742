package procstat

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPeakRSS checks that PeakRSS reads a child's own peak, not its
// parent's: this test process holds 96 MB, touched, while it starts a
// sleep, whose peak must stay far below that (while wait4's Maxrss of the
// same child counts the parent's 96 MB); and that a process that has
// ended has no peak.
func TestPeakRSS(t *testing.T) {
	ballast := make([]byte, 96<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	peak, err := PeakRSS(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if peak <= 0 || peak > 16<<20 {
		t.Errorf("PeakRSS of sleep = %d bytes, want more than 0 and under 16 MB", peak)
	}
	own, err := PeakRSS(os.Getpid())
	if err != nil || own < 96<<20 {
		t.Errorf("PeakRSS of this process = %d, %v; want at least the 96 MB it touched", own, err)
	}
	if _, err := PeakRSS(cmd.Process.Pid); err == nil {
		t.Error("PeakRSS of an ended process returned no error")
	}
	_ = ballast[len(ballast)-1]
}

// TestCPU checks that CPU counts this process's CPU time (a busy loop
// moves it by 100 ms within 10 s of wall time, however loaded the machine
// is) and is zero for a process that does not exist.
func TestCPU(t *testing.T) {
	before := CPU(os.Getpid())
	x := 0
	for end := time.Now().Add(10 * time.Second); CPU(os.Getpid())-before < 100*time.Millisecond; x++ {
		if time.Now().After(end) {
			t.Fatalf("CPU grew by %v over 10 s of a busy loop (%d turns), want 100ms", CPU(os.Getpid())-before, x)
		}
		for i := 0; i < 100000; i++ {
			x += i & 1
		}
	}
	if got := CPU(1 << 30); got != 0 {
		t.Errorf("CPU of no process = %v, want 0", got)
	}
}
