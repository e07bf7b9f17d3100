package httpserve

import (
	"bufio"
	"context"
	"errors"
	"github.com/sdlife/sdlife/httpadapter"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// fileOf returns a duplicate of l's descriptor, as the manager would pass
// it, and closes l.
func fileOf(t *testing.T, l net.Listener) *os.File {
	t.Helper()
	f, err := l.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return f
}

func storeLimit(t *testing.T, m *sdtest.Manager) lifecycle.FDStoreLimit {
	t.Helper()
	limit, err := m.Environment().FDStoreLimit()
	if err != nil {
		t.Fatal(err)
	}
	return limit
}

func barrier(t *testing.T, m *sdtest.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := m.Notifier().Barrier(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestListenBindsWithoutStore(t *testing.T) {
	m := sdtest.NewManager(t) // store not enabled
	l, src, err := Listen(ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if src != SourceBound {
		t.Errorf("Source = %v, want bound", src)
	}
	barrier(t, m)
	for _, msg := range m.Messages() {
		if sdtest.Has("FDSTORE", "1")(msg) {
			t.Fatal("stored although the store is not enabled")
		}
	}
}

// TestListenFDStoreRoundTrip: bind and store; a restart gets the same
// socket back from the store; storing it again does not duplicate it.
func TestListenFDStoreRoundTrip(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	l, src, err := Listen(cfg)
	if err != nil || src != SourceBound {
		t.Fatalf("first Listen() = %v, %v", src, err)
	}
	addr := l.Addr().String()
	l.Close()
	barrier(t, m) // the manager has processed FDSTORE=1
	stored := m.Stored()
	if len(stored) != 1 || stored[0].Name != "http" || stored[0].Poll {
		t.Fatalf("stored = %+v, want one \"http\" with FDPOLL=0", stored)
	}

	for i := range 3 {
		files := m.Files()
		cfg.Files = files
		l, src, err := Listen(cfg)
		files.Close()
		if err != nil || src != SourceFDStore || l.Addr().String() != addr {
			t.Fatalf("restart %d: Listen() = %v, %v, %v; want %s from the fd store", i, l, src, err, addr)
		}
		l.Close()
		barrier(t, m)
		if n := len(m.Stored()); n != 1 {
			t.Fatalf("restart %d: %d stored, want 1", i, n)
		}
	}
	// The socket kept listening throughout: the kernel accepts for it.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("stored socket does not accept: %v", err)
	}
	c.Close()
}

func TestListenActivation(t *testing.T) {
	tests := []struct {
		name    string
		store   bool
		want    Source
		wantSto int // descriptors in the store afterwards
	}{
		{"store disabled: activation, not stored", false, SourceActivation, 0},
		{"store enabled: attributed to the store, not stored again", true, SourceFDStore, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []sdtest.Option
			if tt.store {
				opts = append(opts, sdtest.WithFDStore(4))
			}
			m := sdtest.NewManager(t, opts...)
			f := fileOf(t, listenLocal(t))
			files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "web", File: f})
			defer files.Close()
			l, src, err := Listen(ListenConfig{ListenConfig: httpadapter.ListenConfig{Name: "web"}, Files: files, Notifier: m.Notifier(), FDStore: storeLimit(t, m)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if src != tt.want {
				t.Errorf("Source = %v, want %v", src, tt.want)
			}
			barrier(t, m)
			if n := len(m.Stored()); n != tt.wantSto {
				t.Errorf("%d stored, want %d", n, tt.wantSto)
			}
		})
	}
}

func TestListenSeveralDescriptors(t *testing.T) {
	tests := []struct {
		name       string
		stale      bool // the second descriptor is another socket
		wantRemove bool
	}{
		{"duplicate of the activation socket", false, false},
		{"stale socket from the store", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(4))
			first := listenLocal(t)
			addr := first.Addr().String()
			f1 := fileOf(t, first)
			var f2 *os.File
			var staleAddr string
			if tt.stale {
				other := listenLocal(t)
				staleAddr = other.Addr().String()
				f2 = fileOf(t, other)
			} else {
				l, err := net.FileListener(f1)
				if err != nil {
					t.Fatal(err)
				}
				f2 = fileOf(t, l)
			}
			files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: f1}, lifecycle.NamedFile{Name: "http", File: f2})
			defer files.Close()
			l, src, err := Listen(ListenConfig{Files: files, Notifier: m.Notifier(), FDStore: storeLimit(t, m)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if src != SourceActivation || l.Addr().String() != addr {
				t.Errorf("got %v from %v, want %s from activation", l.Addr(), src, addr)
			}
			if len(files.Names()) != 0 {
				t.Errorf("%d descriptors left unclaimed", len(files.Names()))
			}
			barrier(t, m)
			removed := false
			for _, msg := range m.Messages() {
				removed = removed || sdtest.Has("FDSTOREREMOVE", "1")(msg)
				if sdtest.Has("FDSTORE", "1")(msg) {
					t.Error("stored a socket-activated listener")
				}
			}
			if removed != tt.wantRemove {
				t.Errorf("FDSTOREREMOVE sent = %v, want %v", removed, tt.wantRemove)
			}
			if tt.stale {
				if c, err := net.Dial("tcp", staleAddr); err == nil {
					c.Close()
					t.Error("the stale socket still accepts connections")
				}
			}
		})
	}
}

