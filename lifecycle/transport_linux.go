//go:build linux

package lifecycle

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const platformSupported = true

// sendTimeout bounds how long a send may block on a manager that does not
// read its socket (SO_SNDTIMEO), and how long a stream-type vsock send
// waits for the manager to close its end.
const sendTimeout = 2 * time.Second

// transport holds the connected datagram socket. It is not safe for
// concurrent use; the Notifier serializes access.
type transport struct {
	fd int // connected datagram socket, or -1
}

func newTransport() transport { return transport{fd: -1} }

func (t *transport) close() error {
	if t.fd < 0 {
		return nil
	}
	err := unix.Close(t.fd)
	t.fd = -1
	if err != nil {
		return fmt.Errorf("lifecycle: close notify socket: %w", err)
	}
	return nil
}

// send delivers one message. A datagram socket stays connected across
// calls. When the manager has replaced its socket (daemon-reexec), the old
// peer is gone and the kernel reports ECONNREFUSED (or ENOENT/ENOTCONN
// while the new one is being created), so the socket is dialled again and
// the send retried once. Stream and seqpacket sockets (vsock only) carry
// one message per connection, as libsystemd does it.
func (t *transport) send(a address, msg []byte, fds []int) error {
	if t.fd < 0 {
		fd, sotype, err := dial(a)
		if err != nil {
			return err
		}
		if sotype != unix.SOCK_DGRAM {
			return sendOnConnection(fd, a, msg, fds)
		}
		t.fd = fd
	}
	err := writeMsg(t.fd, msg, fds)
	if err != nil && reconnectable(err) {
		_ = t.close()
		fd, _, derr := dial(a)
		if derr != nil {
			return derr
		}
		t.fd = fd
		err = writeMsg(t.fd, msg, fds)
	}
	if err != nil {
		err = fmt.Errorf("lifecycle: send to %s: %w", a, err)
		if reconnectable(err) {
			// Reconnected, and the new peer went away too.
			err = unreachable(err)
		}
		return err
	}
	return nil
}

// reconnectable reports whether a send error means the peer socket went
// away and a fresh connect may reach its replacement.
func reconnectable(err error) bool {
	return errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, unix.ENOTCONN) ||
		errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPIPE) ||
		errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EDESTADDRREQ)
}

// dial opens a socket to a, returning it with its type. For "vsock:"
// addresses a datagram socket is tried first and seqpacket used where the
// transport has no datagram support.
func dial(a address) (fd, sotype int, err error) {
	switch a.kind {
	case kindUnix:
		fd, err = dialType(unix.AF_UNIX, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: a.path})
		return fd, unix.SOCK_DGRAM, wrapDial(a, err)
	case kindVsock:
		sa := &unix.SockaddrVM{CID: a.cid, Port: a.port}
		switch a.typ {
		case typeDgram:
			sotype = unix.SOCK_DGRAM
		case typeSeqpacket:
			sotype = unix.SOCK_SEQPACKET
		case typeStream:
			sotype = unix.SOCK_STREAM
		default:
			fd, err = dialType(unix.AF_VSOCK, unix.SOCK_DGRAM, sa)
			if err == nil || !unsupportedType(err) {
				return fd, unix.SOCK_DGRAM, wrapDial(a, err)
			}
			sotype = unix.SOCK_SEQPACKET
		}
		fd, err = dialType(unix.AF_VSOCK, sotype, sa)
		return fd, sotype, wrapDial(a, err)
	}
	return -1, 0, fmt.Errorf("lifecycle: dial notify socket: unknown address kind %d", a.kind)
}

// wrapDial marks every dial failure ErrUnreachable: whatever the cause
// (no such path, nobody listening, permission), no message gets through.
func wrapDial(a address, err error) error {
	if err != nil {
		return unreachable(fmt.Errorf("lifecycle: dial notify socket %s: %w", a, err))
	}
	return nil
}

func unsupportedType(err error) bool {
	return errors.Is(err, unix.EPROTOTYPE) || errors.Is(err, unix.ESOCKTNOSUPPORT) ||
		errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP)
}

// dialType creates a close-on-exec socket with a send timeout and connects
// it. The socket is closed again if any step fails.
func dialType(family, sotype int, sa unix.Sockaddr) (int, error) {
	fd, err := unix.Socket(family, sotype|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	tv := unix.NsecToTimeval(sendTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// writeMsg sends msg, with fds as SCM_RIGHTS when there are any. Messages
// without descriptors use write(2), which does not allocate.
func writeMsg(fd int, msg []byte, fds []int) error {
	for {
		var err error
		if len(fds) == 0 {
			_, err = unix.Write(fd, msg)
		} else {
			err = unix.Sendmsg(fd, msg, unix.UnixRights(fds...), nil, unix.MSG_NOSIGNAL)
		}
		if err != unix.EINTR {
			return err
		}
	}
}

// sendOnConnection sends one message on a connected stream or seqpacket
// socket, shuts down the write side and waits until the manager closes its
// end, so that the message has been read before we return. It closes fd.
func sendOnConnection(fd int, a address, msg []byte, fds []int) error {
	defer unix.Close(fd)
	oob := []byte(nil)
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for len(msg) > 0 {
		n, err := unix.SendmsgN(fd, msg, oob, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("lifecycle: send to %s: %w", a, err)
		}
		msg, oob = msg[n:], nil // descriptors travel with the first byte only
	}
	if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
		return fmt.Errorf("lifecycle: send to %s: shutdown: %w", a, err)
	}
	if err := waitHangup(fd, sendTimeout); err != nil {
		return fmt.Errorf("lifecycle: send to %s: wait for manager: %w", a, err)
	}
	return nil
}

// waitHangup polls fd until the peer closes it, draining anything it sends.
func waitHangup(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var scratch [64]byte
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return unix.ETIMEDOUT
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		r, err := unix.Read(fd, scratch[:])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil || r == 0 {
			return nil // EOF or reset: the manager is done with it
		}
	}
}

// monotonicUsec returns CLOCK_MONOTONIC in microseconds, the clock
// MONOTONIC_USEC= is defined on.
func monotonicUsec() (uint64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("lifecycle: read CLOCK_MONOTONIC: %w", err)
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3, nil
}

// dupAll duplicates the descriptor behind each file, close-on-exec, via
// SyscallConn().Control, which, unlike (*os.File).Fd, leaves the original
// in non-blocking mode. On error the duplicates made so far are returned
// for the caller to close.
func dupAll(files []syscall.Conn) ([]int, error) {
	fds := make([]int, 0, len(files))
	for i, f := range files {
		fd, err := dupConn(f)
		if err != nil {
			return fds, fmt.Errorf("lifecycle: descriptor %d: %w", i, err)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func dupConn(c syscall.Conn) (int, error) {
	if c == nil {
		return -1, errors.New("nil file")
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	dup := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, fmt.Errorf("dup: %w", dupErr)
	}
	return dup, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
