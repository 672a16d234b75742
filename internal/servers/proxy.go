package servers

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from a free loopback port to a target,
// and can cut every connection at once (as a flaky network or a failing
// load balancer would) or freeze them (a dead network path: the sockets
// stay open but nothing passes), or partition the network (Partition:
// frozen connections, and new ones accepted but never forwarded, until
// Heal). Tests use it to prove that sources reconnect and lose nothing,
// and that a lease holder cut off from its coordinator stops in time.
type Proxy struct {
	ln     net.Listener
	target string
	done   chan struct{}
	wg     sync.WaitGroup

	closeOnce sync.Once

	partitioned atomic.Bool

	mu     sync.Mutex
	held   []net.Conn // accepted during a partition, never forwarded
	conns  []net.Conn
	frozen []*atomic.Bool
	cuts   int
}

// StartProxy starts a proxy on a free port of 127.0.0.1 to target that cuts
// its connections every cutEvery (0: only when Cut is called). Close stops
// it.
func StartProxy(target string, cutEvery time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("servers: proxy to %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	if cutEvery > 0 {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			tk := time.NewTicker(cutEvery)
			defer tk.Stop()
			for {
				select {
				case <-p.done:
					return
				case <-tk.C:
					p.Cut()
				}
			}
		}()
	}
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.partitioned.Load() {
			p.mu.Lock()
			p.held = append(p.held, c)
			p.mu.Unlock()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close() // the server is down (a restart): the client retries
			continue
		}
		frozen := &atomic.Bool{}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.frozen = append(p.frozen, frozen)
		p.mu.Unlock()
		go p.pipe(up, c, frozen)
		go p.pipe(c, up, frozen)
	}
}

// pipe copies src to dst until either fails; once frozen it stops
// forwarding but keeps both sockets open until the proxy closes.
func (p *Proxy) pipe(dst, src net.Conn, frozen *atomic.Bool) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if frozen.Load() {
			<-p.done
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut closes every connection through the proxy. A cut that closed at
// least one open connection is counted (connections a client already
// closed do not count).
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := false
	for _, c := range p.conns {
		if c.Close() == nil {
			live = true
		}
	}
	if live {
		p.cuts++
	}
	p.conns, p.frozen = nil, nil
}

// Freeze makes every current connection silent without closing it.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
	p.conns, p.frozen = nil, nil
}

// Partition freezes every current connection and holds every new one
// silent (accepted, never forwarded), as a network partition between the
// clients and the target would, until Heal.
func (p *Proxy) Partition() {
	p.partitioned.Store(true)
	p.Freeze()
}

// Heal ends a partition: new connections are forwarded again. The
// connections frozen or held during the partition stay silent (their
// clients must give up on them, as after a real partition).
func (p *Proxy) Heal() { p.partitioned.Store(false) }

// Cuts is the number of cuts that closed an open connection.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines. Later calls do nothing.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		p.ln.Close()
		p.Cut()
		p.mu.Lock()
		for _, c := range p.held {
			c.Close()
		}
		p.held = nil
		p.mu.Unlock()
		p.wg.Wait()
	})
}
