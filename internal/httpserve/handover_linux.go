//go:build linux

package httpserve

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// checkStoredConn reports why f, a descriptor stored under a connection
// name, cannot be served: it must be a connected TCP socket (IPv4 or
// IPv6; MPTCP, which Go's listeners use where the kernel has it, counts)
// whose peer has neither closed nor reset it.
func checkStoredConn(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = checkConnFD(int(fd)) }); err != nil {
		return err
	}
	return cerr
}

// checkConnFD is checkStoredConn on the descriptor: what kind of socket
// it is, then whether it is still a live connection.
func checkConnFD(fd int) error {
	if err := checkTCPSocket(fd); err != nil {
		return err
	}
	return checkConnected(fd)
}

// checkTCPSocket reports why fd is not a TCP (or MPTCP) socket over IPv4
// or IPv6.
func checkTCPSocket(fd int) error {
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("not a socket: %w", err)
	}
	if domain != unix.AF_INET && domain != unix.AF_INET6 {
		return fmt.Errorf("socket of family %d, want IPv4 or IPv6", domain)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return err
	}
	proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil {
		return err
	}
	if typ != unix.SOCK_STREAM || proto != unix.IPPROTO_TCP && proto != unix.IPPROTO_MPTCP {
		return fmt.Errorf("socket of type %d, protocol %d: want TCP", typ, proto)
	}
	return nil
}

// checkConnected reports why fd, a TCP socket, is not a connection its
// peer still holds open: a listening socket, one never connected, one
// with a pending error, or one whose peer closed.
func checkConnected(fd int) error {
	if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc != 0 {
		return fmt.Errorf("listening socket, want a connection")
	}
	if _, err := unix.Getpeername(fd); err != nil {
		return fmt.Errorf("not connected: %w", err)
	}
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soErr != 0 {
		return fmt.Errorf("socket error: %w", unix.Errno(soErr))
	}
	// A peek that finds the end of the stream: the peer closed. Bytes
	// waiting are a request sent during the hand-over, to be served.
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	switch {
	case errors.Is(err, unix.EAGAIN):
		return nil
	case err != nil:
		return fmt.Errorf("peer gone: %w", err)
	case n == 0:
		return errors.New("peer closed the connection")
	}
	return nil
}
