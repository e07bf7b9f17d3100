package fxmodule_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func TestModuleNestedFails(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name    string
		give    fx.Option
		wantErr bool
	}{
		{name: "top level", give: fx.Options(fx.Supply(h.config()), fxmodule.Module)},
		{name: "in fx.Options", give: fx.Options(fx.Options(fx.Supply(h.config()), fxmodule.Module))},
		{name: "in fx.Module", give: fx.Module("app", fx.Supply(h.config()), fxmodule.Module), wantErr: true},
		{name: "two levels down", give: fx.Module("a", fx.Module("b", fx.Supply(h.config()), fxmodule.Module)), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := fx.New(fx.NopLogger, tt.give)
			err := app.Err()
			if got := err != nil && strings.Contains(err.Error(), "inside an fx.Module"); got != tt.wantErr {
				t.Fatalf("fx.New error = %v, want nesting error: %v", err, tt.wantErr)
			}
			if err == nil {
				ctx := context.Background()
				if err := app.Start(ctx); err != nil {
					t.Fatal(err)
				}
				if err := app.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// AsReloader must reload the very instance the rest of the application
// uses, not a second one built for the group.
func TestAsReloaderReloadsTheSharedInstance(t *testing.T) {
	h := newHarness(t)
	built := 0
	var used *configStore
	app := fx.New(append(h.options(h.config()),
		fx.NopLogger,
		fx.Provide(func() *configStore { built++; return &configStore{greeting: "hello"} }),
		fxmodule.AsReloader[*configStore](),
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
