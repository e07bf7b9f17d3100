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

// adoptFDs checks that descriptors [start, start+n) are open and marks
// them close-on-exec.
func adoptFDs(start, n int) error {
	for fd := start; fd < start+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("lifecycle: LISTEN_FDS=%d but descriptor %d is not open: %w", n, fd, err)
		}
		unix.CloseOnExec(fd)
	}
	return nil
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
