package testenv

import "net"

// Serve accepts connections on ln until it is closed, handling each in a
// goroutine of its own and closing it when handle returns: the accept
// loop of a test's own small server (an echo, a TLS peer, a proxy that
// rewrites the protocol).
func Serve(ln net.Listener, handle func(c net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}
