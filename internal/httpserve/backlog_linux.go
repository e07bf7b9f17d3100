package httpserve

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// somaxconnPath is where the kernel's backlog limit is read; tests point
// it elsewhere.
var somaxconnPath = "/proc/sys/net/core/somaxconn"

// somaxconn reads net.core.somaxconn; ok is false when it cannot be read
// (ProcSubset=pid hides it).
func somaxconn() (n int, ok bool) {
	b, err := os.ReadFile(somaxconnPath)
	if err != nil {
		return 0, false
	}
	n, err = strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil && n > 0
}

// relisten calls listen(2) on l's socket with backlog.
func relisten(l net.Listener, backlog int) error {
	sc, ok := l.(syscall.Conn)
	if !ok {
		return errors.New("no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	return lerr
}
