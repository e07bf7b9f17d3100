//go:build !linux

package httpserve

import "net"

// somaxconn is not read outside Linux: the default is MaxDefaultBacklog.
func somaxconn() (int, bool) { return 0, false }

// relisten leaves the backlog Go chose outside Linux.
func relisten(net.Listener, int) error { return nil }
