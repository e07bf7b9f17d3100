// Package apptest holds the behaviour both adoption apps must show under
// the service manager, as test functions each app's tests call with its
// own Run: the same application, adopted with and without fx, tested the
// same way.
package apptest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"

	"example.com/adoption/plainapp"
)

// waitFor bounds every wait: "not stalled", never a synchronisation.
const waitFor = 10 * time.Second

// app is plainapp.Run in a goroutine under a fake manager, on a listener
// handed in as if by socket activation.
type app struct {
	t      *testing.T
	m      *sdtest.Manager
	mark   *lifecycle.Notifier // for barriers
	url    string
	config string
	down   atomic.Bool
	downs  chan struct{} // one per failing health check
	cancel context.CancelFunc
	done   chan error
}

// RunFunc runs the application until ctx ends or a stop signal, as
// plainapp.Run and fxapp.Run do.
type RunFunc func(ctx context.Context, opts sdlife.Options, cfg *plainapp.Config, dbHealthy func(context.Context) error) error

func start(t *testing.T, run RunFunc) *app {
	t.Helper()
	a := &app{t: t, downs: make(chan struct{}, 1024), done: make(chan error, 1)}
	a.m = sdtest.NewManager(t, sdtest.WithWatchdog(100*time.Millisecond))
	a.mark = a.m.Notifier()
	a.config = filepath.Join(t.TempDir(), "config.json")
	a.writeConfig(`{"greeting": "hello"}`)
	cfg, err := plainapp.LoadConfig(a.config)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	a.url = "http://" + l.Addr().String()
	env := a.m.Environment()
	// As if the manager had passed l through socket activation.
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	files := lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: lf})
	t.Cleanup(func() { files.Close() })
	opts := sdlife.Options{Environment: &env, Files: files, StatusInterval: 10 * time.Millisecond}
	db := func(context.Context) error {
		if a.down.Load() {
			a.downs <- struct{}{}
			return plainapp.ErrDown
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- run(ctx, opts, cfg, db) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(waitFor):
			t.Errorf("Run did not return")
		}
	})
	a.wait(sdtest.Has("READY", "1"), "READY=1")
	return a
}

func (a *app) writeConfig(s string) {
	a.t.Helper()
	if err := os.WriteFile(a.config, []byte(s), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) wait(match func(sdtest.Message) bool, what string) sdtest.Message {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	msg, err := a.m.Wait(ctx, match)
	if err != nil {
		a.t.Fatalf("waiting for %s: %v\n%s", what, err, a.dump())
	}
	return msg
}

// sync waits until the manager has read everything sent so far.
func (a *app) sync() sdtest.Message {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := a.mark.Barrier(ctx); err != nil {
		a.t.Fatal(err)
	}
	msgs := a.m.Messages()
	return msgs[len(msgs)-1]
}

func (a *app) countSince(seq int, match func(sdtest.Message) bool) int {
	n := 0
	for _, msg := range a.m.Messages() {
		if msg.Seq > seq && match(msg) {
			n++
		}
	}
	return n
}

func (a *app) dump() string {
	var b strings.Builder
	for _, msg := range a.m.Messages() {
		b.WriteString(strings.ReplaceAll(msg.Raw, "\n", " | "))
		b.WriteByte('\n')
	}
	return b.String()
}

func (a *app) get(path string) (int, string) {
	a.t.Helper()
	resp, err := http.Get(a.url + path)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

func (a *app) kill(sig syscall.Signal) {
	a.t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		a.t.Fatal(err)
	}
}

// reload sends SIGHUP and waits for RELOADING=1 (with MONOTONIC_USEC) and
// the READY=1 that ends it.
func (a *app) reload() (reloading, ready sdtest.Message) {
	a.t.Helper()
	seq := a.sync().Seq
	a.kill(syscall.SIGHUP)
	reloading = a.wait(sdtest.After(seq, sdtest.Has("RELOADING", "1")), "RELOADING=1")
	if !sdtest.Has("MONOTONIC_USEC", "")(reloading) {
		a.t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", reloading.Raw)
	}
	ready = a.wait(sdtest.After(reloading.Seq, sdtest.Has("READY", "1")), "READY=1 after the reload")
	return reloading, ready
}

func (a *app) downRounds(n int) {
	a.t.Helper()
	for range n {
		select {
		case <-a.downs:
		case <-time.After(waitFor):
			a.t.Fatal("no watchdog round")
		}
	}
}

// ReadyAndStatusCounts: READY=1, then STATUS counts the requests served.
func ReadyAndStatusCounts(t *testing.T, run RunFunc) {
	a := start(t, run)
	for range 3 {
		if code, body := a.get("/"); code != 200 || body != "hello\n" {
			t.Fatalf("GET / = %d %q", code, body)
		}
	}
	a.wait(sdtest.StatusContains("Serving: 3 requests"), "STATUS with 3 requests")
	if code, _ := a.get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d after READY=1", code)
	}
}

