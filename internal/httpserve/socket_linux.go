package httpserve

import (
	"net"
	"time"

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

// sendQueueEmpty reports whether the peer has acknowledged every byte
// written to c (nothing unsent or unacknowledged in its send queue).
func sendQueueEmpty(c net.Conn) bool {
	n := -1
	if err := control(c, func(fd uintptr) {
		n, _ = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	}); err != nil {
		return false
	}
	return n == 0
}

// received reports whether c has received any data, and for how long it
// has received none (tcpi_bytes_received, Linux 4.1 and later, and
// tcpi_last_data_recv).
func received(c net.Conn) (got bool, quiet time.Duration, ok bool) {
	var ierr error
	if err := control(c, func(fd uintptr) {
		var info *unix.TCPInfo
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
			got = info.Bytes_received > 0
			quiet = time.Duration(info.Last_data_recv) * time.Millisecond
		}
	}); err != nil || ierr != nil {
		return false, 0, false
	}
	return got, quiet, true
}

// bytesAcked returns how many bytes written to c the peer has
// acknowledged (tcpi_bytes_acked, Linux 4.1 and later).
func bytesAcked(c net.Conn) (uint64, bool) {
	var acked uint64
	var ierr error
	if err := control(c, func(fd uintptr) {
		var info *unix.TCPInfo
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
			acked = info.Bytes_acked
		}
	}); err != nil || ierr != nil {
		return 0, false
	}
	return acked, true
}
