//go:build unix

package postgres

import "syscall"

// setRcvLowat sets SO_RCVLOWAT on the socket fd; an error leaves the old
// mark, which costs wake-ups, not correctness.
func setRcvLowat(fd uintptr, n int) {
	_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}
