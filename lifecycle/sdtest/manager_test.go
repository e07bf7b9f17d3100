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
				if sdtest.Has("READY", "1")(msg) {
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
	if env.NotifySocket == "" || env.PID != os.Getpid() {
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
	if full := storeFull(m); len(full) != 1 || !sdtest.Has("FDNAME", "p2")(full[0]) {
		t.Fatalf("StoreFull messages %+v, want the message of p2", full)
	}

	// As PID 1: the limit is checked before duplicates are ignored, so
	// storing a descriptor the full store already holds is refused too.
	if _, err := n.FDStore("p0", stored[0].File); err != nil {
		t.Fatal(err)
	}
	n.Barrier(ctx(t, 5*time.Second))
	if full := storeFull(m); len(full) != 2 || !sdtest.Has("FDNAME", "p0")(full[1]) {
		t.Fatalf("StoreFull messages %+v, want p0's duplicate refused as well", full)
	}
	if got := len(m.Stored()); got != 2 {
		t.Fatalf("%d stored after the duplicate, want 2", got)
	}
}

// storeFull returns the messages that found the fd store full.
func storeFull(m *sdtest.Manager) []sdtest.Message {
	var full []sdtest.Message
	for _, msg := range m.Messages() {
		if msg.StoreFull {
			full = append(full, msg)
		}
	}
	return full
}

func TestDroppedOversizeDatagram(t *testing.T) {
	m := sdtest.NewManager(t)
	// Bypass the Notifier's own checks: a raw client sends 5000 bytes.
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: m.Environment().NotifySocket, Net: "unixgram"})
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
	if err != nil || !sdtest.Has("X_SDTEST_DROPPED", "oversize")(msg) {
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

// Waiting for a message after those received so far skips the earlier
// ones: a second READY=1 (after a reload) is found although a first one
// matches.
func TestWaitAfterSkipsEarlierMessages(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	n.Ready()
	n.Barrier(ctx(t, 5*time.Second)) // the first READY=1 is recorded

	seq := len(m.Messages())
	_, err := m.Wait(ctx(t, 30*time.Millisecond), sdtest.After(seq, sdtest.Has("READY", "1")))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait found a READY=1 sent before the count: %v", err)
	}

	// Whenever the waiting begins, a READY=1 sent after the count is
	// found: a sender keeps sending until Wait returns.
	done := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for {
			select {
			case <-done:
				return
			default:
			}
			n.Ready()
			n.Barrier(context.Background())
		}
	}()
	msg, err := m.Wait(ctx(t, 5*time.Second), sdtest.After(seq, sdtest.Has("READY", "1")))
	close(done)
	<-sent
	if err != nil {
		t.Fatal(err)
	}
	if msg.Seq <= 2 || !sdtest.Has("READY", "1")(msg) {
		t.Fatalf("Wait returned %+v, want a READY=1 sent after the count", msg)
	}
}

func TestStatusContains(t *testing.T) {
	tests := []struct {
		name string
		give string
		sub  string
		want bool
	}{
		{name: "contains", give: "STATUS=Serving: 3 requests, 0 in flight", sub: "3 requests", want: true},
		{name: "prefix", give: "STATUS=Serving: 3 requests", sub: "Serving", want: true},
		{name: "absent", give: "STATUS=Serving: 3 requests", sub: "reload failed", want: false},
		{name: "other key", give: "X_NOTE=3 requests", sub: "3 requests", want: false},
		{name: "empty sub, STATUS set", give: "READY=1\nSTATUS=", sub: "", want: true},
		{name: "empty sub, no STATUS", give: "READY=1", sub: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sdtest.StatusContains(tt.sub)(sdtest.Message{Raw: tt.give}); got != tt.want {
				t.Errorf("StatusContains(%q)(%q) = %v, want %v", tt.sub, tt.give, got, tt.want)
			}
		})
	}
	// And through a real manager.
	m := sdtest.NewManager(t)
	m.Notifier().Status("reload failed: config.json: bad")
	if _, err := m.Wait(ctx(t, 5*time.Second), sdtest.StatusContains("config.json")); err != nil {
		t.Fatal(err)
	}
}

// Outside a test, NewManager(nil) gives a Manager the caller closes; the
// Notifiers it made are closed with it.
func TestManagerWithoutTest(t *testing.T) {
	m := sdtest.NewManager(nil)
	n := m.Notifier()
	if sent, err := n.Ready(); !sent || err != nil {
		t.Fatalf("Ready = %v, %v", sent, err)
	}
	if _, err := m.Wait(ctx(t, 5*time.Second), sdtest.Has("READY", "1")); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Ready(); err == nil {
		t.Fatal("the Manager's Notifier still sends after Close")
	}
}
