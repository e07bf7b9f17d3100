package httpserve

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// bind creates a listening socket; for a unix path it first removes a
// stale socket file (see listenOn).
func bind(network, address string) (net.Listener, error) {
	l, err := listenOn(network, address)
	if err != nil {
		return nil, fmt.Errorf("httpadapter: listen: %w", err)
	}
	return l, nil
}

// listenOn is bind without the package prefix on its error, for a reason
// that goes into a sentence of Listen's own (see ListenResult.Notice).
//
// Binding a unix path that exists fails, and a service killed without
// cleanup leaves its socket file behind. listenOn removes the file only
// when it is a socket and a connection attempt is refused (nobody
// listens); a regular file or a live socket is an error. Another process
// could bind the path between the check and the removal; services that
// can race for a path need a lock of their own. When the listener is
// stored, closing it does not remove the path, which the stored socket
// still serves (see store). A replaced unix listener's old path is removed
// the same way, when stale (see drop).
func listenOn(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err == nil {
		return l, nil
	}
	if network != "unix" || strings.HasPrefix(address, "@") || !errors.Is(err, syscall.EADDRINUSE) {
		return nil, err
	}
	if rerr := removeStaleSocket(address); rerr != nil {
		return nil, fmt.Errorf("%w (%w)", err, rerr)
	}
	return net.Listen(network, address)
}

// errSocketInUse: the path is a socket somebody listens on.
var errSocketInUse = errors.New("another process listens on it")

// removeStaleSocket removes path if it is a socket that refuses
// connections.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s is not a socket; not removing it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return errSocketInUse
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether %s is stale: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
