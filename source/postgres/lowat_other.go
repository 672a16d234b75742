//go:build !unix

package postgres

// setRcvLowat does nothing where SO_RCVLOWAT is not available.
func setRcvLowat(fd uintptr, n int) {}
