package httpadapter

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

// quietFor returns how long c has received no data (tcpi_last_data_recv;
// for a connection that never received any, since it was established).
func quietFor(c net.Conn) (time.Duration, bool) {
	var ms uint32
	var ierr error
	if err := control(c, func(fd uintptr) {
		var info *unix.TCPInfo
		if info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); ierr == nil {
			ms = info.Last_data_recv
		}
	}); err != nil || ierr != nil {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
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
