package sdlife_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// The manager's WatchdogSec= in these tests: pings every 50ms.
const wdInterval = 100 * time.Millisecond

// switchCheck is a health check the test turns on and off. Every call
// that fails drops a marker first, so the test knows from the message
// stream which watchdog round failed, and counts on calls.
type switchCheck struct {
	h       *harness
	failing atomic.Bool
	err     error
	calls   chan struct{} // one per failing call
}

func newSwitchCheck(h *harness, err error) *switchCheck {
	return &switchCheck{h: h, err: err, calls: make(chan struct{}, 1024)}
}

func (c *switchCheck) check(name string, fatal bool) httpadapter.Check {
	return httpadapter.Check{Name: name, Fatal: fatal, Func: func(context.Context) error {
		if !c.failing.Load() {
			return nil
		}
		c.h.Mark("failing-call")
		c.calls <- struct{}{}
		return c.err
	}}
}

// rounds waits for n failing calls, each one a watchdog round: round k
// has made its decision when call k+1 begins, as the rounds run one after
// the other.
func (c *switchCheck) rounds(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-c.calls:
		case <-time.After(waitFor):
			t.Fatalf("no watchdog round within %v", waitFor)
		}
	}
}

func startWatchdog(t *testing.T, policy sdlife.FatalPolicy, checks ...httpadapter.Check) (*harness, *running) {
	t.Helper()
	h := newHarness(t, sdtest.WithWatchdog(wdInterval))
	svc := h.newService(func(o *sdlife.Options) { o.FatalCheck = policy })
	for _, c := range checks {
		svc.AddHealthCheck(c)
	}
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	return h, r
}

// pings waits for n WATCHDOG=1 after seq and returns the last one.
func (h *harness) pings(seq, n int) sdtest.Message {
	h.t.Helper()
	var msg sdtest.Message
	for range n {
		msg = h.after(seq, sdtest.Has("WATCHDOG", "1"), "a watchdog ping")
		seq = msg.Seq
	}
	return msg
}

func TestWatchdogFollowsHealth(t *testing.T) {
	var db *switchCheck
	h := newHarness(t, sdtest.WithWatchdog(wdInterval))
	db = newSwitchCheck(h, errors.New("connection refused"))
	svc := h.newService(nil)
	svc.AddHealthCheck(httpadapter.Check{Name: "cache", Func: func(context.Context) error { return nil }})
	svc.AddHealthCheck(db.check("db", false))
	r := h.run(svc, hello())
	rdy := h.wait(ready, "READY=1")

	// Healthy: pings, the first right after READY=1.
	h.pings(rdy.Seq, 3)

	// Unhealthy: once the first failing round has begun, no ping follows
	// (the one before may still be on its way, from the round before).
	db.failing.Store(true)
	db.rounds(t, 3) // rounds 1 and 2 have decided
	h.sync()
	firstFail := h.seq(mark("failing-call"))
	if n := h.countSince(firstFail, sdtest.Has("WATCHDOG", "1")); n != 0 {
		t.Errorf("unhealthy: %d pings after the first failing round:\n%s", n, h.dump())
	}
	note := h.wait(sdtest.StatusContains("unhealthy: db: connection refused"), "STATUS unhealthy")
	if note.Seq < firstFail {
		t.Errorf("STATUS unhealthy before the check failed")
	}
	if code, _, err := get(r.url("/")); err != nil || code != 200 {
		t.Errorf("an unhealthy service stopped serving: %d, %v", code, err)
	}

	// Healthy again: pings resume, the note goes.
	db.failing.Store(false)
	h.sync()
	seq := h.last()
	h.pings(seq, 3)
	h.after(seq, func(m sdtest.Message) bool {
		v, ok := m.Get("STATUS")
		return ok && strings.HasPrefix(v, "Serving") && !strings.Contains(v, "unhealthy")
	}, "STATUS without unhealthy")
	r.stop(t)
	if n := h.count(sdtest.Has("WATCHDOG", "trigger")); n != 0 {
		t.Errorf("WATCHDOG=trigger without FatalTrigger")
	}
}

