package lifecycle_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sdlife/sdlife/lifecycle"
)

// sink is a notify socket that reads and discards datagrams without
// allocating, so that allocs/op counts only the sender.
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
	b.Cleanup(func() {
		conn.Close()
		<-done
		os.RemoveAll(dir)
	})
	return lifecycle.Environment{NotifySocket: path, PID: os.Getpid()}
}

func benchNotifier(b *testing.B) *lifecycle.Notifier {
	n, err := lifecycle.NewNotifier(sink(b))
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
