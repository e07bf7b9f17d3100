package httpadapter

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// pendingInput reports whether c has received bytes nobody has read yet.
// It uses Control, which takes no read lock, because net/http's
// connection goroutine is blocked in Read on c at the same time.
func pendingInput(c net.Conn) bool {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		c = nc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	n := 0
	if err := rc.Control(func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	}); err != nil {
		return false
	}
	return n > 0
}
