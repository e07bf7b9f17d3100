package sdlife_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// startReloading runs a Service with fn as its reloader and waits for
// READY=1.
func startReloading(t *testing.T, fn func(ctx context.Context) error, hooks ...sdlife.Hook) (*harness, *running) {
	t.Helper()
	h := newHarness(t)
	svc := h.newService(nil)
	svc.AddReloader(sdlife.ReloadFunc(fn))
	r := h.run(svc, hello(), hooks...)
	h.wait(ready, "READY=1")
	return h, r
}

// reloaded waits for RELOADING=1 after seq, with MONOTONIC_USEC in the same
// message, and the READY=1 that follows.
func (h *harness) reloaded(seq int) (reloadingMsg, readyMsg sdtest.Message) {
	h.t.Helper()
	reloadingMsg = h.after(seq, reloading, "RELOADING=1")
	if v, ok := reloadingMsg.Get("MONOTONIC_USEC"); !ok || v == "" {
		h.t.Errorf("RELOADING=1 without MONOTONIC_USEC in the same message: %q", reloadingMsg.Raw)
	}
	readyMsg = h.after(reloadingMsg.Seq, ready, "READY=1 after RELOADING=1")
	return reloadingMsg, readyMsg
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestReloadSuccess(t *testing.T) {
	var during atomic.Int32
	var duringProbe atomic.Pointer[httptest.ResponseRecorder]
	var h *harness
	var r *running
	h, r = startReloading(t, func(context.Context) error {
		during.Store(int32(r.svc.State()))
		rec := httptest.NewRecorder()
		r.svc.ReadinessHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		duringProbe.Store(rec)
		h.Mark("reloader-ran")
		return nil
	})
	seq := h.last()
	r.svc.Reload()
	rl, rd := h.reloaded(seq)
	ran := h.wait(mark("reloader-ran"), "reloader")
	if !(rl.Seq < ran.Seq && ran.Seq < rd.Seq) {
		t.Errorf("reloader did not run between RELOADING=1 and READY=1:\n%s", h.dump())
	}
	if got := sdlife.State(during.Load()); got != sdlife.StateReloading {
		t.Errorf("state during reload: %v, want reloading", got)
	}
	if rec := duringProbe.Load(); rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "reloading\n" {
		t.Errorf("/readyz during reload: %d %q, want 503 reloading", rec.Code, rec.Body)
	}
	if got := r.svc.State(); got != sdlife.StateReady {
		t.Errorf("state after reload: %v, want ready", got)
	}
	readyz(t, r.svc, http.StatusOK, "ready")
	r.stop(t)
}

func TestReloadFailureKeepsServing(t *testing.T) {
	tests := []struct {
		name       string
		give       func(ctx context.Context) error
		wantStatus string
	}{
		{
			name:       "error",
			give:       func(context.Context) error { return errors.New(`config.json: unknown field "grreting"`) },
			wantStatus: `reload failed: config.json: unknown field "grreting"`,
		},
		{
			name:       "panic",
			give:       func(context.Context) error { panic("nil map") },
			wantStatus: "reload failed: reloader panicked: nil map",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fail atomic.Bool
			fail.Store(true)
			h, r := startReloading(t, func(ctx context.Context) error {
				if fail.Load() {
					return tt.give(ctx)
				}
				return nil
			})
			seq := h.last()
			r.svc.Reload()
			_, rd := h.reloaded(seq)
			// The reason is in STATUS before the READY=1 that ends the
			// reload, so that `systemctl reload` returns with it in place.
			failed := h.wait(sdtest.StatusContains(tt.wantStatus), "STATUS with the reload error")
			if failed.Seq > rd.Seq {
				t.Errorf("the reload error reached STATUS after READY=1:\n%s", h.dump())
			}
			if got := r.svc.State(); got != sdlife.StateReady {
				t.Errorf("readiness after failed reload: %v, want ready", got)
			}
			if code, _, err := get(r.url("/")); err != nil || code != 200 {
				t.Errorf("GET / after a failed reload: %d, %v", code, err)
			}
			// The next good reload clears the note.
			fail.Store(false)
			r.svc.Reload()
			_, rd2 := h.reloaded(rd.Seq)
			h.after(rd2.Seq-2, func(m sdtest.Message) bool {
				v, ok := m.Get("STATUS")
				return ok && strings.HasPrefix(v, "Serving") && !strings.Contains(v, "reload failed")
			}, "STATUS without the error")
			r.stop(t)
		})
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	var runs atomic.Int32
	h, r := startReloading(t, func(context.Context) error { runs.Add(1); return nil })
	seq := h.last()
	kill(t, syscall.SIGHUP)
	h.reloaded(seq)
	r.stop(t)
	if n := runs.Load(); n != 1 {
		t.Errorf("reloader ran %d times for one SIGHUP", n)
	}
}

// Requests that arrive while a reload runs coalesce into exactly one more
// reload, whatever their number and source.
func TestReloadCoalesces(t *testing.T) {
	tests := []struct {
		name string
		// first starts the first reload; during sends the requests that
		// arrive while it runs. Both return once the requests are
		// delivered to the Service.
		first, during func(t *testing.T, svc *sdlife.Service)
	}{
		{
			name:  "a burst of SIGHUPs",
			first: func(t *testing.T, _ *sdlife.Service) { signals(t, syscall.SIGHUP) },
			during: func(t *testing.T, _ *sdlife.Service) {
				burst := make([]syscall.Signal, 10)
				for i := range burst {
					burst[i] = syscall.SIGHUP
				}
				signals(t, burst...)
			},
		},
		{
			name:  "a SIGHUP and a Reload call",
			first: func(_ *testing.T, svc *sdlife.Service) { svc.Reload() },
			during: func(t *testing.T, svc *sdlife.Service) {
				signals(t, syscall.SIGHUP)
				svc.Reload()
			},
		},
		{
			name:  "many Reload calls",
			first: func(_ *testing.T, svc *sdlife.Service) { svc.Reload() },
			during: func(_ *testing.T, svc *sdlife.Service) {
				for range 10 {
					svc.Reload()
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs atomic.Int32
			entered := make(chan struct{}, 16)
			release := make(chan struct{})
			h, r := startReloading(t, func(ctx context.Context) error {
				runs.Add(1)
				entered <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done(): // a mistaken third run ends with the stop
				}
				return nil
			})
			tt.first(t, r.svc)
			<-entered // the first reload is running and blocked
			tt.during(t, r.svc)
			close(release)
			<-entered // the one extra reload
			first := h.wait(reloading, "first RELOADING=1")
			_, rd := h.reloaded(first.Seq)
			// A request left over would start a third reload at once,
			// well before the stop below is requested.
			h.sync()
			r.stop(t)
			if n := runs.Load(); n != 2 {
				t.Errorf("reloader ran %d times, want 2: one, then one for all the requests during it", n)
			}
			if n := h.count(reloading); n != 2 {
				t.Errorf("%d RELOADING=1, want 2:\n%s", n, h.dump())
			}
			if n := h.countSince(rd.Seq, reloading); n != 0 {
				t.Errorf("a reload after the coalesced one:\n%s", h.dump())
			}
		})
	}
}

// A reload requested while the service starts runs once it is ready.
func TestReloadRequestedWhileStartingRunsAfterReady(t *testing.T) {
	var svc *sdlife.Service
	h := newHarness(t)
	svc = h.newService(nil)
	svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error { return nil }))
	r := h.run(svc, hello(), sdlife.Hook{OnStart: func(context.Context) error { svc.Reload(); return nil }})
	rdy := h.wait(ready, "READY=1")
	rl := h.wait(reloading, "RELOADING=1")
	if rl.Seq < rdy.Seq {
		t.Errorf("reload ran before READY=1:\n%s", h.dump())
	}
	h.after(rl.Seq, ready, "READY=1 after the reload")
	r.stop(t)
}

