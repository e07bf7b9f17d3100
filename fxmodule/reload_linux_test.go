package fxmodule_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// store is a user's config store: a Reloader provided through the group.
type store struct {
	reload func(ctx context.Context) error
}

func (s *store) Reload(ctx context.Context) error { return s.reload(ctx) }

type reloadEnv struct {
	h   *harness
	app *fxtest.App
	svc *fxmodule.Service
	rd  *httpadapter.Readiness
}

func startWithReloader(t *testing.T, fn func(ctx context.Context) error, opts ...fx.Option) *reloadEnv {
	t.Helper()
	e := &reloadEnv{h: newHarness(t)}
	opts = append(opts,
		fx.Provide(fxmodule.AsReloader(func() *store { return &store{reload: fn} })),
		fx.Populate(&e.svc, &e.rd),
	)
	e.app = fxtest.New(t, e.h.options(e.h.config(), opts...)...).RequireStart()
	e.h.wait(sdtest.Has("READY", "1"), "READY=1")
	return e
}

// reloaded waits for RELOADING=1 after seq and the READY=1 that follows.
func (e *reloadEnv) reloaded(seq int) (reloading, ready sdtest.Message) {
	e.h.t.Helper()
	reloading = e.h.wait(sdtest.After(seq, sdtest.Has("RELOADING", "1")), "RELOADING=1")
	if v, ok := reloading.Get("MONOTONIC_USEC"); !ok || v == "" {
		e.h.t.Errorf("RELOADING=1 without MONOTONIC_USEC in the same message: %q", reloading.Raw)
	}
	ready = e.h.wait(sdtest.After(reloading.Seq, sdtest.Has("READY", "1")), "READY=1 after RELOADING=1")
	return reloading, ready
}

func TestReloadSuccess(t *testing.T) {
	var during atomic.Int32
	var e *reloadEnv
	e = startWithReloader(t, func(context.Context) error {
		during.Store(int32(e.rd.State()))
		e.h.Mark("reloader-ran")
		return nil
	})
	seq := e.h.last()
	e.svc.Reload()
	reloading, ready := e.reloaded(seq)
	ran := e.h.wait(sdtest.Has("X_MARK", "reloader-ran"), "reloader")
	if !(reloading.Seq < ran.Seq && ran.Seq < ready.Seq) {
		t.Errorf("reloader did not run between RELOADING=1 and READY=1:\n%s", e.h.dump())
	}
	if got := httpadapter.State(during.Load()); got != httpadapter.StateReloading {
		t.Errorf("readiness during reload: %v, want reloading", got)
	}
	if got := e.rd.State(); got != httpadapter.StateReady {
		t.Errorf("readiness after reload: %v, want ready", got)
	}
	e.app.RequireStop()
}

func TestReloadFailureKeepsServing(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	e := startWithReloader(t, func(context.Context) error {
		if fail.Load() {
			return errors.New("config.json: unknown field \"grreting\"")
		}
		return nil
	})
	seq := e.h.last()
	e.svc.Reload()
	_, ready := e.reloaded(seq)
	// The reason is in STATUS before the READY=1 that ends the reload, so
	// that `systemctl reload` returns with it already in place.
	failed := e.h.wait(statusContains(`reload failed: config.json: unknown field "grreting"`), "STATUS with the reload error")
	if failed.Seq > ready.Seq {
		t.Errorf("the reload error reached STATUS after READY=1:\n%s", e.h.dump())
	}
	if got := e.rd.State(); got != httpadapter.StateReady {
		t.Errorf("readiness after failed reload: %v, want ready", got)
	}
	// The next good reload clears the note.
	fail.Store(false)
	e.svc.Reload()
	_, ready2 := e.reloaded(ready.Seq)
	e.h.wait(sdtest.After(ready2.Seq-2, func(m sdtest.Message) bool {
		v, ok := m.Get("STATUS")
		return ok && strings.HasPrefix(v, "Serving") && !strings.Contains(v, "reload failed")
	}), "STATUS without the error")
	e.app.RequireStop()
}

func TestReloadPanicIsAFailure(t *testing.T) {
	e := startWithReloader(t, func(context.Context) error { panic("nil map") })
	seq := e.h.last()
	e.svc.Reload()
	e.reloaded(seq)
	e.h.wait(statusContains("reload failed: reloader panicked: nil map"), "STATUS")
	e.app.RequireStop()
}

