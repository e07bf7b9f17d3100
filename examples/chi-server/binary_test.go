package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// binary is the example built once for all tests that drive it as a real
// process.
var binary string

// testVersion is the version the tests' binary is built with.
const testVersion = "test-1.2.3"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chi-server-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chi-server")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build chi-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running chi-server process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	config string
	log    *logBuffer
	exited chan struct{}
}

// logBuffer collects the process's stderr for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeConfig(t *testing.T, path string, fields map[string]string) {
	t.Helper()
	var parts []string
	for k, v := range fields {
		parts = append(parts, strconv.Quote(k)+":"+strconv.Quote(v))
	}
	if err := os.WriteFile(path, []byte("{"+strings.Join(parts, ",")+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startServer starts chi-server with a config listening on a free port.
// env adds variables (for example NOTIFY_SOCKET); it does not wait for
// readiness.
func startServer(t *testing.T, fields map[string]string, env ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{t: t, addr: freeAddr(t), config: filepath.Join(dir, "config.json"), log: &logBuffer{}, exited: make(chan struct{})}
	if fields == nil {
		fields = map[string]string{}
	}
	fields["listen"] = s.addr
	writeConfig(t, s.config, fields)
	s.cmd = exec.Command(binary, "-config", s.config)
	s.cmd.Env = append(cleanEnv(), env...)
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("chi-server log:\n%s", s.log)
		}
	})
	return s
}

