package bench

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/sdlife/sdlife/lifecycle"
)

// sink is the same receiver for both libraries: it drops datagrams
// without allocating, so allocs/op counts only the sender. go-systemd
// reads $NOTIFY_SOCKET on every call.
func sink(b *testing.B) lifecycle.Environment {
	env := discard(b)
	b.Setenv("NOTIFY_SOCKET", env.NotifySocket)
	return env
}

const status = "Serving: 123456 requests, 3 in flight, 812 req/s"

var messages = []struct {
	name   string
	state  string
	sdlife func(*lifecycle.Notifier) (bool, error)
}{
	{"READY", "READY=1", (*lifecycle.Notifier).Ready},
	{"WATCHDOG", "WATCHDOG=1", (*lifecycle.Notifier).Watchdog},
	{"STATUS", "STATUS=" + status, func(n *lifecycle.Notifier) (bool, error) { return n.Status(status) }},
}

func BenchmarkNotify(b *testing.B) {
	for _, m := range messages {
		b.Run(m.name+"/lib=sdlife", func(b *testing.B) {
			n, err := lifecycle.NewNotifier(sink(b))
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			b.ReportAllocs()
			for b.Loop() {
				if sent, err := m.sdlife(n); !sent || err != nil {
					b.Fatal(sent, err)
				}
			}
		})
		b.Run(m.name+"/lib=go-systemd", func(b *testing.B) {
			sink(b)
			b.ReportAllocs()
			for b.Loop() {
				if sent, err := daemon.SdNotify(false, m.state); !sent || err != nil {
					b.Fatal(sent, err)
				}
			}
		})
	}
}

// discard starts a notify socket that reads and drops every message
// without allocating, and returns the Environment that points at it: the
// recording sdtest.Manager allocates per message, which allocs/op would
// count. The socket is closed when the test or benchmark ends.
func discard(tb testing.TB) lifecycle.Environment {
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
