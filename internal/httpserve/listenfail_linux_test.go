package httpserve

import (
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// storedGeneration binds address, stores it in m's fd store as a first
// process would, closes its own copy and returns the address bound.
func storedGeneration(t *testing.T, m *sdtest.Manager, address string) net.Addr {
	t.Helper()
	res, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: address}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}).Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := res.Listener.Addr()
	res.Listener.Close()
	barrier(t, m)
	return addr
}

// holdPort listens on address for the test's duration: another process's
// socket.
func holdPort(t *testing.T, address string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func portString(a net.Addr) string { return strconv.Itoa(a.(*net.TCPAddr).Port) }

// TestListenUnbindableKeepsStored (issue 16, item 1): a configured address
// that cannot be bound does not cost the listener the fd store handed
// back. It is served, it stays in the store, the connection the kernel
// queued on it meanwhile is accepted, and the result, the notice and an
// ERROR line name the bad address.
func TestListenUnbindableKeepsStored(t *testing.T) {
	tests := []struct {
		name      string
		give      func(t *testing.T, stored net.Addr) string
		wantErrno syscall.Errno // 0: none (a name that does not resolve)
	}{
		{"not an IP, does not resolve", func(*testing.T, net.Addr) string { return "999.1.1.1:80" }, 0},
		{"port taken by another process", func(t *testing.T, _ net.Addr) string {
			return holdPort(t, "127.0.0.1:0").Addr().String()
		}, syscall.EADDRINUSE},
		{"address no interface has", func(t *testing.T, _ net.Addr) string { return "192.0.2.1:" + freePort(t) }, syscall.EADDRNOTAVAIL},
		{"same port on an address no interface has", func(_ *testing.T, a net.Addr) string {
			return "192.0.2.1:" + portString(a)
		}, syscall.EADDRNOTAVAIL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(4))
			stored := storedGeneration(t, m, "127.0.0.1:0")
			queued, err := net.Dial("tcp", stored.String()) // waits in the stored socket's queue
			if err != nil {
				t.Fatal(err)
			}
			defer queued.Close()
			seq := len(m.Messages())

			var logs strings.Builder
			cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: tt.give(t, stored)}, Files: m.Files(), Notifier: m.Notifier(), FDStore: storeLimit(t, m),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			defer cfg.Files.Close()
			res, err := cfg.Listen()
			if err != nil {
				t.Fatalf("Listen: %v; want the stored listener kept", err)
			}
			defer res.Listener.Close()
			if res.Source != SourceFDStore || res.Listener.Addr().String() != stored.String() || res.Replaced != nil {
				t.Fatalf("got %v from %v (replaced %v); want the stored %v", res.Listener.Addr(), res.Source, res.Replaced, stored)
			}
			if res.Unbound != cfg.Address || res.BindErr == nil {
				t.Fatalf("Unbound %q, BindErr %v; want %q and why", res.Unbound, res.BindErr, cfg.Address)
			}
			var errno syscall.Errno
			if got := errors.As(res.BindErr, &errno); tt.wantErrno != 0 && (!got || errno != tt.wantErrno) {
				t.Errorf("BindErr %v, want errno %v", res.BindErr, tt.wantErrno)
			}
			n := res.Notice()
			if !strings.Contains(n, "cannot listen on the configured "+cfg.Address) || !strings.HasSuffix(n, "serving "+stored.String()) {
				t.Errorf("Notice() = %q", n)
			}
			if line := logs.String(); !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "configured="+cfg.Address) || strings.Count(line, "\n") != 1 {
				t.Errorf("log %q, want one ERROR line naming %s", line, cfg.Address)
			}

			c, err := res.Listener.Accept() // the queued connection: nothing lost
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			barrier(t, m)
			for _, msg := range m.Messages()[seq:] {
				if sdtest.Has("FDSTOREREMOVE", "1")(msg) || sdtest.Has("FDSTORE", "1")(msg) {
					t.Errorf("sent %q; the store must keep the listener as it is", msg.Raw)
				}
			}
			if got := storedListenerAddrs(t, m, "http"); len(got) != 1 || got[0] != stored.String() {
				t.Errorf("store holds %v, want [%s]", got, stored)
			}
		})
	}
}

