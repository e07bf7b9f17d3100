//go:build linux

// Package notifysink is a notify socket that drops what it receives, for
// benchmarks that measure only the sender.
package notifysink

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdlife/sdlife/lifecycle"
)

// Listen starts a notify socket that reads and drops every message
// without allocating, and returns the Environment that points at it: the
// recording sdtest.Manager allocates per message, which allocs/op would
// count. The socket is closed when the test or benchmark ends.
func Listen(tb testing.TB) lifecycle.Environment {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sdtest") // short: sun_path holds 107 bytes
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				return // closed
			}
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
		os.RemoveAll(dir)
	})
	return lifecycle.Environment{NotifySocket: path, PID: os.Getpid()}
}
