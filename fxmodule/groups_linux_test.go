package fxmodule_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// A check provided through AsHealthCheck is one of the Service's: the
// Health that /healthz serves runs it, and the watchdog follows it.
func TestAsHealthCheckRegisters(t *testing.T) {
	h := newHarness(t)
	errDown := errors.New("down")
	var svc *sdlife.Service
	app := fx.New(append(h.options(h.config()),
		fx.NopLogger,
		fx.Provide(
			fxmodule.AsHealthCheck(func() httpadapter.Check {
				return httpadapter.Check{Name: "db", Func: func(context.Context) error { return errDown }}
			}),
			fxmodule.AsHealthCheck(func() httpadapter.Check {
				return httpadapter.Check{Name: "cache", Func: func(context.Context) error { return nil }}
			}),
		),
		fx.Populate(&svc),
	)...)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	svc.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(body, "db: "+errDown.Error()) || !strings.Contains(body, "cache: ok") {
		t.Fatalf("/healthz = %d %q; want 503 with db failing (%v) and cache passing", rec.Code, body, errDown)
	}
}

// A releaser provided through AsMemoryReleaser runs when the manager
// reports memory pressure.
func TestAsMemoryReleaserRuns(t *testing.T) {
	h := newHarness(t, sdtest.WithMemoryPressure())
	released := make(chan struct{}, 1)
	app := fx.New(append(h.options(h.config()),
		fx.NopLogger,
		fx.Provide(fxmodule.AsMemoryReleaser(func() sdlife.ReleaseMemoryFunc {
			return func(context.Context) error {
				select {
				case released <- struct{}{}:
				default:
				}
				return nil
			}
		})),
	)...)
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := app.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	signalMemoryPressure(h.t, h.m)
	h.wait(statusContains("memory pressure"), "memory pressure in STATUS")
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("the releaser from the group did not run on memory pressure")
	}
}

type notAHook struct{}

// A constructor returning what the helper does not name fails fx.New:
// it must not feed a group the Service never reads.
func TestAsHelpersRejectOtherResults(t *testing.T) {
	tests := []struct {
		name string
		give any
		want string
	}{
		{name: "AsReloader", give: fxmodule.AsReloader(func() *notAHook { return nil }), want: "does not implement sdlife.Reloader"},
		{name: "AsMemoryReleaser", give: fxmodule.AsMemoryReleaser(func() *notAHook { return nil }), want: "does not implement sdlife.MemoryReleaser"},
		{name: "AsHealthCheck", give: fxmodule.AsHealthCheck(func() *notAHook { return nil }), want: "fxmodule: AsHealthCheck(func() *fxmodule_test.notAHook): want a constructor returning an httpadapter.Check"},
		{name: "AsHealthCheck of a value", give: fxmodule.AsHealthCheck(httpadapter.Check{}), want: "fxmodule: AsHealthCheck(httpadapter.Check): want a constructor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			app := fx.New(append(h.options(h.config()), fx.NopLogger, fx.Provide(tt.give))...)
			if err := app.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("fx.New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