func TestReloadBurstCoalesces(t *testing.T) {
	var runs atomic.Int32
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	e := startWithReloader(t, func(context.Context) error {
		runs.Add(1)
		entered <- struct{}{}
		<-release
		return nil
	})
	e.svc.Reload()
	<-entered // the first reload is running and blocked
	for range 10 {
		e.svc.Reload()
	}
	close(release)
	<-entered // the one coalesced extra reload
	first := e.h.wait(sdtest.Has("RELOADING", "1"), "first RELOADING=1")
	e.reloaded(first.Seq)
	// Nothing else is queued: give a third run every chance to show up.
	time.Sleep(200 * time.Millisecond)
	e.h.sync()
	if n := runs.Load(); n != 2 {
		t.Errorf("reloader ran %d times for 11 requests during one reload, want 2", n)
	}
	if n := e.h.count("RELOADING", "1"); n != 2 {
		t.Errorf("%d RELOADING=1, want 2:\n%s", n, e.h.dump())
	}
	e.app.RequireStop()
}

func TestReloadOnSIGHUP(t *testing.T) {
	var runs atomic.Int32
	e := startWithReloader(t, func(context.Context) error { runs.Add(1); return nil })
	// The handler is installed: the app is running. A SIGHUP now must
	// not kill the test process but reload.
	seq := e.h.last()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.reloaded(seq)
	if runs.Load() != 1 {
		t.Errorf("reloader ran %d times", runs.Load())
	}
	e.app.RequireStop()
}

func TestReloadRequestedWhileStartingRunsAfterReady(t *testing.T) {
	var e *reloadEnv
	var svc *fxmodule.Service
	e = startWithReloader(t, func(context.Context) error { return nil },
		fx.Invoke(func(lc fx.Lifecycle, s *fxmodule.Service) {
			svc = s
			lc.Append(fx.StartHook(func() { svc.Reload() }))
		}))
	ready := e.h.wait(sdtest.Has("READY", "1"), "READY=1")
	reloading := e.h.wait(sdtest.Has("RELOADING", "1"), "RELOADING=1")
	if reloading.Seq < ready.Seq {
		t.Errorf("reload ran before READY=1:\n%s", e.h.dump())
	}
	e.h.wait(sdtest.After(reloading.Seq, sdtest.Has("READY", "1")), "READY=1 after reload")
	e.app.RequireStop()
}

func TestStopDuringReload(t *testing.T) {
	var e *reloadEnv
	cancelled := make(chan error, 1)
	e = startWithReloader(t, func(ctx context.Context) error {
		e.h.Mark("reload-begun")
		<-ctx.Done()
		cancelled <- ctx.Err()
		return ctx.Err()
	})
	e.svc.Reload()
	e.h.wait(sdtest.Has("X_MARK", "reload-begun"), "reload")
	e.app.RequireStop()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("reloader context: %v", err)
	}
	e.h.sync()
	stopping := e.h.seq("STOPPING", "1")
	if n := e.h.countSince(stopping, "READY", "1"); stopping == 0 || n != 0 {
		t.Errorf("READY=1 after STOPPING=1:\n%s", e.h.dump())
	}
}

// AsReloader accepts constructors returning the interface itself, and
// reloaders run in registration order.
func TestAsReloaderInterfaceResult(t *testing.T) {
	h := newHarness(t)
	var svc *fxmodule.Service
	var order []string
	app := fxtest.New(t, h.options(h.config(),
		fx.Provide(fxmodule.AsReloader(func() fxmodule.Reloader {
			return fxmodule.ReloadFunc(func(context.Context) error { order = append(order, "func"); return nil })
		})),
		fx.Populate(&svc),
	)...).RequireStart()
	seq := h.wait(sdtest.Has("READY", "1"), "READY=1").Seq
	svc.AddReloader(fxmodule.ReloadFunc(func(context.Context) error { order = append(order, "added"); h.Mark("done"); return nil }))
	svc.Reload()
	h.wait(sdtest.After(seq, sdtest.Has("READY", "1")), "READY=1 after reload")
	app.RequireStop()
	if got := strings.Join(order, ","); got != "func,added" {
		t.Errorf("reloaders ran as %q", got)
	}
}
