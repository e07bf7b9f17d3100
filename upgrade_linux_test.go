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

// upgradable runs a Service whose reloads compare binary with the running
// one, with UpgradeTimeout timeout, and waits for its READY=1.
func upgradable(t *testing.T, binary string, timeout time.Duration, opts ...sdtest.Option) (*harness, *sdlife.Service, *running) {
	t.Helper()
	asBinary(t, binary)
	h := newHarness(t, opts...)
	svc := h.newService(func(o *sdlife.Options) { o.UpgradeTimeout = timeout })
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	return h, svc, r
}

// failedUpgrade reloads svc and returns the STATUS= that says the upgrade
// failed, after the reload's RELOADING=1 and READY=1.
func failedUpgrade(h *harness, svc *sdlife.Service) sdtest.Message {
	h.t.Helper()
	seq := h.last()
	svc.Reload()
	h.reloaded(seq)
	return h.after(seq, sdtest.StatusContains("upgrade failed: "), "STATUS=upgrade failed")
}

// keptConn is one keep-alive connection, to send requests on the very
// same TCP connection across an upgrade.
type keptConn struct {
	c  net.Conn
	br *bufio.Reader
}

func keepAlive(t *testing.T, addr string) *keptConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keptConn{c: c, br: bufio.NewReader(c)}
}

// ask sends GET / and wants 200 with want and no "Connection: close".
func (k *keptConn) ask(t *testing.T, when, want string) {
	t.Helper()
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(k.c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("%s: the kept connection: %v", when, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != want+"\n" || resp.Close {
		t.Fatalf("%s: the kept connection: %d %q close=%v, want %q", when, resp.StatusCode, body, resp.Close, want)
	}
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
			h, svc, r := upgradable(t, path, 300*time.Millisecond)
			var reloaded atomic.Int32
			svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error { reloaded.Add(1); return nil }))
			// An idle keep-alive connection, parked while the new binary
			// starts, is served again after the failure.
			idle := keepAlive(t, svc.Addr().String())
			idle.ask(t, "before the upgrade", "hello")
			failed := failedUpgrade(h, svc)
			idle.ask(t, "after the failed upgrade", "hello")
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
	h, svc, r := upgradable(t, filepath.Join(t.TempDir(), "missing"), -1)
	var reloaded atomic.Int32
	svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error { reloaded.Add(1); return nil }))
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
	h, svc, r := upgradable(t, path, 30*time.Second)
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
	t.Setenv(upgradeChildEnv, "new")
	h, svc, r := upgradable(t, copyOfTestBinary(t), 10*time.Second, sdtest.WithFDStore(8))
	addr := svc.Addr().String()
	idle := keepAlive(t, addr)
	idle.ask(t, "before the upgrade", "hello")

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
	idle.ask(t, "after the upgrade", "new") // the same TCP connection, now the new process's
	if code, body, err := get("http://" + addr + "/"); err != nil || code != 200 || body != "new\n" {
		t.Errorf("a new connection after the upgrade: %d %q %v", code, body, err)
	}
}

// A new binary that fails before it has a Service (its configuration does
// not parse) reports why through ReportStartFailure: the old process
// quotes it in STATUS= and serves on.
func TestUpgradeBinaryFailsBeforeNew(t *testing.T) {
	t.Setenv(upgradeChildEnv, "badconfig")
	h, svc, r := upgradable(t, copyOfTestBinary(t), 10*time.Second, sdtest.WithFDStore(8))
	failed := failedUpgrade(h, svc)
	if !strings.Contains(failed.Raw, `start failed: config /etc/x.json: unknown field "nope"`) {
		t.Errorf("STATUS %q does not quote the new binary's own failure", failed.Raw)
	}
	r.stop(t)
}

// A new binary whose health checks fail is not adopted: it reports the
// failure instead of READY=1 and exits, the old process says why in
// STATUS= and serves on.
func TestUpgradeUnhealthyBinary(t *testing.T) {
	t.Setenv(upgradeChildEnv, "unhealthy")
	h, svc, r := upgradable(t, copyOfTestBinary(t), 10*time.Second, sdtest.WithFDStore(8))
	seq := h.last()
	failed := failedUpgrade(h, svc)
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
