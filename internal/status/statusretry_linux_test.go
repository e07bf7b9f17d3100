package status

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

func TestRetryBackoff(t *testing.T) {
	tests := []struct {
		name     string
		prev     time.Duration
		interval time.Duration
		want     time.Duration
	}{
		{name: "first failure", prev: 0, interval: time.Second, want: time.Second},
		{name: "doubles", prev: time.Second, interval: time.Second, want: 2 * time.Second},
		{name: "doubles again", prev: 16 * time.Second, interval: time.Second, want: 32 * time.Second},
		{name: "up to a minute", prev: 32 * time.Second, interval: time.Second, want: time.Minute},
		{name: "stays at a minute", prev: time.Minute, interval: time.Second, want: time.Minute},
		{name: "long interval", prev: 2 * time.Minute, interval: 2 * time.Minute, want: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryBackoff(tt.prev, tt.interval); got != tt.want {
				t.Errorf("retryBackoff(%v, %v) = %v, want %v", tt.prev, tt.interval, got, tt.want)
			}
		})
	}
}

// While the manager's socket is unreachable the reporter logs nothing
// (the Notifier's owner says it once) and waits out its backoff, but
// sends as soon as another send has found the manager again.
func TestStatusReporterUnreachableManager(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	n, err := lifecycle.NewNotifier(lifecycle.Environment{NotifySocket: path})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	unreachable := make(chan struct{})
	sdwire.NotifierOf(n).OnReachability(func(err error) {
		if err != nil {
			close(unreachable) // once: the socket never goes away again here
		}
	})
	var logs bytes.Buffer
	// An hour: no tick, so only a wake-up can send, and the backoff after
	// the first failure is an hour too.
	r := NewStatusReporter(n, nil, StatusConfig{Interval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r.Start() // the line is empty, as sent: nothing to send
	defer r.Stop()
	r.SetPhase("Starting") // the reporter's goroutine tries, and fails: nobody listens at path
	<-unreachable

	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := n.Ready(); err != nil { // the manager is back
		t.Fatal(err)
	}
	r.SetPhase("Serving") // within the backoff, but reachable again
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, sdwire.MaxMessageSize)
	var got []string
	for len(got) < 2 {
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(buf[:k]))
	}
	if got[0] != "READY=1" || got[1] != "STATUS=Serving" {
		t.Errorf("manager got %q, want READY=1 then STATUS=Serving", got)
	}
	if strings.Contains(logs.String(), "level=") {
		t.Errorf("the reporter logged an unreachable manager:\n%s", logs.String())
	}
}