func TestListenNotAListener(t *testing.T) {
	tests := []struct {
		name string
		give func(t *testing.T) *os.File
	}{
		{"regular file", func(t *testing.T) *os.File {
			f, err := os.CreateTemp(t.TempDir(), "x")
			if err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"UDP socket", func(t *testing.T) *os.File {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			f, err := c.(*net.UDPConn).File()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: tt.give(t)})
			defer files.Close()
			l, _, err := Listen(ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}, Files: files})
			if err == nil {
				l.Close()
				t.Fatal("Listen() succeeded on a descriptor that is not a listening socket")
			}
			if !strings.Contains(err.Error(), `"http"`) || prefixes(err) != 1 {
				t.Errorf("error %q: want the name and one package prefix", err)
			}
		})
	}
}

func TestListenInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		give ListenConfig
	}{
		{"name with colon", ListenConfig{ListenConfig: httpadapter.ListenConfig{Name: "a:b", Address: "127.0.0.1:0"}}},
		{"name with control char", ListenConfig{ListenConfig: httpadapter.ListenConfig{Name: "a\nb", Address: "127.0.0.1:0"}}},
		{"udp", ListenConfig{ListenConfig: httpadapter.ListenConfig{Network: "udp", Address: "127.0.0.1:0"}}},
		{"no port", ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1"}}},
		{"port out of range", ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:99999"}}},
		{"unix path too long", ListenConfig{ListenConfig: httpadapter.ListenConfig{Network: "unix", Address: "/" + strings.Repeat("x", 200)}}},
		{"nothing passed and no address", ListenConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, err := Listen(tt.give)
			if err == nil {
				l.Close()
			}
			if !errors.Is(err, ErrInvalidListenConfig) {
				t.Fatalf("Listen() = %v, want ErrInvalidListenConfig", err)
			}
		})
	}
}

// shortDir returns a directory with a short path: sun_path is small.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ha")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenUnixStaleSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close() // a dead process's leftover
	l, src, err := Listen(ListenConfig{ListenConfig: httpadapter.ListenConfig{Network: "unix", Address: path}})
	if err != nil || src != SourceBound {
		t.Fatalf("Listen() over a stale socket = %v, %v", src, err)
	}
	defer l.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestListenUnixRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr error
	}{
		{"live socket", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, errSocketInUse},
		{"regular file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s")
			tt.prepare(t, path)
			l, _, err := Listen(ListenConfig{ListenConfig: httpadapter.ListenConfig{Network: "unix", Address: path}})
			if err == nil {
				l.Close()
				t.Fatal("Listen() succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Listen() = %v, want %v", err, tt.wantErr)
			}
			if _, serr := os.Lstat(path); serr != nil {
				t.Errorf("Listen removed %s: %v", path, serr)
			}
		})
	}
}

