//go:build unix

package main

import (
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// devIno returns the device and inode numbers of the file under w, when
// w has a descriptor.
func devIno(w io.Writer) (dev, ino uint64, ok bool) {
	sc, isConn := w.(syscall.Conn)
	if !isConn {
		return 0, 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true //nolint:unconvert // the types differ per platform
}
