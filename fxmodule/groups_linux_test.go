package fxmodule_test

import (
	"context"
	"errors"
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
	var health *httpadapter.Health
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
		fx.Populate(&health),
	)...)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep := health.Run(ctx)
	got := map[string]error{}
	for _, r := range rep.Results {
		got[r.Name] = r.Err
	}
	if rep.Healthy || len(got) != 2 || !errors.Is(got["db"], errDown) || got["cache"] != nil {
		t.Fatalf("Health.Run() = %+v; want db failing with %v and cache passing", rep, errDown)
	}
}

// A releaser provided through AsMemoryReleaser runs when the manager
// reports memory pressure.
func TestAsMemoryReleaserRuns(t *testing.T) {
	h := newHarness(t, sdtest.WithMemoryPressure())
	released := make(chan struct{}, 1)
	app := fx.New(append(h.options(h.config()),
		fx.NopLogger,
		fx.Supply(sdlife.ReleaseMemoryFunc(func(context.Context) error {
			select {
			case released <- struct{}{}:
			default:
			}
			return nil
		})),
		fxmodule.AsMemoryReleaser[sdlife.ReleaseMemoryFunc](),
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
