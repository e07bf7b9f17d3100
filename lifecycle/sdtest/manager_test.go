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
	if full := m.StoreFull(); len(full) != 1 || !full[0].Has("FDNAME", "p2") {
		t.Fatalf("StoreFull() = %+v, want the message of p2", full)
	}

	// As PID 1: the limit is checked before duplicates are ignored, so
	// storing a descriptor the full store already holds is refused too.
	if _, err := n.FDStore("p0", stored[0].File); err != nil {
		t.Fatal(err)
	}
	n.Barrier(ctx(t, 5*time.Second))
	if full := m.StoreFull(); len(full) != 2 || !full[1].Has("FDNAME", "p0") {
		t.Fatalf("StoreFull() = %+v, want p0's duplicate refused as well", full)
	}
	if got := len(m.Stored()); got != 2 {
		t.Fatalf("%d stored after the duplicate, want 2", got)
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

// Next waits for a message after the call, not the first one ever: a
// second READY=1 (after a reload) is found although a first one matches.
func TestNextSkipsEarlierMessages(t *testing.T) {
	m := sdtest.NewManager(t)
	n := m.Notifier()
	n.Ready()
	n.Barrier(ctx(t, 5*time.Second)) // the first READY=1 is recorded

	_, err := m.Next(ctx(t, 30*time.Millisecond), sdtest.Has("READY", "1"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next found a READY=1 sent before the call: %v", err)
	}

	// Whenever the waiting begins, a READY=1 sent after the call is
	// found: a sender keeps sending until Next returns.
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
	msg, err := m.Next(ctx(t, 5*time.Second), sdtest.Has("READY", "1"))
	close(done)
	<-sent
	if err != nil {
		t.Fatal(err)
	}
	if msg.Seq <= 2 || !msg.Has("READY", "1") {
		t.Fatalf("Next returned %+v, want a READY=1 sent after the call", msg)
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

// A listener handed in with Activated is claimed as the manager's would
// be: under its name, a duplicate that serves the same socket.
func TestActivated(t *testing.T) {
	m := sdtest.NewManager(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	files := m.Activated(l, "http")
	if got := files.Names(); len(got) != 1 || got[0] != "http" {
		t.Fatalf("names %v, want [http]", got)
	}
	claimed, err := files.Listener("http")
	if err != nil {
		t.Fatal(err)
	}
	defer claimed.Close()
	if claimed.Addr().String() != l.Addr().String() {
		t.Fatalf("claimed %v, want %v", claimed.Addr(), l.Addr())
	}
	// The caller's listener stays open: closing it does not close the
	// claimed duplicate, which accepts a connection to the address.
	l.Close()
	c, err := net.Dial("tcp", claimed.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted, err := claimed.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted.Close()
}

// A listener without a descriptor cannot be handed over: a Manager made
// by Start panics (NewManager's would fail the test).
func TestActivatedWithoutDescriptor(t *testing.T) {
	m, err := sdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer func() {
		if v := recover(); v == nil {
			t.Fatal("Activated accepted a listener without a descriptor")
		}
	}()
	m.Activated(fakeListener{}, "http")
}

// Unclaimed activated descriptors are closed with a Manager made by Start.
func TestActivatedClosedWithManager(t *testing.T) {
	m, err := sdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	files := m.Activated(l, "http")
	m.Close()
	if n := files.Len(); n != 0 {
		t.Fatalf("%d descriptors left open after Close", n)
	}
}

type fakeListener struct{ net.Listener }
