package servers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashHelperEnv makes TestCrashHelper start a server and panic.
const crashHelperEnv = "SLUICE_SERVERS_CRASH_HELPER"

// TestCrashHelper is not a test of its own: TestServerDiesWithTestBinary
// runs it in a child process, where it starts Redis, reports it and panics
// as a failing test might.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) == "" {
		t.Skip("helper process for TestServerDiesWithTestBinary")
	}
	s, err := StartRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("server %d %s %s\n", s.PID(), s.Addr(), s.Dir())
	os.Stdout.Sync()
	panic("crash helper: dying with a server running")
}

// TestServerDiesWithTestBinary checks that a server does not outlive a test
// binary that panics without running its cleanups, and that the directory
// it leaves is swept.
func TestServerDiesWithTestBinary(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "" {
		t.Skip("inside the helper")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), crashHelperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var addr, dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "server ") {
			if _, err := fmt.Sscanf(sc.Text(), "server %d %s %s", &pid, &addr, &dir); err != nil {
				t.Fatalf("helper said %q: %v", sc.Text(), err)
			}
		}
	}
	werr := cmd.Wait()
	if pid == 0 {
		t.Fatalf("helper did not start a server (exit: %v)", werr)
	}
	var exitErr *exec.ExitError
	if !errors.As(werr, &exitErr) {
		t.Fatalf("helper should have died of its panic, got %v", werr)
	}

	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("server %d outlived the test binary", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", addr)
	}

	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the dead helper's directory should still be there to sweep: %v", err)
	}
	sweepStale(filepath.Dir(dir), 0)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sweep left %s (stat: %v)", dir, err)
	}
}

// TestSweepKeepsLiveDirectories checks that a directory whose owner is alive
// is never swept.
func TestSweepKeepsLiveDirectories(t *testing.T) {
	d, err := newServerDir("sweeptest")
	if err != nil {
		t.Fatal(err)
	}
	defer d.release()
	sweepStale(filepath.Dir(d.path), 0)
	if _, err := os.Stat(d.path); err != nil {
		t.Errorf("sweep removed a live directory: %v", err)
	}
}
