package fxmodule_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// The same service without fx: New, then the phases by hand.
func TestWithoutFx(t *testing.T) {
	h := newHarness(t, sdtest.WithWatchdog(wdInterval))
	res, err := fxmodule.New(fxmodule.Params{Config: h.config()})
	if err != nil {
		t.Fatal(err)
	}
	svc := res.Service
	reloads := 0
	svc.AddReloader(fxmodule.ReloadFunc(func(context.Context) error { reloads++; return nil }))
	res.Health.Add(httpadapter.Check{Name: "ok", Func: func(context.Context) error { return nil }})

	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(res.Counters.Middleware(http.NotFoundHandler()))
	defer srv.Close()
	if err := svc.Ready(); err != nil {
		t.Fatal(err)
	}
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	if res.Readiness.State() != httpadapter.StateReady {
		t.Errorf("readiness %v", res.Readiness.State())
	}
	h.wait(sdtest.Has("WATCHDOG", "1"), "a watchdog ping")

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.wait(statusContains("Serving: 1 requests"), "STATUS with 1 request")

	seq := h.last()
	svc.Reload()
	r := h.wait(sdtest.After(seq, sdtest.Has("RELOADING", "1")), "RELOADING=1")
	h.wait(sdtest.After(r.Seq, sdtest.Has("READY", "1")), "READY=1")

	svc.Stopping()
	srv.Close()
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if reloads != 1 {
		t.Errorf("%d reloads", reloads)
	}
	if res.Readiness.State() != httpadapter.StateStopping {
		t.Errorf("readiness %v after Stop", res.Readiness.State())
	}
	if err := svc.Start(ctx); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestWithoutFxStartFailed(t *testing.T) {
	h := newHarness(t)
	res, err := fxmodule.New(fxmodule.Params{Config: h.config()})
	if err != nil {
		t.Fatal(err)
	}
	svc := res.Service
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	svc.StartFailed(errors.Join(errors.New("open /etc/app.json"), syscall.ENOENT))
	if err := svc.Ready(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if h.seq("READY", "1") != 0 {
		t.Errorf("READY=1 after StartFailed:\n%s", h.dump())
	}
	h.wait(sdtest.Has("ERRNO", "2"), "ERRNO=2")
	h.wait(statusContains("start failed: open /etc/app.json"), "STATUS")
}

func TestNewRejectsBadEnvironment(t *testing.T) {
	h := newHarness(t)
	cfg := h.config()
	env := *cfg.Environment
	env.WatchdogUSec = "soon"
	cfg.Environment = &env
	if _, err := fxmodule.New(fxmodule.Params{Config: cfg}); err == nil {
		t.Error("New accepted WATCHDOG_USEC=soon")
	}
}