// Reloaders run in the order they were added, all of them even when one
// fails; the errors are joined in STATUS.
func TestReloadersInOrder(t *testing.T) {
	h := newHarness(t)
	svc := h.newService(nil)
	var order []string
	add := func(name string, err error) {
		svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error { order = append(order, name); return err }))
	}
	add("a", nil)
	add("b", errors.New("b broke"))
	add("c", nil)
	svc.AddReloader(nil) // ignored
	r := h.run(svc, hello())
	seq := h.wait(ready, "READY=1").Seq
	svc.Reload()
	h.reloaded(seq)
	h.wait(sdtest.StatusContains("reload failed: b broke"), "STATUS")
	r.stop(t)
	if got := strings.Join(order, ","); got != "a,b,c" {
		t.Errorf("reloaders ran as %q, want a,b,c", got)
	}
}

// Options.ReloadTimeout bounds a reload through its context.
func TestReloadTimeout(t *testing.T) {
	h := newHarness(t)
	svc := h.newService(func(o *sdlife.Options) { o.ReloadTimeout = 50 * time.Millisecond })
	svc.AddReloader(sdlife.ReloadFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	r := h.run(svc, hello())
	seq := h.wait(ready, "READY=1").Seq
	svc.Reload()
	h.reloaded(seq)
	h.wait(sdtest.StatusContains("reload failed: "+context.DeadlineExceeded.Error()), "STATUS")
	r.stop(t)
}
