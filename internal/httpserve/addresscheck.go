package httpserve

import (
	"context"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"net"
	"os"
)

// CheckAddress tells, before a restart would find out, whether network
// and address can replace serving, the address the service listens on
// now: a reload can refuse a configuration whose address would not work.
// It returns nil when address matches serving (nothing would change).
//
// It checks what can be checked without disturbing the service: the
// address parses, its host resolves and its port is valid; then it binds
// the address and closes the socket at once. When address asks for
// serving's TCP port, a bind could fail because of the service's own
// socket, so only the host is tried (on a port the kernel picks): a
// conflict on that port with another process's socket shows only at the
// restart, where Listen keeps the old socket. For a unix path, an
// existing file that is not a stale socket is an error. A nil serving
// (nothing listens yet) checks address alone.
//
// A listener bound and closed in between accepts connections nobody
// serves only if a client connects to that address within that instant;
// nothing is expected there before the restart.
func CheckAddress(ctx context.Context, serving net.Addr, network, address string) error {
	c := ListenConfig{ListenConfig: httpadapter.ListenConfig{Network: network, Address: address}}
	if err := c.normalize(); err != nil {
		return err
	}
	if c.Address == "" {
		return fmt.Errorf("%w: empty address", ErrInvalidListenConfig)
	}
	if serving != nil {
		same, err := AddrMatches(serving, c.Network, c.Address)
		if err != nil {
			return err
		}
		if same {
			return nil
		}
	}
	if c.Network == "unix" {
		return checkUnixPath(c.Address)
	}
	try := c.Address // resolved by the bind
	if serving != nil && samePort(serving, c.Network, c.Address) {
		host, _, _ := net.SplitHostPort(c.Address) // normalize checked it
		try = net.JoinHostPort(host, "0")
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, c.Network, try)
	if err != nil {
		return fmt.Errorf("httpadapter: address %q: %w", c.Address, err)
	}
	return l.Close()
}

// checkUnixPath accepts a path that does not exist or is a stale socket;
// an abstract name is not checked.
func checkUnixPath(path string) error {
	if path == "" || path[0] == '@' {
		return nil
	}
	fi, err := os.Lstat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("httpadapter: address %q: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("httpadapter: address %q: exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("httpadapter: address %q: %w", path, errSocketInUse)
	}
	return nil
}