// TestListenUnixFDStore: a stored unix listener keeps its path when this
// process closes it, and comes back from the store.
func TestListenUnixFDStore(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	path := filepath.Join(shortDir(t), "s")
	cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Network: "unix", Address: path}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
	l, src, err := Listen(cfg)
	if err != nil || src != SourceBound {
		t.Fatalf("Listen() = %v, %v", src, err)
	}
	l.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("closing a stored unix listener removed its path: %v", err)
	}
	barrier(t, m)
	files := m.Files()
	defer files.Close()
	cfg.Files = files
	l, src, err = Listen(cfg)
	if err != nil || src != SourceFDStore {
		t.Fatalf("Listen() after restart = %v, %v", src, err)
	}
	defer l.Close()
	s, err := NewServer(ServerConfig{Handler: okHandler()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(l); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, bufio.NewReader(c))
}

func TestSourceString(t *testing.T) {
	tests := []struct {
		give Source
		want string
	}{
		{SourceBound, "bound"}, {SourceActivation, "socket activation"}, {SourceFDStore, "fd store"}, {Source(9), "Source(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.give.String(); got != tt.want {
				t.Fatalf("String() = %q", got)
			}
		})
	}
}

func FuzzListenConfig(f *testing.F) {
	f.Add("http", "tcp", "127.0.0.1:8080")
	f.Add("", "unix", "/run/x.sock")
	f.Add("a:b", "udp", "[::1]:http")
	f.Fuzz(func(t *testing.T, name, network, address string) {
		cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Name: name, Network: network, Address: address}}
		if err := cfg.normalize(); err != nil {
			if !errors.Is(err, ErrInvalidListenConfig) {
				t.Fatalf("error %v does not match ErrInvalidListenConfig", err)
			}
			return
		}
		if !sdwire.ValidFDName(cfg.Name) {
			t.Fatalf("accepted name %q", cfg.Name)
		}
		if strings.HasPrefix(cfg.Network, "tcp") && cfg.Address != "" {
			if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
				t.Fatalf("accepted address %q: %v", cfg.Address, err)
			}
		}
	})
}

func TestAddrMatches(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		give    net.Addr
		network string
		address string
		want    bool
	}{
		{"same", tcp("127.0.0.1:8080"), "tcp", "127.0.0.1:8080", true},
		{"other port", tcp("127.0.0.1:8080"), "tcp", "127.0.0.1:8081", false},
		{"other host", tcp("127.0.0.1:8080"), "tcp", "127.0.0.2:8080", false},
		{"localhost", tcp("127.0.0.1:8080"), "tcp", "localhost:8080", true},
		{"empty host, dual stack", tcp("[::]:8080"), "tcp", ":8080", true},
		{"0.0.0.0 binds dual stack", tcp("[::]:8080"), "tcp", "0.0.0.0:8080", true},
		{"[::] on an IPv4 socket", tcp("0.0.0.0:8080"), "tcp", "[::]:8080", true},
		{"wildcard is not loopback", tcp("[::]:8080"), "tcp", "127.0.0.1:8080", false},
		{"loopback is not wildcard", tcp("127.0.0.1:8080"), "tcp", ":8080", false},
		{"tcp4 wildcard wants IPv4", tcp("[::]:8080"), "tcp4", ":8080", false},
		{"tcp4 wildcard", tcp("0.0.0.0:8080"), "tcp4", "0.0.0.0:8080", true},
		{"tcp6 wildcard wants IPv6", tcp("0.0.0.0:8080"), "tcp6", "[::]:8080", false},
		{"port 0 is any port", tcp("127.0.0.1:41234"), "tcp", "127.0.0.1:0", true},
		{"no port is any port", tcp("127.0.0.1:41234"), "tcp", "127.0.0.1:", true},
		{"port 0 still compares the host", tcp("127.0.0.1:41234"), "tcp", "127.0.0.2:0", false},
		{"named port", tcp("127.0.0.1:80"), "tcp", "127.0.0.1:http", true},
		{"IPv6 loopback", tcp("[::1]:8080"), "tcp", "[::1]:8080", true},
		{"unix for a TCP socket", tcp("127.0.0.1:8080"), "unix", "/run/x.sock", false},
		{"unix path", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "unix", "/run/x.sock", true},
		{"unix path, other", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "unix", "/run/y.sock", false},
		{"unix path, unclean", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "unix", "/run//x.sock", true},
		{"unix path, relative", &net.UnixAddr{Name: filepath.Join(wd, "x.sock"), Net: "unix"}, "unix", "x.sock", true},
		{"abstract", &net.UnixAddr{Name: "@x", Net: "unix"}, "unix", "@x", true},
		{"abstract is not a path", &net.UnixAddr{Name: "@x", Net: "unix"}, "unix", "x", false},
		{"TCP for a unix socket", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "tcp", "127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AddrMatches(tt.give, tt.network, tt.address)
			if err != nil || got != tt.want {
				t.Fatalf("AddrMatches(%v, %q, %q) = %v, %v; want %v", tt.give, tt.network, tt.address, got, err, tt.want)
			}
		})
	}
}

