package sdlife_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"testing"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// The phases driven by hand, as an adapter does: each one's effect is
// visible to the manager and the probes when it returns.
func TestPhasesByHand(t *testing.T) {
	h := newHarness(t)
	svc := h.newService(nil)
	ctx := context.Background()
	if err := phases.Of(svc).Serve(ctx, hello()); err == nil {
		t.Error("Serve before Start succeeded")
	}
	if err := phases.Of(svc).Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := phases.Of(svc).Start(ctx); err == nil {
		t.Error("Start twice succeeded")
	}
	h.wait(sdtest.StatusContains("Starting"), "STATUS Starting")
	if err := phases.Of(svc).Serve(ctx, nil); err == nil {
		t.Error("Serve(nil) succeeded")
	}
	if err := phases.Of(svc).Serve(ctx, hello()); err != nil {
		t.Fatal(err)
	}
	if err := phases.Of(svc).Serve(ctx, hello()); err == nil {
		t.Error("Serve twice succeeded")
	}
	if !dialable(svc.Addr()) {
		t.Fatal("Serve returned before the listener accepts")
	}
	if svc.State() != sdlife.StateStarting {
		t.Errorf("readiness %v before Ready", svc.State())
	}
	h.sync()
	if h.count(ready) != 0 {
		t.Fatal("READY=1 before Ready")
	}
	if err := phases.Of(svc).Ready(); err != nil {
		t.Fatal(err)
	}
	h.wait(ready, "READY=1")
	if svc.State() != sdlife.StateReady {
		t.Errorf("after Ready: %v", svc.State())
	}
	readyz(t, svc, http.StatusOK, "ready")
	if err := phases.Of(svc).Ready(); err != nil { // a second Ready does nothing
		t.Fatal(err)
	}
	phases.Of(svc).Stopping()
	phases.Of(svc).Stopping()
	h.wait(stopping, "STOPPING=1")
	if err := phases.Of(svc).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := phases.Of(svc).Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := phases.Of(svc).Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if n, m := h.count(ready), h.count(stopping); n != 1 || m != 1 {
		t.Errorf("%d READY=1, %d STOPPING=1, want 1 each:\n%s", n, m, h.dump())
	}
	if svc.State() != sdlife.StateStopped {
		t.Errorf("state %v", svc.State())
	}
}

// StartFailed replaces Ready: STATUS=, ERRNO=, STOPPING=1; a Ready after
// it does nothing.
func TestPhasesStartFailed(t *testing.T) {
	h := newHarness(t)
	svc := h.newService(nil)
	ctx := context.Background()
	if err := phases.Of(svc).Start(ctx); err != nil {
		t.Fatal(err)
	}
	phases.Of(svc).StartFailed(fmt.Errorf("open /etc/app.json: %w", syscall.ENOENT))
	if err := phases.Of(svc).Ready(); err != nil {
		t.Fatal(err)
	}
	if err := phases.Of(svc).Stop(ctx); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if h.count(ready) != 0 {
		t.Errorf("READY=1 after StartFailed:\n%s", h.dump())
	}
	h.wait(sdtest.Has("ERRNO", strconv.Itoa(int(syscall.ENOENT))), "ERRNO=2")
	h.wait(sdtest.StatusContains("start failed: open /etc/app.json: no such file or directory"), "STATUS")
	h.wait(stopping, "STOPPING=1")
}

func TestReportStartFailure(t *testing.T) {
	tests := []struct {
		name      string
		give      error
		wantErrno string
	}{
		{name: "errno", give: fmt.Errorf("config: %w", syscall.EACCES), wantErrno: strconv.Itoa(int(syscall.EACCES))},
		{name: "plain", give: errors.New("config: unknown field \"grreting\"")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			sdlife.ReportStartFailure(h.env, tt.give)
			// ReportStartFailure waited for the manager (a barrier): the
			// messages are recorded when it returns.
			msgs := h.m.Messages()
			st := h.seq(sdtest.StatusContains("start failed: " + tt.give.Error()))
			if st == 0 {
				t.Fatalf("no STATUS=start failed among %d messages:\n%s", len(msgs), h.dump())
			}
			errnos := h.count(sdtest.Has("ERRNO", ""))
			if tt.wantErrno == "" && errnos != 0 {
				t.Errorf("ERRNO= for an error without errno:\n%s", h.dump())
			}
			if tt.wantErrno != "" && h.count(sdtest.Has("ERRNO", tt.wantErrno)) != 1 {
				t.Errorf("want ERRNO=%s:\n%s", tt.wantErrno, h.dump())
			}
		})
	}
}

// Outside systemd ReportStartFailure does nothing, and returns.
func TestReportStartFailureOutsideSystemd(t *testing.T) {
	sdlife.ReportStartFailure(lifecycle.Environment{}, errors.New("x"))
}
