package bench

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/sdlife/sdlife/lifecycle"
)

// sink is a notify socket that discards datagrams without allocating, so
// that both libraries are measured against the same receiver and allocs/op
// counts only the sender. It sets $NOTIFY_SOCKET for go-systemd, which
// reads it on every call.
func sink(b *testing.B) lifecycle.Environment {
	b.Helper()
	dir, err := os.MkdirTemp("", "sdbench")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, lifecycle.MaxMessageSize)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	b.Setenv("NOTIFY_SOCKET", path)
	b.Cleanup(func() {
		conn.Close()
		<-done
		os.RemoveAll(dir)
	})
	return lifecycle.Environment{NotifySocket: path, PID: os.Getpid()}
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
