//go:build linux

package lifecycle_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// shortTempDir returns a directory whose paths fit in sun_path.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// counter is an fn for WatchMemoryPressure that counts calls and signals
// each one on a channel.
type counter struct {
	n     atomic.Int32
	calls chan struct{}
}

func newCounter() *counter { return &counter{calls: make(chan struct{}, 16)} }

func (c *counter) fn() {
	c.n.Add(1)
	c.calls <- struct{}{}
}

func (c *counter) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no memory pressure event within 10s")
	}
}

func watch(t *testing.T, mp lifecycle.MemoryPressure, fn func()) *lifecycle.MemoryPressureWatcher {
	t.Helper()
	w, err := lifecycle.WatchMemoryPressure(context.Background(), mp, fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func writeOnce(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWatchMemoryPressureFIFO(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "pressure")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// A second descriptor on the FIFO to look at what is queued in it.
	peek, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer peek.Close()

	c := newCounter()
	w := watch(t, lifecycle.MemoryPressure{Path: path, Trigger: []byte("some 200000 2000000\x00")}, c.fn)
	if k := sdwire.WatcherKind(w); k != "fifo" {
		t.Fatalf("kind = %q, want fifo", k)
	}
	// The trigger written into the FIFO was taken back out before polling:
	// nothing is queued, and it will not count as an event below.
	var queued int
	rc, _ := peek.SyscallConn()
	_ = rc.Control(func(fd uintptr) { queued, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
	if err != nil || queued != 0 {
		t.Fatalf("after arming %d bytes queued in the FIFO (err %v), want 0", queued, err)
	}

	// Two writers in turn: the second is seen although the first closed.
	writeOnce(t, path, "x")
	c.wait(t)
	writeOnce(t, path, "yy")
	c.wait(t)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.n.Load(); got != 2 {
		t.Fatalf("fn ran %d times, want 2", got)
	}
	if err := w.Err(); err != nil {
		t.Fatalf("Err() after Close = %v", err)
	}
}

func TestWatchMemoryPressureSocket(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "pressure.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	c := newCounter()
	trigger := []byte("some 150000 2000000\x00")
	w := watch(t, lifecycle.MemoryPressure{Path: path, Trigger: trigger}, c.fn)
	if k := sdwire.WatcherKind(w); k != "socket" {
		t.Fatalf("kind = %q, want socket", k)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(trigger))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != string(trigger) {
		t.Fatalf("peer read %q (err %v), want the trigger %q", got, err, trigger)
	}
	if _, err := conn.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	c.wait(t)

	// The peer going away ends the watch with a reason.
	conn.Close()
	select {
	case <-lifecycle.WatcherDone(w):
	case <-time.After(10 * time.Second):
		t.Fatal("watch still running after its peer closed")
	}
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "closed by its peer") {
		t.Fatalf("Err() = %v, want the peer's close", err)
	}
	if got := c.n.Load(); got != 1 {
		t.Fatalf("fn ran %d times, want 1", got)
	}
}

func TestWatchMemoryPressureContextCancel(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "pressure")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := lifecycle.WatchMemoryPressure(ctx, lifecycle.MemoryPressure{Path: path}, func() {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-lifecycle.WatcherDone(w):
	case <-time.After(10 * time.Second):
		t.Fatal("watch still running after its context was canceled")
	}
	if err := w.Err(); err != nil {
		t.Fatalf("Err() = %v after cancel, want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWatchMemoryPressureDisabled(t *testing.T) {
	w, err := lifecycle.WatchMemoryPressure(context.Background(), lifecycle.MemoryPressure{}, func() { t.Error("fn called") })
	if w != nil || err != nil {
		t.Fatalf("WatchMemoryPressure(disabled) = %v, %v; want nil, nil", w, err)
	}
	// A nil watcher is a no-op.
	if w.Close() != nil || w.Err() != nil || lifecycle.WatcherDone(w) != nil || sdwire.WatcherKind(w) != "unknown" {
		t.Fatal("nil watcher is not a no-op")
	}
}

func TestWatchMemoryPressureErrors(t *testing.T) {
	dir := shortTempDir(t)
	refusing := filepath.Join(dir, "refusing.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: refusing, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the socket file stays; nobody listens on it
	regular := filepath.Join(dir, "plain")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		give    lifecycle.MemoryPressure
		fn      func()
		wantErr string
		wantIs  error
	}{
		{name: "missing file", give: lifecycle.MemoryPressure{Path: filepath.Join(dir, "missing")}, wantErr: "no such file", wantIs: os.ErrNotExist},
		{name: "directory", give: lifecycle.MemoryPressure{Path: dir}, wantErr: "is a directory"},
		{name: "socket nobody listens on", give: lifecycle.MemoryPressure{Path: refusing}, wantErr: "connect: connection refused", wantIs: unix.ECONNREFUSED},
		{name: "regular file not on procfs or cgroupfs", give: lifecycle.MemoryPressure{Path: regular}, wantErr: "not a PSI file"},
		{name: "nil callback", give: lifecycle.MemoryPressure{Path: regular}, wantErr: "nil callback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := func() {}
			if tt.name == "nil callback" {
				fn = nil
			}
			w, err := lifecycle.WatchMemoryPressure(context.Background(), tt.give, fn)
			if err == nil {
				w.Close()
				t.Fatal("armed, want an error")
			}
			if w != nil {
				t.Fatal("a watcher returned with the error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || strings.Count(err.Error(), "lifecycle:") != 1 {
				t.Fatalf("error = %q, want one package prefix and %q", err, tt.wantErr)
			}
			if tt.wantErr != "nil callback" && !strings.Contains(err.Error(), tt.give.Path) {
				t.Fatalf("error = %q does not name the path", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("error = %v, want errors.Is %v", err, tt.wantIs)
			}
		})
	}
	// The refused regular file was not written to.
	if b, err := os.ReadFile(regular); err != nil || len(b) != 0 {
		t.Fatalf("refused file holds %q (err %v), want it untouched", b, err)
	}
}

// TestWatchMemoryPressureRealPSI arms a real PSI trigger on this process's
// cgroup memory.pressure, or the system-wide /proc/pressure/memory, with
// systemd's default trigger; it skips where the kernel has no PSI.
func TestWatchMemoryPressureRealPSI(t *testing.T) {
	path := cgroupMemoryPressure()
	if path == "" {
		path = "/proc/pressure/memory"
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no PSI file: %v", err)
	}
	w, err := lifecycle.WatchMemoryPressure(context.Background(), lifecycle.MemoryPressure{Path: path}, func() {})
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("PSI disabled in this kernel: %v", err)
	}
	if err != nil {
		t.Fatalf("arming %s: %v", path, err)
	}
	t.Logf("armed %s", path)
	if k := sdwire.WatcherKind(w); k != "psi" {
		t.Fatalf("kind = %q, want psi", k)
	}
	if err := w.Close(); err != nil || w.Err() != nil {
		t.Fatalf("Close() = %v, Err() = %v", err, w.Err())
	}
}

// cgroupMemoryPressure returns the memory.pressure file of this process's
// cgroup v2 group, or "" when there is none.
func cgroupMemoryPressure() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	var group string
	for line := range strings.Lines(string(b)) {
		if g, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			group = g
		}
	}
	if group == "" {
		return ""
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		rel, err := filepath.Rel(f[3], group)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		p := filepath.Join(f[4], rel, "memory.pressure")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
