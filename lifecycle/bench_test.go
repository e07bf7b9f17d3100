//go:build linux

package lifecycle_test

import (
	"github.com/sdlife/sdlife/internal/notifysink"
	"strconv"
	"testing"

	"github.com/sdlife/sdlife/lifecycle"
)

// discard must keep draining: unread, a datagram socket's queue fills
// after a few hundred messages and sends start to time out.
func TestDiscardDrains(t *testing.T) {
	n, err := lifecycle.NewNotifier(notifysink.Listen(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for i := range 5000 {
		if _, err := n.Watchdog(); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func benchNotifier(b *testing.B) *lifecycle.Notifier {
	n, err := lifecycle.NewNotifier(notifysink.Listen(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Close() })
	return n
}

func BenchmarkNotifyReady(b *testing.B) {
	n := benchNotifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Ready(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNotifyWatchdog(b *testing.B) {
	n := benchNotifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Watchdog(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNotifyStopping(b *testing.B) {
	n := benchNotifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Stopping(); err != nil {
			b.Fatal(err)
		}
	}
}

// statusTexts are built up front: the benchmark measures sending a
// changing STATUS, not formatting it.
func statusTexts() []string {
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = "Serving: " + strconv.Itoa(1000+i) + " requests, 3 in flight, 812 req/s"
	}
	return texts
}

func BenchmarkNotifyStatus(b *testing.B) {
	n := benchNotifier(b)
	texts := statusTexts()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := n.Status(texts[i%len(texts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkNotifyStatusParallel(b *testing.B) {
	n := benchNotifier(b)
	texts := statusTexts()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := n.Status(texts[i%len(texts)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkNotifyReloading(b *testing.B) {
	n := benchNotifier(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Reloading(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNotifyUnsupervised(b *testing.B) {
	n, _ := lifecycle.NewNotifier(lifecycle.Environment{})
	b.ReportAllocs()
	for b.Loop() {
		n.Ready()
	}
}
