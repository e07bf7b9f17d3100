package sdlife_test

import (
	"context"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// Without a watchdog for this process (WatchdogSec= unset, or
// WATCHDOG_PID naming another process) the health loop still runs, for
// RESTART_RESET=1, but sends no WATCHDOG=1.
func TestHealthLoopWithoutWatchdogPingsNothing(t *testing.T) {
	h := newHarness(t)
	calls := make(chan struct{}, 64)
	svc := h.newService(func(o *sdlife.Options) { o.RestartResetAfter = 40 * time.Millisecond })
	svc.AddHealthCheck(httpadapter.Check{Name: "ok", Func: func(context.Context) error {
		select {
		case calls <- struct{}{}:
		default:
		}
		return nil
	}})
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	// Round k has made its decision (and sent what it sends) when the
	// call of round k+1 begins: four calls, three healthy rounds decided.
	for range 4 {
		select {
		case <-calls:
		case <-time.After(waitFor):
			t.Fatalf("no health round within %v", waitFor)
		}
	}
	h.sync()
	r.stop(t)
	if n := h.count(sdtest.Has("WATCHDOG", "")); n != 0 {
		t.Errorf("%d WATCHDOG messages without WATCHDOG_USEC:\n%s", n, h.dump())
	}
}
