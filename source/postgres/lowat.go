package postgres

import (
	"net"
	"syscall"
)

// rcvLowat sets SO_RCVLOWAT on the TCP socket under a replication
// connection: while it is above the bytes waiting, the kernel does not
// wake a thread blocked in epoll for each packet the walsender sends (it
// sends one per message). The reader raises it only while it sleeps to let
// a backlog accumulate, and lowers it to 1 before any read that may block,
// so a lone change is never held back. A connection that is not TCP (a
// Unix socket) gets a no-op, and so does a system without SO_RCVLOWAT.
type rcvLowat struct {
	raw syscall.RawConn
	cur int
}

// newRcvLowat finds the TCP socket under c (through TLS).
func newRcvLowat(c net.Conn) *rcvLowat {
	for {
		switch t := c.(type) {
		case *net.TCPConn:
			raw, err := t.SyscallConn()
			if err != nil {
				return &rcvLowat{}
			}
			return &rcvLowat{raw: raw, cur: 1}
		case interface{ NetConn() net.Conn }:
			c = t.NetConn()
		default:
			return &rcvLowat{}
		}
	}
}

// set makes n bytes the socket's receive low-water mark.
func (l *rcvLowat) set(n int) {
	if l.raw == nil || n == l.cur {
		return
	}
	l.cur = n
	_ = l.raw.Control(func(fd uintptr) { setRcvLowat(fd, n) })
}
