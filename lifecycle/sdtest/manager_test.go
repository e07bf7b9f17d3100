package sdtest_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func ctx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// The pattern the package exists for: prove that READY=1 was sent only
// once the listener accepted connections, by dialling it at the moment the
// manager receives READY.
func TestReadyAfterListenerIsUp(t *testing.T) {
	tests := []struct {
		name      string
		readyLate bool // the correct program: listen, then READY
		wantUp    bool
	}{
		{name: "listen then ready", readyLate: true, wantUp: true},
		{name: "ready then listen", readyLate: false, wantUp: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close() // the program under test opens it again

			upAtReady := make(chan bool, 1)
			m := sdtest.NewManager(t, sdtest.WithOnMessage(func(msg sdtest.Message) {
				if msg.Has("READY", "1") {
					c, err := net.Dial("tcp", addr)
					if err == nil {
						c.Close()
					}
					upAtReady <- err == nil
				}
			}))
			n := m.Notifier()

			var srv net.Listener
			if !tt.readyLate {
				n.Ready()
				n.Barrier(ctx(t, 5*time.Second)) // callbacks run before the barrier returns
			}
			srv, err = net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if tt.readyLate {
				n.Ready()
			}
			if got := <-upAtReady; got != tt.wantUp {
				t.Fatalf("listener up when READY arrived = %v, want %v", got, tt.wantUp)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithWatchdog(300*time.Millisecond), sdtest.WithFDStore(8))
	env := m.Environment()
	if env.NotifySocket != m.Address() || env.PID != os.Getpid() {
		t.Fatalf("env = %+v", env)
	}
	wd, err := env.Watchdog()
	if err != nil || wd.Interval != 300*time.Millisecond {
		t.Fatalf("watchdog = %+v, %v", wd, err)
	}
	limit, err := env.FDStoreLimit()
	if err != nil || !limit.Enabled() || limit.Max != 8 {
		t.Fatalf("fd store = %+v, %v", limit, err)
	}
	plain := sdtest.NewManager(t).Environment()
	if plain.WatchdogUSec != "" || plain.FDStore != "" {
		t.Fatalf("options leaked into a plain manager: %+v", plain)
	}
}

func TestWaitAfterAndTimeout(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	n.Ready()
	first, err := m.Wait(ctx(t, 5*time.Second), sdtest.Has("READY", "1"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		n.Reloading()
		n.Ready()
	}()
	second, err := m.Wait(ctx(t, 5*time.Second), sdtest.After(first.Seq, sdtest.Has("READY", "1")))
	if err != nil || second.Seq != first.Seq+2 {
		t.Fatalf("second READY = %+v, %v", second, err)
	}
	_, err = m.Wait(ctx(t, 30*time.Millisecond), sdtest.Has("STOPPING", ""))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait for a message never sent: %v", err)
	}
}

func TestFDStoreLimitIsEnforced(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(2))
	n := m.Notifier()
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if _, err := n.FDStore("p"+strconv.Itoa(i), r); err != nil {
			t.Fatal(err)
		}
	}
	n.Barrier(ctx(t, 5*time.Second))
	stored := m.Stored()
	if len(stored) != 2 || stored[0].Name != "p0" || stored[1].Name != "p1" || !stored[0].Poll {
		t.Fatalf("stored = %+v", stored)
	}
	files := m.Files()
	defer files.Close()
	if got := files.Names(); len(got) != 2 {
		t.Fatalf("handed back %v", got)
	}
}

func TestDroppedOversizeDatagram(t *testing.T) {
	m := sdtest.NewManager(t)
	// Bypass the Notifier's own checks: a raw client sends 5000 bytes.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: m.Address(), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := make([]byte, 5000)
	for i := range big {
		big[i] = 'a'
	}
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	msg, err := m.Wait(ctx(t, 5*time.Second), func(sdtest.Message) bool { return true })
	if err != nil || !msg.Has("X_SDTEST_DROPPED", "oversize") {
		t.Fatalf("oversize datagram recorded as %+v, %v", msg, err)
	}
}

func TestManagerCloseIsIdempotentAndUnblocksWait(t *testing.T) {
	m := sdtest.NewManager(t)
	errc := make(chan error, 1)
	go func() {
		_, err := m.Wait(context.Background(), sdtest.Has("READY", "1"))
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("Wait returned no error after Close")
	}
	// A notifier pointed at a closed manager fails cleanly.
	n, err := lifecycle.NewNotifier(m.Environment())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.Ready(); err == nil {
		t.Fatal("send to a closed manager succeeded")
	}
}

// Discard must keep draining: unread, a datagram socket's queue fills
// after a few hundred messages and sends start to time out.
func TestDiscardDrains(t *testing.T) {
	n, err := lifecycle.NewNotifier(sdtest.Discard(t))
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