// FatalTrigger: a failing Fatal check sends WATCHDOG=trigger once per
// unhealthy spell, not once per round, and no ping.
func TestWatchdogFatalTrigger(t *testing.T) {
	h := newHarness(t, sdtest.WithWatchdog(wdInterval))
	disk := newSwitchCheck(h, errors.New("read-only file system"))
	disk.failing.Store(true)
	svc := h.newService(func(o *sdlife.Options) { o.FatalCheck = sdlife.FatalTrigger })
	svc.AddHealthCheck(disk.check("disk", true))
	r := h.run(svc, hello())
	h.wait(sdtest.Has("WATCHDOG", "trigger"), "WATCHDOG=trigger")
	disk.rounds(t, 4) // three rounds after the first have decided
	h.sync()
	if n := h.count(sdtest.Has("WATCHDOG", "trigger")); n != 1 {
		t.Errorf("%d WATCHDOG=trigger in one unhealthy spell, want 1:\n%s", n, h.dump())
	}
	if n := h.count(sdtest.Has("WATCHDOG", "1")); n != 0 {
		t.Errorf("%d pings while the fatal check fails", n)
	}

	// A new spell, a new trigger.
	disk.failing.Store(false)
	h.sync()
	h.pings(h.last(), 1)
	disk.failing.Store(true)
	h.sync()
	h.after(h.last(), sdtest.Has("WATCHDOG", "trigger"), "WATCHDOG=trigger in the second spell")
	r.stop(t)
}

// Checks that do not trigger: a Fatal check under FatalStopPinging, and a
// check not marked Fatal under FatalTrigger. Pings stop all the same.
func TestWatchdogNoTrigger(t *testing.T) {
	tests := []struct {
		name   string
		policy sdlife.FatalPolicy
		fatal  bool
	}{
		{name: "fatal check, stop pinging", policy: sdlife.FatalStopPinging, fatal: true},
		{name: "plain check, trigger policy", policy: sdlife.FatalTrigger, fatal: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sdtest.WithWatchdog(wdInterval))
			c := newSwitchCheck(h, errors.New("broken"))
			c.failing.Store(true)
			svc := h.newService(func(o *sdlife.Options) { o.FatalCheck = tt.policy })
			svc.AddHealthCheck(c.check("c", tt.fatal))
			r := h.run(svc, hello())
			h.wait(sdtest.StatusContains("unhealthy: c: broken"), "STATUS")
			c.rounds(t, 3)
			r.stop(t)
			if n := h.count(sdtest.Has("WATCHDOG", "")); n != 0 {
				t.Errorf("%d WATCHDOG messages:\n%s", n, h.dump())
			}
		})
	}
}

// A check that hangs fails its round when the period ends, and does not
// hold the loop: once it returns, pings resume.
func TestWatchdogHungCheck(t *testing.T) {
	var hang atomic.Bool
	hang.Store(true)
	release := make(chan struct{})
	h, r := startWatchdog(t, sdlife.FatalStopPinging, httpadapter.Check{
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
	h.wait(sdtest.StatusContains("unhealthy: upstream:"), "STATUS unhealthy")
	hang.Store(false)
	close(release)
	h.sync()
	h.pings(h.last(), 2)
	r.stop(t)
}

// Without WATCHDOG_USEC there is no ping; with the restart-counter reset
// off too, the health checks run only when a probe asks.
func TestNoWatchdogNoPings(t *testing.T) {
	h := newHarness(t)
	var calls atomic.Int32
	svc := h.newService(func(o *sdlife.Options) { o.RestartResetAfter = -1 })
	svc.AddHealthCheck(httpadapter.Check{Name: "ok", Func: func(context.Context) error { calls.Add(1); return nil }})
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	r.stop(t)
	if n := h.count(sdtest.Has("WATCHDOG", "")); n != 0 {
		t.Errorf("%d WATCHDOG messages without WATCHDOG_USEC", n)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("health checks ran %d times without a watchdog, a restart reset or a probe", n)
	}
}
