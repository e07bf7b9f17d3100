//go:build !linux

package httpserve

import (
	"net"
	"time"
)

// pendingInput cannot look into the socket buffer here; the idle grace
// alone protects clients that send on an idle connection.
func pendingInput(net.Conn) bool { return false }

// sendQueueEmpty cannot tell here: HTTP/2 connections close on net/http's
// own GOAWAY timeout.
func sendQueueEmpty(net.Conn) bool { return false }

// received cannot tell here: every connection without a complete request
// header is given IdleGrace.
func received(net.Conn) (got bool, quiet time.Duration, ok bool) { return false, 0, false }

// bytesAcked cannot tell here.
func bytesAcked(net.Conn) (uint64, bool) { return 0, false }
