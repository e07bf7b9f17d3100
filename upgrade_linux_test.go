package sdlife_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// asBinary makes path the binary a reload compares with the running one
// (argv[0], the path ExecStart= names) for the rest of the test.
func asBinary(t *testing.T, path string) {
	t.Helper()
	old := os.Args[0]
	os.Args[0] = path
	t.Cleanup(func() { os.Args[0] = old })
}

// A reload while the binary at the ExecStart= path cannot serve is an
// upgrade that fails: RELOADING=1, STATUS= saying "upgrade failed: <why>",
// READY=1, and the process serves on in state Ready. No reloader runs: the
// configuration stays as it is.
func TestUpgradeBrokenBinary(t *testing.T) {
	tests := []struct {
		name string
		give func(t *testing.T, path string) // writes the binary at path
		want string
	}{
		{"missing", func(*testing.T, string) {}, "no such file"},
		{"not executable", func(t *testing.T, p string) { writeScript(t, p, "exit 0", 0o644) }, "not executable"},
		{"exits 1 at start", func(t *testing.T, p string) { writeScript(t, p, "exit 1", 0o755) }, "exited with status 1"},
		{"hangs at start", func(t *testing.T, p string) { writeScript(t, p, "exec sleep 30", 0o755) }, "READY=1 within 300ms"},
		{"killed at start", func(t *testing.T, p string) { writeScript(t, p, "kill -SEGV $$", 0o755) }, "SIGSEGV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "service")
			tt.give(t, path)
			asBinary(t, path)
			var reloaded atomic.Int32
			h := newHarness(t)
			svc := h.newService(func(o *sdlife.Options) { o.UpgradeTimeout = 300 * time.Millisecond })
			svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error { reloaded.Add(1); return nil }))
			r := h.run(svc, hello())
			h.wait(ready, "READY=1")
			// An idle keep-alive connection, parked while the new binary
			// starts, is served again after the failure.
			idle, err := net.Dial("tcp", svc.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			br := bufio.NewReader(idle)
			askOn := func(when string) {
				t.Helper()
				_ = idle.SetDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%s: the idle connection: %v", when, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "hello\n" || resp.Close {
					t.Errorf("%s: the idle connection: %d %q close=%v", when, resp.StatusCode, body, resp.Close)
				}
			}
			askOn("before the upgrade")
			seq := h.last()
			svc.Reload()
			h.reloaded(seq)
			askOn("after the failed upgrade")
			failed := h.after(seq, sdtest.StatusContains("upgrade failed: "), "STATUS=upgrade failed")
			if !strings.Contains(failed.Raw, tt.want) {
				t.Errorf("STATUS %q does not say %q", failed.Raw, tt.want)
			}
			if svc.State() != sdlife.StateReady {
				t.Errorf("state %v after the failed upgrade", svc.State())
			}
			if n := reloaded.Load(); n != 0 {
				t.Errorf("the reloader ran %d times: a failed upgrade is not a configuration reload", n)
			}
			if code, body, err := get(r.url("/")); err != nil || code != 200 || body != "hello\n" {
				t.Errorf("after the failed upgrade: GET / = %d %q, %v", code, body, err)
			}
			r.stop(t)
		})
	}
}

// With UpgradeTimeout negative, a reload only reloads the configuration,
// whatever the binary on disk.
func TestUpgradeOff(t *testing.T) {
	asBinary(t, filepath.Join(t.TempDir(), "missing"))
	var reloaded atomic.Int32
	h := newHarness(t)
	svc := h.newService(func(o *sdlife.Options) { o.UpgradeTimeout = -1 })
	svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error { reloaded.Add(1); return nil }))
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	seq := h.last()
	svc.Reload()
	h.reloaded(seq)
	if n := reloaded.Load(); n != 1 {
		t.Errorf("the reloader ran %d times, want 1", n)
	}
	if h.countSince(seq, sdtest.StatusContains("upgrade")) != 0 {
		t.Errorf("an upgrade was tried with upgrades off:\n%s", h.dump())
	}
	r.stop(t)
}

