package bench

import (
	"github.com/sdlife/sdlife/internal/notifysink"
	"testing"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/sdlife/sdlife/lifecycle"
)

// sink is the same receiver for both libraries: it drops datagrams
// without allocating, so allocs/op counts only the sender. go-systemd
// reads $NOTIFY_SOCKET on every call.
func sink(b *testing.B) lifecycle.Environment {
	env := notifysink.Listen(b)
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