// ReloadGoodAndBad: SIGHUP reloads a good config; a bad one is refused,
// named in STATUS before READY=1, and the previous config keeps serving.
func ReloadGoodAndBad(t *testing.T, run RunFunc) {
	a := start(t, run)
	a.writeConfig(`{"greeting": "bonjour"}`)
	a.reload()
	if _, body := a.get("/"); body != "bonjour\n" {
		t.Errorf("after a good reload: %q", body)
	}
	a.writeConfig(`{"greeting": `)
	_, ready := a.reload()
	failed := a.wait(sdtest.StatusContains("reload failed: "+a.config), "STATUS reload failed")
	if failed.Seq > ready.Seq {
		t.Errorf("the reload error reached STATUS after READY=1:\n%s", a.dump())
	}
	if code, body := a.get("/"); code != 200 || body != "bonjour\n" {
		t.Errorf("after a bad reload: %d %q, want the previous config", code, body)
	}
}

// WatchdogStopsWhenUnhealthy: no ping while the health check fails, and
// pings again once it passes.
func WatchdogStopsWhenUnhealthy(t *testing.T, run RunFunc) {
	a := start(t, run)
	a.wait(sdtest.Has("WATCHDOG", "1"), "a watchdog ping")
	a.down.Store(true)
	unhealthy := a.wait(sdtest.StatusContains("unhealthy: db: down"), "STATUS unhealthy")
	a.downRounds(3) // two more rounds have decided
	a.sync()
	if n := a.countSince(unhealthy.Seq, sdtest.Has("WATCHDOG", "1")); n != 0 {
		t.Errorf("%d pings while unhealthy:\n%s", n, a.dump())
	}
	if code, _ := a.get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz = %d while down", code)
	}
	a.down.Store(false)
	seq := a.sync().Seq
	a.wait(sdtest.After(seq, sdtest.Has("WATCHDOG", "1")), "pings to resume")
}

// StopDrainsWithoutLoss: SIGTERM sends STOPPING=1, then every request in
// flight is answered.
func StopDrainsWithoutLoss(t *testing.T, run RunFunc) {
	a := start(t, run)
	const n = 3
	results := make(chan error, n)
	for range n {
		go func() {
			resp, err := http.Get(a.url + "/slow?ms=1000")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			results <- err
		}()
	}
	a.wait(sdtest.StatusContains(fmt.Sprintf("%d in flight", n)), "the requests in flight")
	a.kill(syscall.SIGTERM)
	a.wait(sdtest.Has("STOPPING", "1"), "STOPPING=1")
	// The line sent with STOPPING=1 proves the requests were still in
	// flight when the drain began.
	a.wait(sdtest.StatusContains(fmt.Sprintf("Stopping: 0 requests, %d in flight", n)), "STATUS Stopping with the requests in flight")
	for range n {
		if err := <-results; err != nil {
			t.Errorf("request lost in the drain: %v", err)
		}
	}
	select {
	case err := <-a.done:
		a.done <- err
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Run did not return after the drain")
	}
}
