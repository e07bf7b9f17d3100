package fxmodule_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func helloHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello\n") })
	return mux
}

func provideHandler() fx.Option {
	return fx.Provide(fx.Annotate(helloHandler, fx.As(new(http.Handler))))
}

func get(t *testing.T, addr net.Addr) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		t.Errorf("GET: %v", err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeCountsRequestsInStatus(t *testing.T) {
	var svc *sdlife.Service
	// The manager's goroutine learns of svc through a socket, which the
	// race detector does not see as synchronization: publish it.
	var published atomic.Pointer[sdlife.Service]
	readyServed := make(chan int, 1)
	// At the moment READY=1 arrives, the server must answer.
	m := sdtest.NewManager(t, sdtest.WithOnMessage(func(msg sdtest.Message) {
		if sdtest.Has("READY", "1")(msg) && len(readyServed) == 0 {
			readyServed <- get(t, published.Load().Addr())
		}
	}))
	h := &harness{t: t, m: m, env: m.Environment(), mark: m.Notifier()}
	cfg := h.config()
	cfg.Listen.Address = "127.0.0.1:0"
	app := fxtest.New(t, h.options(cfg, provideHandler(), fx.Populate(&svc))...)
	published.Store(svc)
	app.RequireStart()
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	if code := <-readyServed; code != http.StatusOK {
		t.Errorf("GET at READY=1: %d", code)
	}
	for range 3 {
		if code := get(t, svc.Addr()); code != http.StatusOK {
			t.Errorf("GET: %d", code)
		}
	}
	h.wait(statusContains("Serving: 4 requests"), "STATUS with 4 requests")
	app.RequireStop()
	h.sync()
	if n := h.count("STOPPING", "1"); n != 1 {
		t.Errorf("STOPPING=1 sent %d times:\n%s", n, h.dump())
	}
}

func TestServeWithoutHandlerFails(t *testing.T) {
	h := newHarness(t)
	cfg := h.config()
	cfg.Listen.Address = "127.0.0.1:0"
	app := fx.New(fx.NopLogger, fx.Supply(cfg), fxmodule.Module)
	if err := app.Err(); err == nil || !strings.Contains(err.Error(), "no http.Handler") {
		t.Errorf("fx.New: %v", err)
	}
}

func TestServeListenFailureFailsStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	h := newHarness(t)
	cfg := h.config()
	cfg.Listen.Address = busy.Addr().String()
	app := fxtest.New(t, h.options(cfg, provideHandler())...)
	if err := app.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded on a busy address")
	}
	h.wait(statusContains("start failed:"), "STATUS")
	h.wait(sdtest.Has("ERRNO", fmt.Sprint(int(syscall.EADDRINUSE))), "ERRNO=EADDRINUSE")
	app.Stop(context.Background())
}

// The server's listener breaks under it: the application must stop with
// exit code 1 and say why, not keep running without a server.
func TestServeErrorShutsDownApp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	cfg := h.config()
	cfg.Files = lifecycle.NewFiles(lifecycle.NamedFile{Name: "http", File: f})
	cfg.Listen.Address = "127.0.0.1:1" // unused: the descriptor wins
	var svc *sdlife.Service
	app := fxtest.New(t, h.options(cfg, provideHandler(), fx.Populate(&svc))...).RequireStart()
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	if got, want := svc.Addr().String(), ln.Addr().String(); got != want {
		t.Fatalf("serving on %s, want the passed listener %s", got, want)
	}
	// shutdown(2) on a listening socket makes every accept on it fail
	// (EINVAL), the server's copy included.
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		if err := syscall.Shutdown(int(fd), syscall.SHUT_RDWR); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	select {
	case sig := <-app.Wait():
		if sig.ExitCode != 1 {
			t.Errorf("exit code %d, want 1", sig.ExitCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the application did not stop after its server failed")
	}
	h.wait(statusContains("serve failed:"), "STATUS serve failed")
	h.wait(sdtest.Has("ERRNO", fmt.Sprint(int(syscall.EINVAL))), "ERRNO=EINVAL")
	app.RequireStop()
	t.Logf("messages:\n%s", h.dump())
}
