//go:build linux

package upgrade

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// childConfig is a Config that starts the test binary as the new process
// in mode, under m, handing it files.
func childConfig(t *testing.T, m *sdtest.Manager, mode string, files ...lifecycle.NamedFile) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Path:      exe,
		Args:      []string{"-test.run=^$"},
		Environ:   append(os.Environ(), envChild+"="+mode),
		Manager:   m.Environment(),
		Files:     files,
		Timeout:   10 * time.Second,
		KillGrace: time.Second,
	}
}

// reaped fails the test unless pid no longer exists.
func reaped(t *testing.T, pid int) {
	t.Helper()
	if pid <= 0 {
		t.Fatalf("PID %d: no process was started", pid)
	}
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("PID %d still exists (kill 0: %v): not reaped", pid, err)
	}
}

func TestHandOver(t *testing.T) {
	m := sdtest.NewManager(t, sdtest.WithWatchdog(time.Minute))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	// An idle keep-alive connection: client end here, server end handed.
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sf, err := server.(*net.TCPConn).File()
	server.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Start(ctx, childConfig(t, m, "ready",
		lifecycle.NamedFile{Name: "http", File: lf},
		lifecycle.NamedFile{Name: "http-conn-1", File: sf}))
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PID()
	if got := c.Status(); got != "warming up" {
		t.Errorf("Status() = %q, want the child's last status before READY=1, %q", got, "warming up")
	}
	// Before the hand-over the new process is silent towards the manager.
	for _, msg := range m.Messages() {
		if msg.PID == pid {
			t.Errorf("the new process reached the manager before its adoption: %q", msg.Raw)
		}
	}

	if err := c.HandOver(m.Notifier()); err != nil {
		t.Fatal(err)
	}
	// The parent's part ends here: it stops accepting and closes its copies.
	l.Close()
	sf.Close()

	msg, err := m.Wait(ctx, sdtest.Has("MAINPID", strconv.Itoa(pid)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.PID != os.Getpid() {
		t.Errorf("MAINPID= sent by PID %d, want the old process %d", msg.PID, os.Getpid())
	}
	for _, kv := range []string{"READY=1", "WATCHDOG=1"} {
		k, v, _ := strings.Cut(kv, "=")
		if !sdtest.Has(k, v)(msg) {
			t.Errorf("hand-over %q lacks %s: one datagram must carry it", msg.Raw, kv)
		}
	}
	if sdtest.Has("MAINPIDFD", "1")(msg) != (msg.NumFDs == 1) {
		t.Errorf("hand-over %q carries %d descriptors: MAINPIDFD=1 needs exactly one", msg.Raw, msg.NumFDs)
	}
	if _, err := unix.PidfdOpen(os.Getpid(), 0); err == nil && !sdtest.Has("MAINPIDFD", "1")(msg) {
		t.Errorf("pidfds work here, but the hand-over %q has no MAINPIDFD=1", msg.Raw)
	}

	adopted, err := m.Wait(ctx, sdtest.Has("X_ADOPTED", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if adopted.PID != pid {
		t.Errorf("after the adoption the child's messages come from PID %d, want %d", adopted.PID, pid)
	}
	if adopted.Seq < msg.Seq {
		t.Errorf("the child's message #%d arrived before the hand-over #%d", adopted.Seq, msg.Seq)
	}
	for _, kv := range []string{"X_LISTEN_PID_OK=true", "X_WATCHDOG_PID_OK=true",
		"X_FDNAMES=http:http-conn-1:" + ChannelName, "X_NOTIFY_SOCKET_UNSET=true"} {
		k, v, _ := strings.Cut(kv, "=")
		if !sdtest.Has(k, v)(adopted) {
			got, _ := adopted.Get(k)
			t.Errorf("in the new process %s=%q, want %q", k, got, v)
		}
	}
	// The status set between READY=1 and the adoption is not lost.
	st, err := m.Wait(ctx, sdtest.Has("STATUS", "adopting"))
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != pid {
		t.Errorf("STATUS=adopting from PID %d, want %d", st.PID, pid)
	}

	want := "served by " + strconv.Itoa(pid) + "\n"
	line, err := bufio.NewReader(client).ReadString('\n')
	if err != nil || line != "idle "+want {
		t.Errorf("idle connection: read %q, %v; want %q", line, err, "idle "+want)
	}
	fresh, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("the listener closed with the old process's copy: %v", err)
	}
	defer fresh.Close()
	line, err = bufio.NewReader(fresh).ReadString('\n')
	if err != nil || line != want {
		t.Errorf("fresh connection: read %q, %v; want %q", line, err, want)
	}

	// The old process does not reap an adopted child (PID 1 will); the
	// test does.
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := p.Wait()
	if err != nil || ps.ExitCode() != 0 {
		t.Errorf("the new process ended with %v, %v; want status 0", ps, err)
	}
}

func TestStartFails(t *testing.T) {
	tests := []struct {
		name    string
		give    string // the child's mode
		timeout time.Duration
		want    string
	}{
		{name: "exit", give: "exit1", want: " exited with status 1: start failed: config /etc/x.json: unknown field \"listn\""},
		{name: "seccomp", give: "sigsys", want: " was killed by SIGSYS (a system call its seccomp filter denies: see SystemCallFilter=): loading"},
		{name: "crash", give: "sigsegv", want: " was killed by SIGSEGV: loading"},
		{name: "killed", give: "sigkill", want: " was killed by SIGKILL: loading"},
		{name: "hang", give: "hang", timeout: time.Second, want: " did not report READY=1 within 1s: warming cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := sdtest.NewManager(t)
			cfg := childConfig(t, m, tt.give)
			if tt.timeout > 0 {
				cfg.Timeout = tt.timeout
			}
			c, err := Start(context.Background(), cfg)
			if err == nil {
				c.Stop()
				t.Fatal("Start succeeded")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			want := "upgrade failed: " + cfg.Path + tt.want
			if err.Error() != want {
				t.Errorf("error:\n got %q\nwant %q", err, want)
			}
			reaped(t, e.PID)
			for _, msg := range m.Messages() {
				t.Errorf("the failed child reached the manager: %q from PID %d", msg.Raw, msg.PID)
			}
		})
	}
}

func TestStartBadBinary(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		give   string
		want   string
		wantIs error
	}{
		{name: "missing", give: filepath.Join(dir, "nope"), want: filepath.Join(dir, "nope") + ": no such file", wantIs: fs.ErrNotExist},
		{name: "not executable", give: plain, want: plain + ": not executable (mode -rw-r--r--)", wantIs: fs.ErrPermission},
		{name: "directory", give: dir, want: dir + ": not a regular file"},
		{name: "relative", give: "bin/server", want: `binary path "bin/server" is not absolute`},
	}
	m := sdtest.NewManager(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := childConfig(t, m, "ready")
			cfg.Path = tt.give
			c, err := Start(context.Background(), cfg)
			if err == nil {
				c.Stop()
				t.Fatal("Start succeeded")
			}
			_, rerr := Replaced(tt.give)
			for _, err := range []error{err, rerr} {
				var e *Error
				if !errors.As(err, &e) || e.PID != 0 {
					t.Errorf("error %v: want an *Error with no process", err)
				}
				if !strings.HasPrefix(err.Error(), "upgrade failed: "+tt.want) {
					t.Errorf("error %q, want it to start with %q", err, "upgrade failed: "+tt.want)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %v is not %v", err, tt.wantIs)
				}
			}
		})
	}
}

