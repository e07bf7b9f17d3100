package fxmodule_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// Under fx.New, Module tracks the hooks of the scope it is placed in: at
// the top level, directly or inside fx.Options, that is the whole
// application, and READY=1 follows a slow OnStart hook appended by a
// root invoke after Module's own.
func TestModuleAtTopLevelOfFxNew(t *testing.T) {
	tests := []struct {
		name string
		give func(h *harness) fx.Option
	}{
		{name: "top level", give: func(h *harness) fx.Option { return fxmodule.Module }},
		{name: "in fx.Options", give: func(h *harness) fx.Option { return fx.Options(fx.Options(fxmodule.Module)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			app := fxtest.New(t, fx.Supply(h.config()), tt.give(h),
				fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) }),
			).RequireStart()
			h.wait(sdtest.Has("READY", "1"), "READY=1")
			h.before("X_MARK", "user-started", "READY", "1")
			app.RequireStop()
			h.sync()
			h.before("STOPPING", "1", "X_MARK", "user-stopped")
		})
	}
}

// Run tracks the top level itself: Module left out, among its options or
// inside an fx.Module of theirs (a platform module bundling it, say),
// READY=1 follows the slow OnStart hook a root invoke appends after it,
// and STOPPING=1 precedes that hook's OnStop.
func TestRunModulePlacement(t *testing.T) {
	tests := []struct {
		name string
		give []fx.Option
	}{
		{name: "left out"},
		{name: "top level", give: []fx.Option{fxmodule.Module}},
		{name: "in fx.Module", give: []fx.Option{fx.Module("platform", fxmodule.Module)}},
		{name: "two levels down", give: []fx.Option{fx.Module("a", fx.Module("b", fxmodule.Module))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			done := make(chan error, 1)
			opts := append([]fx.Option{fx.Supply(h.config())}, tt.give...)
			opts = append(opts, fx.Invoke(func(lc fx.Lifecycle) { lc.Append(h.slowHook("user")) }))
			go func() { done <- fxmodule.RunContext(context.Background(), opts...) }()
			h.wait(sdtest.Has("READY", "1"), "READY=1")
			// The Service catches it from its first hook on, even before
			// RunContext waits for a stop.
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("RunContext: %v", err)
			}
			h.sync()
			h.before("X_MARK", "user-started", "READY", "1")
			h.before("STOPPING", "1", "X_MARK", "user-stopped")
			if n := h.count("READY", "1"); n != 1 {
				t.Errorf("READY=1 sent %d times, want 1:\n%s", n, h.dump())
			}
		})
	}
}

// Module bundled in an fx.Options passed to Run is a second decoration at
// the top level: a build error, not a second tracker.
func TestRunModuleInFxOptionsFails(t *testing.T) {
	h := newHarness(t)
	err := fxmodule.RunContext(context.Background(), fx.Supply(h.config()), fx.Options(fxmodule.Module, fx.Invoke(func() {})))
	if err == nil || !strings.Contains(err.Error(), "fx.Lifecycle already decorated") {
		t.Errorf("RunContext: %v, want the second decoration refused", err)
	}
}

// A value the application uses by its own type and adds through a
// function from it (the documented way) is reloaded as the very instance
// the rest of the application uses, not a second one built for the group.
func TestAsReloaderReloadsTheSharedInstance(t *testing.T) {
	h := newHarness(t)
	built := 0
	var used *configStore
	app := fx.New(append(h.options(h.config()),
		fx.NopLogger,
		fx.Provide(
			func() *configStore { built++; return &configStore{greeting: "hello"} },
			fxmodule.AsReloader(func(c *configStore) sdlife.Reloader { return c }),
		),
		fx.Populate(&used),
	)...)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	syscall.Kill(syscall.Getpid(), syscall.SIGHUP)
	r := h.wait(sdtest.Has("RELOADING", "1"), "RELOADING=1")
	h.wait(sdtest.After(r.Seq, sdtest.Has("READY", "1")), "READY=1 after the reload")
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if built != 1 || used.greeting != "hello again" {
		t.Errorf("built %d instances, the one in use says %q; want 1 and the reloaded greeting", built, used.greeting)
	}
}

// A SIGTERM after READY=1 but before the application's own signal
// handling (App.Wait/Done, which App.Run calls after Start returns) must
// still lead to an orderly stop: the module catches it for the whole
// life of the service and asks fx to stop, and fx keeps that request for
// the Wait that comes later.
func TestSigtermBeforeAppWaitDrains(t *testing.T) {
	h := newHarness(t)
	cfg := h.config()
	app := fx.New(append(h.options(cfg), fx.NopLogger)...)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-app.Wait():
		t.Logf("fx saw %v", sig.Signal)
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown request reached fx after SIGTERM")
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait(sdtest.Has("STOPPING", "1"), "STOPPING=1")
}