// cleanEnv is the test's environment without any service-manager
// variables the test itself may run under.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID", "FDSTORE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// get returns the status and body of a GET, failing the test on a
// transport error.
func (s *server) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.url(path))
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUp polls until the server answers, for standalone runs that have no
// READY to wait for.
func (s *server) waitUp() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("chi-server exited early:\n%s", s.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatal("chi-server did not start listening")
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) exitCode() int {
	s.t.Helper()
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		s.t.Fatal("chi-server did not exit")
		return -1
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStandalone(t *testing.T) {
	s := startServer(t, map[string]string{"greeting": "standalone"})
	s.waitUp()
	if code, body := s.get("/"); code != 200 || body != "standalone\n" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if code, body := s.get("/version"); code != 200 || body != testVersion+"\n" {
		t.Fatalf("GET /version = %d %q, want the -X main.version of the build", code, body)
	}
	s.signal(syscall.SIGTERM)
	if code := s.exitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	log := s.log.String()
	if n := strings.Count(strings.ToLower(log), "systemd"); n != 1 {
		t.Fatalf("the log mentions systemd %d times, want exactly once:\n%s", n, log)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		give string // config file content; "" means no file
		want string
	}{
		{name: "missing file", give: "", want: "no such file"},
		{name: "unknown field", give: `{"greting":"x"}`, want: `unknown field "greting"`},
		{name: "bad JSON", give: `{`, want: "unexpected EOF"},
		{name: "bad listen", give: `{"listen":"nope"}`, want: `listen "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sdtest.NewManager(t)
			path := filepath.Join(t.TempDir(), "config.json")
			if tt.give != "" {
				os.WriteFile(path, []byte(tt.give), 0o644)
			}
			cmd := exec.Command(binary, "-config", path)
			cmd.Env = append(cleanEnv(), "NOTIFY_SOCKET="+m.Environment().NotifySocket)
			out, err := cmd.CombinedOutput()
			if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
				t.Fatalf("exit: %v, want code 1; output %q", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "chi-server: ") || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("output %q: want one line mentioning %q", out, tt.want)
			}
			msg, err := m.Wait(ctxT(t), sdtest.Has("STATUS", ""))
			if err != nil || !strings.Contains(msg.Raw, tt.want) {
				t.Fatalf("manager got %+v, %v; want a STATUS with %q", msg, err, tt.want)
			}
		})
	}
}

// underManager starts chi-server with a fake manager's socket and waits
// for READY=1.
func underManager(t *testing.T, fields map[string]string, opts ...sdtest.Option) (*server, *sdtest.Manager, sdtest.Message) {
	t.Helper()
	m := sdtest.NewManager(t, opts...)
	env := []string{"NOTIFY_SOCKET=" + m.Environment().NotifySocket}
	e := m.Environment()
	if e.WatchdogUSec != "" {
		env = append(env, "WATCHDOG_USEC="+e.WatchdogUSec) // no WATCHDOG_PID: the child's PID is not known yet
	}
	if e.FDStore != "" {
		env = append(env, "FDSTORE="+e.FDStore)
	}
	s := startServer(t, fields, env...)
	ready, err := m.Wait(ctxT(t), sdtest.Has("READY", "1"))
	if err != nil {
		t.Fatalf("no READY=1: %v\n%s", err, s.log)
	}
	return s, m, ready
}

func TestUnderManager(t *testing.T) {
	s, m, ready := underManager(t, map[string]string{"greeting": "managed"}, sdtest.WithFDStore(4))
	if ready.PID != s.cmd.Process.Pid {
		t.Fatalf("READY from pid %d, want %d", ready.PID, s.cmd.Process.Pid)
	}
	// READY means serving: no retry needed.
	if code, body := s.get("/"); code != 200 || body != "managed\n" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	if code, _ := s.get("/readyz"); code != 200 {
		t.Fatalf("GET /readyz = %d", code)
	}
	if code, _ := s.get("/healthz"); code != 200 {
		t.Fatalf("GET /healthz = %d", code)
	}
	if code, _ := s.get("/slow?ms=50"); code != 200 {
		t.Fatalf("GET /slow?ms=50 = %d", code)
	}
	for _, bad := range []string{"/slow", "/slow?ms=x", "/slow?ms=-1", "/slow?ms=60001"} {
		if code, _ := s.get(bad); code != 400 {
			t.Fatalf("GET %s = %d, want 400", bad, code)
		}
	}
	// The listener went to the fd store under "http".
	stored := m.Stored()
	if len(stored) != 1 || stored[0].Name != "http" {
		t.Fatalf("fd store holds %+v, want the listener as http", stored)
	}
	// STATUS counts requests, refreshed about once a second.
	msg, err := m.Wait(ctxT(t), func(msg sdtest.Message) bool {
		v, _ := msg.Get("STATUS")
		return strings.Contains(v, " requests") && !strings.Contains(v, " 0 requests")
	})
	if err != nil {
		t.Fatalf("no STATUS with a request count: %v; messages %+v", err, m.Messages())
	}
	status, _ := msg.Get("STATUS")
	if n := requestCount(t, status); n < 1 {
		t.Fatalf("STATUS %q counts %d requests", status, n)
	}
}

// requestCount extracts N from "... N requests ...".
func requestCount(t *testing.T, status string) int {
	t.Helper()
	fields := strings.Fields(status)
	for i, f := range fields {
		if strings.HasPrefix(f, "requests") && i > 0 {
			n, err := strconv.Atoi(strings.TrimSuffix(fields[i-1], ":"))
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no request count in %q", status)
	return 0
}

func TestReload(t *testing.T) {
	s, m, ready := underManager(t, map[string]string{"greeting": "one"})

	// A good config: RELOADING=1 with MONOTONIC_USEC, then READY=1, and
	// the new greeting is served as soon as READY arrives.
	writeConfig(t, s.config, map[string]string{"listen": s.addr, "greeting": "two"})
	s.signal(syscall.SIGHUP)
	reloading, err := m.Wait(ctxT(t), sdtest.After(ready.Seq, sdtest.Has("RELOADING", "1")))
	if err != nil || !sdtest.Has("MONOTONIC_USEC", "")(reloading) {
		t.Fatalf("RELOADING: %+v, %v", reloading, err)
	}
	ready, err = m.Wait(ctxT(t), sdtest.After(reloading.Seq, sdtest.Has("READY", "1")))
	if err != nil {
		t.Fatal(err)
	}
	if _, body := s.get("/"); body != "two\n" {
		t.Fatalf("after reload GET / = %q", body)
	}

	// A bad config: the old one stays, the service stays up, STATUS says
	// why, and the reload still ends with READY=1.
	os.WriteFile(s.config, []byte(`{"greeting":`), 0o644)
	s.signal(syscall.SIGHUP)
	reloading, err = m.Wait(ctxT(t), sdtest.After(ready.Seq, sdtest.Has("RELOADING", "1")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Wait(ctxT(t), sdtest.After(reloading.Seq, sdtest.Has("READY", "1"))); err != nil {
		t.Fatal(err)
	}
	if _, body := s.get("/"); body != "two\n" {
		t.Fatalf("after a bad reload GET / = %q, want the old greeting", body)
	}
	if _, err := m.Wait(ctxT(t), sdtest.After(reloading.Seq, func(msg sdtest.Message) bool {
		v, _ := msg.Get("STATUS")
		return strings.Contains(v, "invalid JSON") || strings.Contains(v, "unexpected EOF")
	})); err != nil {
		t.Fatalf("STATUS does not say why the reload failed: %v; %+v", err, m.Messages())
	}
}

func TestHealthFlipStopsWatchdog(t *testing.T) {
	down := filepath.Join(t.TempDir(), "down")
	s, m, _ := underManager(t, map[string]string{"down_file": down}, sdtest.WithWatchdog(400*time.Millisecond))
	ping, err := m.Wait(ctxT(t), sdtest.Has("WATCHDOG", "1"))
	if err != nil {
		t.Fatalf("no watchdog ping: %v", err)
	}
	if code, _ := s.get("/healthz"); code != 200 {
		t.Fatalf("healthy /healthz = %d", code)
	}
	os.WriteFile(down, nil, 0o644)
	if code, _ := s.get("/healthz"); code != 503 {
		t.Fatalf("with down_file /healthz = %d, want 503", code)
	}
	// Pings stop: after a settling period, a whole watchdog interval
	// passes without one.
	time.Sleep(600 * time.Millisecond)
	settled := len(m.Messages())
	time.Sleep(800 * time.Millisecond)
	for _, msg := range m.Messages()[settled:] {
		if sdtest.Has("WATCHDOG", "1")(msg) {
			t.Fatalf("watchdog pinged while unhealthy: %+v", msg)
		}
	}
	os.Remove(down)
	if _, err := m.Wait(ctxT(t), sdtest.After(ping.Seq+settled, sdtest.Has("WATCHDOG", "1"))); err != nil {
		t.Fatalf("pings did not resume once healthy: %v", err)
	}
	if code, _ := s.get("/healthz"); code != 200 {
		t.Fatalf("healthy again /healthz = %d", code)
	}
}

func TestStopDrainsInFlight(t *testing.T) {
	s, m, ready := underManager(t, nil)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.url("/slow?ms=1500"))
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{code: resp.StatusCode}
	}()
	time.Sleep(300 * time.Millisecond) // the request is in flight
	s.signal(syscall.SIGTERM)
	stopping, err := m.Wait(ctxT(t), sdtest.After(ready.Seq, sdtest.Has("STOPPING", "1")))
	if err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.code != 200 {
		t.Fatalf("in-flight request: %d, %v; want 200", r.code, r.err)
	}
	if code := s.exitCode(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	// STOPPING=1 came before anything else of the stop.
	for _, msg := range m.Messages()[ready.Seq : stopping.Seq-1] {
		if !sdtest.Has("STATUS", "")(msg) && !sdtest.Has("WATCHDOG", "")(msg) {
			t.Fatalf("%q before STOPPING=1", msg.Raw)
		}
	}
}