// A stop while the new binary is starting calls the upgrade off: the new
// process is stopped, the old one drains and Run returns, with no READY=1
// after STOPPING=1.
func TestUpgradeStopWhileStarting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "service")
	writeScript(t, path, "exec sleep 30", 0o755)
	asBinary(t, path)
	h := newHarness(t)
	svc := h.newService(func(o *sdlife.Options) { o.UpgradeTimeout = 30 * time.Second })
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	seq := h.last()
	svc.Reload()
	h.after(seq, reloading, "RELOADING=1")
	r.stop(t)
	st := h.seq(stopping)
	if n := h.countSince(st, ready); n != 0 {
		t.Errorf("READY=1 after STOPPING=1:\n%s", h.dump())
	}
}

func writeScript(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
}

// An upgrade in process, under the fake manager: the test binary, copied
// to a new file that argv[0] then names, is started as the new process
// (TestMain's upgradeChild) with the listener and an idle keep-alive
// connection. The manager hears RELOADING=1, then MAINPID=<new> with
// READY=1 in one message from the old process; Run returns nil in the old
// process, which sent no STOPPING=1; the new process answers on the same
// listener and on the same idle connection.
func TestUpgradeInProcess(t *testing.T) {
	asBinary(t, copyOfTestBinary(t))
	t.Setenv(upgradeChildEnv, "new")

	h := newHarness(t, sdtest.WithFDStore(8))
	svc := h.newService(func(o *sdlife.Options) { o.UpgradeTimeout = 10 * time.Second })
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	addr := svc.Addr().String()
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	br := bufio.NewReader(idle)
	ask := func(want string) {
		t.Helper()
		_ = idle.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the idle connection: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want+"\n" || resp.Close {
			t.Fatalf("the idle connection: %d %q close=%v, want %q", resp.StatusCode, body, resp.Close, want)
		}
	}
	ask("hello")

	seq := h.last()
	svc.Reload()
	h.after(seq, reloading, "RELOADING=1")
	handOver := h.after(seq, sdtest.Has("READY", "1"), "READY=1 with MAINPID=")
	pidText, ok := handOver.Get("MAINPID")
	if !ok || handOver.PID != os.Getpid() {
		t.Fatalf("the reload ended with %q from PID %d, want MAINPID= with READY=1 from this process", handOver.Raw, handOver.PID)
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid == os.Getpid() {
		t.Fatalf("MAINPID=%q", pidText)
	}
	defer func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			t.Errorf("waiting for the new process: %v", err)
		} else if ws.ExitStatus() != 0 {
			t.Errorf("the new process exited with %v", ws)
		}
	}()
	if err := r.wait(t); err != nil {
		t.Errorf("the old process's Run: %v", err)
	}
	if n := h.countSince(seq, stopping); n != 0 {
		t.Errorf("the old process sent STOPPING=1 after the hand-over:\n%s", h.dump())
	}
	ask("new") // the same TCP connection, now the new process's
	if code, body, err := get("http://" + addr + "/"); err != nil || code != 200 || body != "new\n" {
		t.Errorf("a new connection after the upgrade: %d %q %v", code, body, err)
	}
}

// A new binary whose health checks fail is not adopted: it reports the
// failure instead of READY=1 and exits, the old process says why in
// STATUS= and serves on.
func TestUpgradeUnhealthyBinary(t *testing.T) {
	path := copyOfTestBinary(t)
	asBinary(t, path)
	t.Setenv(upgradeChildEnv, "unhealthy")
	h := newHarness(t, sdtest.WithFDStore(8))
	svc := h.newService(func(o *sdlife.Options) { o.UpgradeTimeout = 10 * time.Second })
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	seq := h.last()
	svc.Reload()
	h.reloaded(seq)
	failed := h.after(seq, sdtest.StatusContains("upgrade failed: "), "STATUS=upgrade failed")
	if !strings.Contains(failed.Raw, "health checks failing: db: connection refused") {
		t.Errorf("STATUS %q does not name the failing check", failed.Raw)
	}
	hasMainPID := func(m sdtest.Message) bool { _, ok := m.Get("MAINPID"); return ok }
	if n := h.countSince(seq, hasMainPID); n != 0 {
		t.Errorf("a MAINPID= went out for an unhealthy binary:\n%s", h.dump())
	}
	if code, body, err := get(r.url("/")); err != nil || code != 200 || body != "hello\n" {
		t.Errorf("after the refused upgrade: GET / = %d %q, %v", code, body, err)
	}
	r.stop(t)
}

// copyOfTestBinary copies the running test binary to a new file: another
// inode, so that a reload takes it for a new build.
func copyOfTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "service")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
