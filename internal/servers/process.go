package servers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a server gets to shut down after SIGTERM before
// its whole process group is killed.
const stopTimeout = 30 * time.Second

// MissingBinaryError reports that a server or client program is not
// installed. Package names the Debian package that provides it.
type MissingBinaryError struct {
	Program string // e.g. "mariadbd"
	Package string // e.g. "mariadb-server"
}

func (e *MissingBinaryError) Error() string {
	return fmt.Sprintf("servers: %s not found: install the Debian package %s "+
		"(apt-get install -y %s) or run scripts/deps.sh", e.Program, e.Package, e.Package)
}

// lookBinary finds program in PATH or in the given extra directories (the
// sbin directories are often missing from PATH).
func lookBinary(program, pkg string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, d := range append(dirs, "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin") {
		p := filepath.Join(d, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &MissingBinaryError{Program: program, Package: pkg}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another process
// may take it before the server binds, so starters retry on "address in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("servers: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// procSpec describes one server process.
type procSpec struct {
	name string   // short name used in errors, e.g. "mariadbd"
	path string   // program
	args []string // arguments
	dir  string   // working directory
	env  []string // extra environment (added to os.Environ())
	log  string   // file receiving stdout and stderr
	cred *syscall.Credential
}

// process is a running server in its own process group. The group is killed
// when the process that started it dies (Pdeathsig) and by stop.
type process struct {
	spec procSpec
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid after done is closed
}

// startProcess starts spec in its own process group.
func startProcess(spec procSpec) (*process, error) {
	logf, err := os.OpenFile(spec.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("servers: %s: open log: %w", spec.name, err)
	}
	if spec.cred != nil {
		// The log must be writable by the server's own user too, for servers
		// that reopen it themselves.
		_ = os.Chown(spec.log, int(spec.cred.Uid), int(spec.cred.Gid))
	}
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: spec.cred,
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("servers: start %s: %w", spec.name, err)
	}
	p := &process{spec: spec, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the process group.
func (p *process) signalGroup(sig syscall.Signal) {
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// stop asks the server to shut down with SIGTERM and waits; after timeout, or
// when ctx ends, it kills the whole group. Leftover children in the group are
// always killed.
func (p *process) stop(ctx context.Context, timeout time.Duration) error {
	defer p.signalGroup(syscall.SIGKILL)
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	p.signalGroup(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("servers: %s did not stop within %s and was killed", p.spec.name, timeout)
}

// kill ends the whole group with SIGKILL at once and waits for the leader.
func (p *process) kill() {
	p.signalGroup(syscall.SIGKILL)
	<-p.done
}

// logTail returns the last lines of the process log, for error messages.
func (p *process) logTail() string {
	return fileTail(p.spec.log, 30)
}

// fileTail returns the last n lines of a file, or a note that it cannot be read.
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// waitReady polls ready every interval until it returns nil, the process
// exits, or ctx ends.
func waitReady(ctx context.Context, p *process, ready func(context.Context) error) error {
	const interval = 50 * time.Millisecond
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("servers: %s exited during start-up (%v); log %s:\n%s",
				p.spec.name, p.err, p.spec.log, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("servers: %s not ready: %w (last check: %v); log %s:\n%s",
				p.spec.name, ctx.Err(), last, p.spec.log, p.logTail())
		case <-time.After(interval):
		}
	}
}

// addrInUse reports whether a failed start was caused by a port taken by
// someone else between freePort and the server's bind.
func addrInUse(err error) bool {
	if err == nil {
		return false
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "address already in use") || strings.Contains(s, "address in use")
}

// startWithPort picks a free port and calls start with it, retrying a few
// times when the port was taken meanwhile.
func startWithPort(start func(port int) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var port int
		port, err = freePort()
		if err != nil {
			return err
		}
		err = start(port)
		if !addrInUse(err) {
			return err
		}
	}
	return err
}

// hostPort formats 127.0.0.1:port.
func hostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// onceErr runs a close function once and remembers its error.
type onceErr struct {
	once sync.Once
	err  error
}

func (o *onceErr) do(f func() error) error {
	o.once.Do(func() { o.err = f() })
	return o.err
}