// freePort returns a port nobody listened on a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l := listenLocal(t)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// storedListenerAddrs returns the addresses of the listeners the fake
// store holds under name.
func storedListenerAddrs(t *testing.T, m *sdtest.Manager, name string) []string {
	t.Helper()
	files := m.Files()
	defer files.Close()
	ls, err := files.Listeners(name)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, l := range ls {
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	return addrs
}

// TestListenStoredAddressWins: a listener from the fd store is reused when
// it is on the configured address, and replaced (removed from the store,
// the configured address bound and stored) when it is not.
func TestListenStoredAddressWins(t *testing.T) {
	tests := []struct {
		name       string
		stored     string // address the first generation binds
		configured func(stored net.Addr) string
		wantSame   bool
	}{
		{"same address", "127.0.0.1:0", func(a net.Addr) string { return a.String() }, true},
		{"same address by name", "127.0.0.1:0", func(a net.Addr) string {
			return net.JoinHostPort("localhost", strconv.Itoa(a.(*net.TCPAddr).Port))
		}, true},
		{"other port", "127.0.0.1:0", func(net.Addr) string { return "127.0.0.1:" + freePortFor() }, false},
		{"narrowed from wildcard to loopback, same port", ":0", func(a net.Addr) string {
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.(*net.TCPAddr).Port))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t, sdtest.WithFDStore(4))
			cfg := ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: tt.stored}, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
			first, err := cfg.Listen()
			if err != nil {
				t.Fatal(err)
			}
			old := first.Listener.Addr()
			first.Listener.Close()
			barrier(t, m)
			seq := len(m.Messages())

			var logs strings.Builder
			cfg.Address = tt.configured(old)
			cfg.Files = m.Files()
			defer cfg.Files.Close()
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			res, err := cfg.Listen()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Listener.Close()
			barrier(t, m)
			var removed, storedAfter bool
			for _, msg := range m.Messages()[seq:] {
				if sdtest.Has("FDSTOREREMOVE", "1")(msg) {
					removed = true
					if !sdtest.Has("FDNAME", "http")(msg) {
						t.Errorf("FDSTOREREMOVE for %q, want http", msg.Raw)
					}
				}
				storedAfter = storedAfter || sdtest.Has("FDSTORE", "1")(msg) && removed
			}
			stored := storedListenerAddrs(t, m, "http")
			now := res.Listener.Addr().String()
			if tt.wantSame {
				if res.Source != SourceFDStore || now != old.String() || res.Replaced != nil || removed {
					t.Fatalf("got %s from %v (replaced %v, FDSTOREREMOVE %v); want %s reused from the store", now, res.Source, res.Replaced, removed, old)
				}
				if res.Notice() != "" || logs.Len() != 0 {
					t.Errorf("notice %q, log %q; want none", res.Notice(), logs.String())
				}
				if len(stored) != 1 || stored[0] != old.String() {
					t.Errorf("store holds %v, want [%s]", stored, old)
				}
				return
			}
			if ok, _ := AddrMatches(res.Listener.Addr(), "tcp", cfg.Address); !ok || res.Source != SourceBound {
				t.Fatalf("got %s from %v, want %s bound", now, res.Source, cfg.Address)
			}
			if res.Replaced == nil || res.Replaced.String() != old.String() {
				t.Errorf("Replaced = %v, want %s", res.Replaced, old)
			}
			if !removed || !storedAfter {
				t.Errorf("FDSTOREREMOVE sent = %v, new listener stored after it = %v; want both", removed, storedAfter)
			}
			if len(stored) != 1 || stored[0] != now {
				t.Errorf("store holds %v, want [%s]", stored, now)
			}
			want := "listen address changed from " + old.String() + " to " + now
			if res.Notice() != want || !strings.Contains(logs.String(), want) {
				t.Errorf("notice %q, log %q; want %q", res.Notice(), logs.String(), want)
			}
			if _, oldPort, _ := net.SplitHostPort(old.String()); !strings.HasSuffix(now, ":"+oldPort) {
				if c, err := net.Dial("tcp", old.String()); err == nil {
					c.Close()
					t.Error("the old address still accepts connections")
				}
			}
		})
	}
}