// TestListenSamePortTakenElsewhere: moving from 127.0.0.1:P to 0.0.0.0:P
// conflicts with the old socket itself, so it goes first; when another
// process holds P on another loopback address, the wildcard cannot be
// bound either, and the old address is bound again and stored.
func TestListenSamePortTakenElsewhere(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	stored := storedGeneration(t, m, "127.0.0.1:0")
	holdPort(t, "127.0.0.2:"+portString(stored))

	var logs strings.Builder
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "0.0.0.0:" + portString(stored)}, Files: m.Files(), Notifier: m.Notifier(), FDStore: storeLimit(t, m),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	defer cfg.Files.Close()
	res, err := cfg.Listen()
	if err != nil {
		t.Fatalf("Listen: %v; want the old address bound again", err)
	}
	defer res.Listener.Close()
	if res.Listener.Addr().String() != stored.String() || res.Unbound != cfg.Address || !errors.Is(res.BindErr, syscall.EADDRINUSE) {
		t.Fatalf("got %v from %v, Unbound %q, BindErr %v; want %v again and the wildcard reported", res.Listener.Addr(), res.Source, res.Unbound, res.BindErr, stored)
	}
	barrier(t, m)
	if got := storedListenerAddrs(t, m, "http"); len(got) != 1 || got[0] != stored.String() {
		t.Errorf("store holds %v, want [%s]", got, stored)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log %q, want an ERROR line", logs.String())
	}
	c, err := net.Dial("tcp", stored.String())
	if err != nil {
		t.Fatalf("the old address does not accept: %v", err)
	}
	c.Close()
}

// TestListenStoreNeverOverfull (issue 16, item 6): with the store full of
// the listener and the connections handed over with it, a new process
// sends PID 1 no descriptor beyond FileDescriptorStoreMax=: it does not
// store the listener it was handed back again, and when it moves to
// another address it removes the old listener before storing the new
// one.
func TestListenStoreNeverOverfull(t *testing.T) {
	tests := []struct {
		name string
		move bool
	}{
		{"same address", false},
		{"moved to another port", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const conns = 2
			m := sdtest.NewManager(t, sdtest.WithFDStore(1+conns)) // as FileDescriptorStoreMax=513 for 512
			stored := storedGeneration(t, m, "127.0.0.1:0")
			l := holdPort(t, "127.0.0.1:0")
			for i := range conns {
				_, server := connPair(t, l)
				if _, err := m.Notifier().FDStore("http-conn-1-"+strconv.Itoa(i), server.(syscall.Conn)); err != nil {
					t.Fatal(err)
				}
			}
			barrier(t, m)
			if n := len(m.Stored()); n != 1+conns {
				t.Fatalf("%d stored, want the store full (%d)", n, 1+conns)
			}

			address := stored.String()
			if tt.move {
				address = "127.0.0.1:" + freePort(t)
			}
			cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: address}, Files: m.Files(), Notifier: m.Notifier(), FDStore: storeLimit(t, m), Release: ReleaseByCaller}
			defer cfg.Files.Close()
			res, err := cfg.Listen()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Listener.Close()
			if res.Adopted != conns {
				t.Fatalf("adopted %d, want %d", res.Adopted, conns)
			}
			barrier(t, m)
			for _, msg := range m.Messages() {
				if msg.StoreFull {
					t.Errorf("the manager found the store full for %q (PID 1: \"Cannot store more fds than FileDescriptorStoreMax=\")", msg.Raw)
					break
				}
			}
			if err := res.ReleaseStored(); err != nil {
				t.Fatal(err)
			}
			barrier(t, m)
			if got := storedListenerAddrs(t, m, "http"); len(got) != 1 || got[0] != res.Listener.Addr().String() {
				t.Errorf("store holds %v, want [%s]", got, res.Listener.Addr())
			}
			if n := len(m.Stored()); n != 1 {
				t.Errorf("%d stored after the release, want the listener only", n)
			}
		})
	}
}
