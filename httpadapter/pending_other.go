//go:build !linux

package httpadapter

import "net"

// pendingInput cannot look into the socket buffer here; the idle grace
// alone protects clients that send on an idle connection.
func pendingInput(net.Conn) bool { return false }
