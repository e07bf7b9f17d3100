package httpadapter

import (
	"net"

	"golang.org/x/sys/unix"
)

// pendingInput reports whether c has received bytes nobody has read yet.
func pendingInput(c net.Conn) bool {
	n := 0
	if err := control(c, func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	}); err != nil {
		return false
	}
	return n > 0
}
