//go:build linux

package postgres

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// rcvLowatOf reads SO_RCVLOWAT of c's socket.
func rcvLowatOf(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}

func TestRcvLowat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	defer server.Close()
	tcp := client.(*net.TCPConn)

	for _, c := range []net.Conn{client, tls.Client(client, &tls.Config{})} {
		l := newRcvLowat(c)
		l.set(64 << 10)
		if got := rcvLowatOf(t, tcp); got != 64<<10 {
			t.Fatalf("%T: SO_RCVLOWAT %d after set(64 KiB)", c, got)
		}
		l.set(1)
		if got := rcvLowatOf(t, tcp); got != 1 {
			t.Fatalf("%T: SO_RCVLOWAT %d after set(1)", c, got)
		}
	}

	// Bytes that arrive while the mark is high are read at once after it
	// is lowered: the read does not wait for the mark or a timeout.
	l := newRcvLowat(client)
	l.set(64 << 10)
	if _, err := server.Write([]byte("ten bytes!")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	l.set(1)
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	start := time.Now()
	n, err := client.Read(buf)
	if err != nil || n != 10 || time.Since(start) > time.Second {
		t.Fatalf("read %d bytes, %v, after %v", n, err, time.Since(start))
	}
	// Nor does a read that has to wait, once the mark is back at 1.
	go func() {
		time.Sleep(50 * time.Millisecond)
		server.Write([]byte("x"))
	}()
	if n, err := client.Read(buf); err != nil || n != 1 {
		t.Fatalf("read %d bytes, %v", n, err)
	}

	// A Unix socket gets a no-op.
	path := filepath.Join(t.TempDir(), "s")
	uln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	go func() {
		if c, err := uln.Accept(); err == nil {
			c.Close()
		}
	}()
	uc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if l := newRcvLowat(uc); l.raw != nil {
		t.Errorf("unix socket: got a socket to set")
	}
	newRcvLowat(uc).set(4096) // must not panic
}
