package httpadapter

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	l, src, err := Listen(ListenConfig{Address: "127.0.0.1:0", Notifier: m.Notifier(), FDStore: storeLimit(t, m)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if src != SourceBound {
		t.Errorf("Source = %v, want bound", src)
	}
	barrier(t, m)
	for _, msg := range m.Messages() {
		if msg.Has("FDSTORE", "1") {
			t.Fatal("stored although the store is not enabled")
		}
	}
}

// TestListenFDStoreRoundTrip: bind and store; a restart gets the same
// socket back from the store; storing it again does not duplicate it.
func TestListenFDStoreRoundTrip(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithFDStore(4))
	cfg := ListenConfig{Address: "127.0.0.1:0", Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
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
		{"store enabled: attributed to the store, stored", true, SourceFDStore, 1},
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
			l, src, err := Listen(ListenConfig{Name: "web", Files: files, Notifier: m.Notifier(), FDStore: storeLimit(t, m)})
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
			if files.Len() != 0 {
				t.Errorf("%d descriptors left unclaimed", files.Len())
			}
			barrier(t, m)
			removed := false
			for _, msg := range m.Messages() {
				removed = removed || msg.Has("FDSTOREREMOVE", "1")
				if msg.Has("FDSTORE", "1") {
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
			l, _, err := Listen(ListenConfig{Files: files, Address: "127.0.0.1:0"})
			if err == nil {
				l.Close()
				t.Fatal("Listen() succeeded on a descriptor that is not a listening socket")
			}
			if !strings.HasPrefix(err.Error(), "httpadapter: ") || !strings.Contains(err.Error(), `"http"`) {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
}

func TestListenInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		give ListenConfig
	}{
		{"name with colon", ListenConfig{Name: "a:b", Address: "127.0.0.1:0"}},
		{"name with control char", ListenConfig{Name: "a\nb", Address: "127.0.0.1:0"}},
		{"udp", ListenConfig{Network: "udp", Address: "127.0.0.1:0"}},
		{"no port", ListenConfig{Address: "127.0.0.1"}},
		{"port out of range", ListenConfig{Address: "127.0.0.1:99999"}},
		{"unix path too long", ListenConfig{Network: "unix", Address: "/" + strings.Repeat("x", 200)}},
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
	l, src, err := Listen(ListenConfig{Network: "unix", Address: path})
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
			l, _, err := Listen(ListenConfig{Network: "unix", Address: path})
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
	cfg := ListenConfig{Network: "unix", Address: path, Notifier: m.Notifier(), FDStore: storeLimit(t, m)}
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
	s, err := NewServer(ServerConfig{Handler: okHandler(), Ready: ReadyByCaller})
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
		cfg := ListenConfig{Name: name, Network: network, Address: address}
		if err := cfg.normalize(); err != nil {
			if !errors.Is(err, ErrInvalidListenConfig) {
				t.Fatalf("error %v does not match ErrInvalidListenConfig", err)
			}
			return
		}
		if !lifecycle.ValidFDName(cfg.Name) {
			t.Fatalf("accepted name %q", cfg.Name)
		}
		if strings.HasPrefix(cfg.Network, "tcp") && cfg.Address != "" {
			if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
				t.Fatalf("accepted address %q: %v", cfg.Address, err)
			}
		}
	})
}