func TestStartNeedsManager(t *testing.T) {
	m := sdtest.NewManager(t)
	cfg := childConfig(t, m, "ready")
	cfg.Manager = lifecycle.Environment{}
	if c, err := Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "NOTIFY_SOCKET is unset") {
		if c != nil {
			c.Stop()
		}
		t.Errorf("Start without a manager: %v; want a refusal", err)
	}
}

func TestStartCanceled(t *testing.T) {
	m := sdtest.NewManager(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	cfg := childConfig(t, m, "hang")
	c, err := Start(ctx, cfg)
	if err == nil {
		c.Stop()
		t.Fatal("Start succeeded")
	}
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v: want an *Error matching context.Canceled", err)
	}
	if want := "upgrade failed: " + cfg.Path + ": start canceled: context canceled"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	reaped(t, e.PID)
}

func TestStartExtend(t *testing.T) {
	m := sdtest.NewManager(t)
	cfg := childConfig(t, m, "extend")
	cfg.Timeout = 500 * time.Millisecond // the child is ready after 1.5s
	var extended atomic.Int64
	cfg.OnExtend = func(d time.Duration) { extended.Store(int64(d)) }
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("EXTEND_TIMEOUT_USEC= did not extend the bound: %v", err)
	}
	pid := c.PID()
	c.Stop()
	reaped(t, pid)
	if got := time.Duration(extended.Load()); got != 5*time.Second {
		t.Errorf("OnExtend got %v, want the child's 5s", got)
	}
}

