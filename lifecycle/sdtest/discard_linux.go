//go:build linux

package sdtest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdlife/sdlife/lifecycle"
)

// Discard starts a notify socket that reads and drops every message
// without allocating, and returns the Environment that points at it. It is
// for benchmarks of code that notifies: the recording Manager allocates
// per message, which a benchmark's allocs/op would count. The socket is
// closed when the test or benchmark ends.
func Discard(tb testing.TB) lifecycle.Environment {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sdtest")
	if err != nil {
		tb.Fatalf("sdtest: %v", err)
	}
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		tb.Fatalf("sdtest: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, lifecycle.MaxMessageSize)
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