// freePortFor is freePort for table rows that have no *testing.T.
func freePortFor() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "1"
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestListenActivationAddressMismatch: the socket unit owns the address; a
// differing configured address is reported, not acted on.
func TestListenActivationAddressMismatch(t *testing.T) {
	tests := []struct {
		name    string
		extra   bool // a copy from the store follows the socket unit's descriptor
		fdstore bool
	}{
		{"one descriptor, store disabled", false, false},
		{"socket unit and its stored copy", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []sdtest.Option
			if tt.fdstore {
				opts = append(opts, sdtest.WithFDStore(4))
			}
			m := sdtest.NewManager(t, opts...)
			unit := listenLocal(t)
			addr := unit.Addr().String()
			named := []lifecycle.NamedFile{{Name: "http", File: fileOf(t, unit)}}
			if tt.extra {
				l, err := net.FileListener(named[0].File)
				if err != nil {
					t.Fatal(err)
				}
				named = append(named, lifecycle.NamedFile{Name: "http", File: fileOf(t, l)})
			}
			files := lifecycle.NewFiles(named...)
			defer files.Close()
			var logs strings.Builder
			configured := "127.0.0.1:" + freePort(t)
			res, err := (&ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: configured}, Files: files, Notifier: m.Notifier(), FDStore: storeLimit(t, m),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}).Listen()
			if err != nil {
				t.Fatal(err)
			}
			defer res.Listener.Close()
			if res.Source != SourceActivation || res.Listener.Addr().String() != addr || res.Replaced != nil {
				t.Fatalf("got %v from %v (replaced %v), want the socket unit's %s", res.Listener.Addr(), res.Source, res.Replaced, addr)
			}
			if res.Mismatch != configured || !strings.Contains(res.Notice(), configured) || !strings.Contains(logs.String(), "socket unit") {
				t.Errorf("Mismatch %q, notice %q, log %q; want the configured %s reported", res.Mismatch, res.Notice(), logs.String(), configured)
			}
			barrier(t, m)
			for _, msg := range m.Messages() {
				if sdtest.Has("FDSTOREREMOVE", "1")(msg) || sdtest.Has("FDSTORE", "1")(msg) {
					t.Errorf("sent %q for a socket-activated listener", msg.Raw)
				}
			}
		})
	}
}

// FuzzAddrMatches: no panic, and a TCP address always matches itself.
func FuzzAddrMatches(f *testing.F) {
	f.Add("tcp", "127.0.0.1:8080")
	f.Add("tcp4", ":0")
	f.Add("tcp6", "[fe80::1%eth0]:http")
	f.Add("unix", "@x")
	f.Add("unix", "../x.sock")
	f.Fuzz(func(t *testing.T, network, address string) {
		host, port, err := net.SplitHostPort(address)
		if err == nil && host != "" && net.ParseIP(strings.SplitN(host, "%", 2)[0]) == nil {
			return // a name: resolving it would query DNS
		}
		if _, perr := strconv.ParseUint(port, 10, 16); err == nil && perr != nil {
			return // a named port: resolving it reads /etc/services, fine, but skip the slow path
		}
		for _, a := range []net.Addr{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, &net.UnixAddr{Name: "/x", Net: "unix"}} {
			_, _ = AddrMatches(a, network, address)
		}
		a, err := net.ResolveTCPAddr("tcp", address)
		if err != nil || a.Port == 0 || a.IP == nil || strings.Contains(address, "%") {
			return
		}
		if ok, err := AddrMatches(a, "tcp", a.String()); !ok || err != nil {
			t.Fatalf("%v does not match its own string %q: %v", a, a.String(), err)
		}
	})
}

// prefixes counts the package prefixes in err's text: an operator reads
// one line, with one.
func prefixes(err error) int {
	n := 0
	for _, p := range []string{"lifecycle: ", "httpadapter: ", "sdlife: ", "fxmodule: "} {
		n += strings.Count(err.Error(), p)
	}
	return n
}