// The old process goes away before the hand-over: its end of the channel
// closes, as it does when the process dies. The new process must give up
// and exit non-zero instead of waiting to be adopted.
func TestChildAbandoned(t *testing.T) {
	m := sdtest.NewManager(t)
	c, err := Start(context.Background(), childConfig(t, m, "orphan"))
	if err != nil {
		t.Fatal(err)
	}
	c.claim()
	c.release()
	start := time.Now()
	ws, err := c.reap(10 * time.Second)
	if err != nil || !ws.Exited() || ws.ExitStatus() != 3 {
		t.Errorf("abandoned child ended with %v (%s), want exit status 3 from ErrAbandoned", err, describeExit(ws, err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("abandoned child took %v to exit", d)
	}
}

func TestHandOverWithoutManager(t *testing.T) {
	m := sdtest.NewManager(t)
	c, err := Start(context.Background(), childConfig(t, m, "ready"))
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PID()
	n, _ := lifecycle.NewNotifier(lifecycle.Environment{})
	err = c.HandOver(n)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "not running under a service manager") {
		t.Errorf("HandOver without a manager: %v; want an *Error", err)
	}
	reaped(t, pid)
	if err := c.HandOver(m.Notifier()); err == nil {
		t.Error("second HandOver succeeded")
	}
}

func TestReplaced(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "current")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir, "new")
	if err := os.WriteFile(copied, data, 0o755); err != nil {
		t.Fatal(err)
	}
	relinked := filepath.Join(dir, "release")
	if err := os.Symlink(copied, relinked); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give string
		want bool
	}{
		{name: "running binary", give: exe, want: false},
		{name: "symlink to it", give: link, want: false},
		{name: "same content, other file", give: copied, want: true},
		{name: "symlink switched to another file", give: relinked, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Replaced(tt.give)
			if err != nil || got != tt.want {
				t.Errorf("Replaced(%s) = %t, %v; want %t", tt.give, got, err, tt.want)
			}
		})
	}
}

func TestChildEnviron(t *testing.T) {
	base := []string{"PATH=/bin", "LISTEN_PID=1", "LISTEN_FDS=9", "LISTEN_FDNAMES=x", "NOTIFY_SOCKET=/old",
		"WATCHDOG_PID=1", "WATCHDOG_USEC=5", envNotifySocket + "=/stale", "FDSTORE=10", "LISTEN_PIDX=kept"}
	m := lifecycle.Environment{NotifySocket: "/run/systemd/notify", WatchdogUSec: "3000000"}
	tests := []struct {
		name     string
		watchdog bool
		want     []string
	}{
		{name: "no watchdog", want: []string{"PATH=/bin", "FDSTORE=10", "LISTEN_PIDX=kept", "LISTEN_FDS=2",
			"LISTEN_FDNAMES=http:" + ChannelName, envNotifySocket + "=/run/systemd/notify"}},
		{name: "watchdog", watchdog: true, want: []string{"PATH=/bin", "FDSTORE=10", "LISTEN_PIDX=kept", "LISTEN_FDS=2",
			"LISTEN_FDNAMES=http:" + ChannelName, envNotifySocket + "=/run/systemd/notify", "WATCHDOG_USEC=3000000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := childEnviron(base, m, []string{"http", ChannelName}, tt.watchdog)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("childEnviron:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDescribeExit(t *testing.T) {
	tests := []struct {
		name string
		give unix.WaitStatus
		want string
	}{
		{name: "exit", give: 1 << 8, want: "exited with status 1"},
		{name: "not found", give: 127 << 8, want: "exited with status 127 (not found?)"},
		{name: "seccomp", give: unix.WaitStatus(unix.SIGSYS), want: "was killed by SIGSYS (a system call its seccomp filter denies: see SystemCallFilter=)"},
		{name: "core", give: unix.WaitStatus(unix.SIGSEGV) | 0x80, want: "was killed by SIGSEGV (core dumped)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeExit(tt.give, nil); got != tt.want {
				t.Errorf("describeExit(%#x) = %q, want %q", uint32(tt.give), got, tt.want)
			}
		})
	}
}
