//go:build linux

package lifecycle

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// unsetListenEnv removes the handover variables from the process
// environment so that children do not mistake them for their own.
func unsetListenEnv() {
	for _, k := range [...]string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		_ = os.Unsetenv(k)
	}
}

// adoptFDs checks that descriptors [start, start+n) were inherited (open
// and not close-on-exec) and marks them close-on-exec. It returns how many
// passed the check before the first that did not.
func adoptFDs(start, n int) (int, error) {
	for i := 0; i < n; i++ {
		fd := start + i
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return i, fmt.Errorf("lifecycle: LISTEN_FDS=%d but descriptor %d is not open: %w", n, fd, err)
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return i, fmt.Errorf("lifecycle: LISTEN_FDS=%d but descriptor %d was not inherited (close-on-exec is set)", n, fd)
		}
	}
	for fd := start; fd < start+n; fd++ {
		unix.CloseOnExec(fd)
	}
	return n, nil
}

func closeFDRange(start, n int) {
	for fd := start; fd < start+n; fd++ {
		unix.Close(fd)
	}
}

// checkListening reports an error unless file is a socket in the
// listening state (SO_ACCEPTCONN), which net.FileListener does not check.
func checkListening(file *os.File) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var accepting int
	var sockErr error
	if err := rc.Control(func(fd uintptr) {
		accepting, sockErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	}); err != nil {
		return err
	}
	if sockErr != nil {
		return fmt.Errorf("not a socket: %w", sockErr)
	}
	if accepting == 0 {
		return fmt.Errorf("socket is not listening")
	}
	return nil
}
