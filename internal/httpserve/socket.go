package httpserve

import (
	"errors"
	"net"
	"syscall"
)

// The socket queries of the drain (pending input, the send queue, what
// the peer acknowledged) are in socket_linux.go, with stubs in
// socket_other.go; they reach the descriptor through control.

// errNoDescriptor: the connection has no descriptor to reach.
var errNoDescriptor = errors.New("httpadapter: connection has no descriptor")

// control runs fn on the descriptor under c (unwrapping *tls.Conn and
// parkConn) through Control, which takes no read lock: net/http's
// connection goroutine may be blocked in Read on c at the same time.
func control(c net.Conn, fn func(fd uintptr)) error {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errNoDescriptor
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(fn)
}
