package fxmodule_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// The watchdog interval in these tests: pings every 50ms.
const wdInterval = 100 * time.Millisecond

// pingsDuring counts WATCHDOG=1 over a window.
func (h *harness) pingsDuring(d time.Duration) int {
	h.t.Helper()
	h.sync()
	seq := h.last()
	time.Sleep(d)
	h.sync()
	return h.countSince(seq, "WATCHDOG", "1")
}

func startWatchdog(t *testing.T, cfg func(*fxmodule.Config), checks ...httpadapter.Check) (*harness, *fxtest.App) {
	t.Helper()
	h := newHarness(t, sdtest.WithWatchdog(wdInterval))
	c := h.config()
	if cfg != nil {
		cfg(&c)
	}
	var opts []fx.Option
	for _, ch := range checks {
		opts = append(opts, fx.Provide(fxmodule.AsHealthCheck(func() httpadapter.Check { return ch })))
	}
	app := fxtest.New(t, h.options(c, opts...)...).RequireStart()
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	return h, app
}

func TestWatchdogFollowsHealth(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	h, app := startWatchdog(t, nil,
		httpadapter.Check{Name: "cache", Func: func(context.Context) error { return nil }},
		httpadapter.Check{Name: "db", Func: func(context.Context) error {
			if healthy.Load() {
				return nil
			}
			return errors.New("connection refused")
		}},
	)
	// Healthy: about 10 pings in 500ms; ask for a few.
	if n := h.pingsDuring(500 * time.Millisecond); n < 3 {
		t.Errorf("healthy: %d pings in 500ms, want several", n)
	}

	healthy.Store(false)
	h.wait(statusContains("unhealthy: db: connection refused"), "STATUS unhealthy")
	// The round that reported it was the first failing one; from here on
	// no round passes.
	if n := h.pingsDuring(500 * time.Millisecond); n != 0 {
		t.Errorf("unhealthy: %d pings in 500ms, want none:\n%s", n, h.dump())
	}

	healthy.Store(true)
	seq := h.last()
	h.wait(sdtest.After(seq, sdtest.Has("WATCHDOG", "1")), "pings to resume")
	h.wait(sdtest.After(seq, func(m sdtest.Message) bool {
		v, ok := m.Get("STATUS")
		return ok && !strings.Contains(v, "unhealthy")
	}), "STATUS without unhealthy")
	if n := h.pingsDuring(500 * time.Millisecond); n < 3 {
		t.Errorf("healthy again: %d pings in 500ms, want several", n)
	}
	app.RequireStop()
	if n := h.count("WATCHDOG", "trigger"); n != 0 {
		t.Errorf("WATCHDOG=trigger without FatalTrigger")
	}
}

func TestWatchdogHungCheck(t *testing.T) {
	var hang atomic.Bool
	hang.Store(true)
	release := make(chan struct{})
	h, app := startWatchdog(t, nil, httpadapter.Check{
		Name:    "upstream",
		Timeout: time.Minute, // far beyond the period: the period must win
		Func: func(ctx context.Context) error {
			if hang.Load() {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return nil
		},
	})
	h.wait(statusContains("unhealthy: upstream:"), "STATUS unhealthy")
	if n := h.pingsDuring(400 * time.Millisecond); n != 0 {
		t.Errorf("hung check: %d pings, want none", n)
	}
	// The loop is not stuck behind the hung check: once it returns, the
	// next rounds pass and pings resume.
	hang.Store(false)
	close(release)
	h.wait(sdtest.After(h.last(), sdtest.Has("WATCHDOG", "1")), "pings to resume")
	app.RequireStop()
}

func TestWatchdogFatalTrigger(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	h, app := startWatchdog(t, func(c *fxmodule.Config) { c.FatalCheck = fxmodule.FatalTrigger },
		httpadapter.Check{Name: "disk", Fatal: true, Func: func(context.Context) error {
			if failing.Load() {
				return errors.New("read-only file system")
			}
			return nil
		}},
	)
	h.wait(sdtest.Has("WATCHDOG", "trigger"), "WATCHDOG=trigger")
	// Once per unhealthy spell, not once per round.
	time.Sleep(300 * time.Millisecond)
	h.sync()
	if n := h.count("WATCHDOG", "trigger"); n != 1 {
		t.Errorf("%d WATCHDOG=trigger in one unhealthy spell, want 1", n)
	}
	if n := h.count("WATCHDOG", "1"); n != 0 {
		t.Errorf("%d pings while the fatal check fails", n)
	}
	app.RequireStop()
}

func TestWatchdogFatalWithoutTriggerPolicy(t *testing.T) {
	h, app := startWatchdog(t, nil,
		httpadapter.Check{Name: "disk", Fatal: true, Func: func(context.Context) error {
			return errors.New("read-only file system")
		}},
	)
	h.wait(statusContains("unhealthy: disk: read-only file system"), "STATUS")
	time.Sleep(200 * time.Millisecond)
	app.RequireStop()
	if n := h.count("WATCHDOG", ""); n != 0 {
		t.Errorf("%d WATCHDOG messages with FatalStopPinging and a failing check:\n%s", n, h.dump())
	}
}

func TestWatchdogNonFatalNoTrigger(t *testing.T) {
	h, app := startWatchdog(t, func(c *fxmodule.Config) { c.FatalCheck = fxmodule.FatalTrigger },
		httpadapter.Check{Name: "cache", Func: func(context.Context) error { return errors.New("miss") }},
	)
	h.wait(statusContains("unhealthy: cache: miss"), "STATUS")
	time.Sleep(200 * time.Millisecond)
	app.RequireStop()
	if n := h.count("WATCHDOG", "trigger"); n != 0 {
		t.Errorf("WATCHDOG=trigger for a non-fatal check")
	}
}

func TestNoWatchdogNoPings(t *testing.T) {
	h := newHarness(t)
	app := fxtest.New(t, h.options(h.config())...).RequireStart()
	h.wait(sdtest.Has("READY", "1"), "READY=1")
	time.Sleep(150 * time.Millisecond)
	app.RequireStop()
	if n := h.count("WATCHDOG", ""); n != 0 {
		t.Errorf("%d WATCHDOG messages without WATCHDOG_USEC", n)
	}
}
