package servers

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// defaultStartTimeout bounds Start when its context has no deadline.
const defaultStartTimeout = 2 * time.Minute

// Server is what every server of this package has: a process listening on
// a port of 127.0.0.1 and a private directory. It is embedded in MariaDB, Postgres,
// Redis, NATS and FerretDB. Stop, Start, Kill and Close must not be called
// concurrently with each other.
type Server struct {
	name string
	dir  *serverDir
	port int

	spec      func() procSpec                 // how to run the server
	ready     func(ctx context.Context) error // nil once it serves
	afterStop func()                          // closes pools, may be nil

	mu   sync.Mutex
	proc *process

	closed onceErr
}

// Addr is the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return hostPort(s.port) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the server's private directory (data, sockets, configuration and
// logs), removed by Close.
func (s *Server) Dir() string { return s.dir.path }

// LogFile is the file receiving the server's standard output and error.
func (s *Server) LogFile() string { return s.dir.join(s.name + ".out") }

// PID is the process id of the running server (its process group id too),
// or 0 when it is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.exited() {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.exited()
}

// Start starts the server and waits until it serves. The Start functions
// call it; call it again after Stop or Kill to restart the server with its
// data and address.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("servers: %s at %s is already running", s.name, s.Addr())
	}
	spec := s.spec()
	spec.name = s.name
	spec.log = s.LogFile()
	if spec.dir == "" {
		spec.dir = s.dir.path
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	p, err := startProcess(spec)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, p, s.ready); err != nil {
		p.kill()
		return err
	}
	s.proc = p
	return nil
}

// Stop shuts the server down cleanly (SIGTERM, then SIGKILL after 30s),
// keeping its directory.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.afterStop != nil {
		defer s.afterStop()
	}
	if s.proc == nil {
		return nil
	}
	err := s.proc.stop(ctx, stopTimeout)
	s.proc = nil
	return err
}

// Kill ends the server and its children with SIGKILL, as a crash would.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.afterStop != nil {
		defer s.afterStop()
	}
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Close stops the server and removes its directory. Later calls return the
// first call's result.
func (s *Server) Close() error {
	return s.closed.do(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		stopErr := s.Stop(ctx)
		relErr := s.dir.release()
		if stopErr != nil {
			return stopErr
		}
		return relErr
	})
}

// launch picks a free port, lets configure prepare the server for it
// (configuration files naming the port), and starts the server, retrying
// with another port when the chosen one was taken meanwhile. On failure the
// directory is released.
func (s *Server) launch(ctx context.Context, configure func(port int) error) error {
	err := startWithPort(func(port int) error {
		s.port = port
		if configure != nil {
			if err := configure(port); err != nil {
				return err
			}
		}
		return s.Start(ctx)
	})
	if err != nil {
		s.dir.release()
		return err
	}
	return nil
}
