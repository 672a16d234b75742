package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// SetupTimeout bounds the setup function given to RunMain.
const SetupTimeout = 5 * time.Minute

// Cleanup collects teardown functions and runs them in reverse order of
// registration. The zero value is ready to use; it is safe for concurrent
// use.
type Cleanup struct {
	mu  sync.Mutex
	fns []func()
}

// Add registers fn to run at Run.
func (c *Cleanup) Add(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, fn)
}

// Run calls the registered functions, last first, and forgets them.
func (c *Cleanup) Run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// RunMain is the body of a TestMain that shares servers across a test
// package. It calls setup, runs the tests, runs every function setup
// registered on the Cleanup (also when setup fails or a test fails) and then
// exits the process with the tests' exit code. It never returns. A nil
// setup only runs the tests.
//
// A missing server binary is reported by setup's error, which names the
// Debian package to install; the package's tests then fail (they are never
// skipped, in CI or outside it).
//
// If the test binary dies without reaching the cleanup (a panic in a test,
// a -timeout, a signal), the servers are killed by the kernel (each is
// started with a parent-death signal) and their directories are swept by the
// next testenv user.
func RunMain(m *testing.M, setup func(ctx context.Context, c *Cleanup) error) {
	os.Exit(runMain(m, setup))
}

func runMain(m *testing.M, setup func(ctx context.Context, c *Cleanup) error) int {
	var c Cleanup
	defer c.Run()
	if setup == nil {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), SetupTimeout)
	err := setup(ctx, &c)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: testenv setup: %v\n", err)
		return 1
	}
	return m.Run()
}
