package testenv

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoLines starts a server that sends every line back, closed when the
// test ends.
func echoLines(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	Serve(ln, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			c.Write([]byte(line))
		}
	})
	return ln
}

// TestProxy forwards through the proxy to a line echo server, cuts, and
// freezes.
func TestProxy(t *testing.T) {
	ln := echoLines(t)
	p := NewProxy(t, ln.Addr().String(), 0)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	echo := func(c net.Conn, r *bufio.Reader) error {
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_, err := r.ReadString('\n')
		return err
	}
	c, r := dial()
	if err := echo(c, r); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := echo(c, r); err == nil {
		t.Fatal("the connection still works after Cut")
	}
	if p.Cuts() != 1 {
		t.Fatalf("Cuts() = %d, want 1", p.Cuts())
	}
	p.Cut() // nothing open: not counted
	if p.Cuts() != 1 {
		t.Fatalf("an empty cut was counted: %d", p.Cuts())
	}
	c, r = dial()
	if err := echo(c, r); err != nil {
		t.Fatalf("a new connection after the cut: %v", err)
	}
	p.Freeze()
	if err := echo(c, r); err == nil {
		t.Fatal("a frozen connection still answers")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("a frozen connection should time out, not fail: %v", err)
	}
}

// TestProxyPartition: during a partition old and new connections are
// silent; after Heal new ones pass again.
func TestProxyPartition(t *testing.T) {
	ln := echoLines(t)
	p := NewProxy(t, ln.Addr().String(), 0)
	echo := func() error {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	if err := echo(); err != nil {
		t.Fatalf("before the partition: %v", err)
	}
	p.Partition()
	if err := echo(); err == nil {
		t.Fatal("a new connection answers during the partition")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("a partitioned connection should time out, not fail: %v", err)
	}
	p.Heal()
	if err := echo(); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
}
