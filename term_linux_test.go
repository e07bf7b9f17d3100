package sdlife_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// A SIGTERM at any instant of the service's life leads to an orderly stop:
// STOPPING=1 once, no READY=1 after it, the drain, Run returning nil. Each
// instant is made reachable by a hook, a reloader or a handler that the
// test holds, never by a sleep.
func TestSIGTERMAtEveryInstant(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the instant: it returns the hooks and reloaders
		// to run, and arrive, which waits until the service is at the
		// instant, sends SIGTERM, and lets the service go on.
		setup func(t *testing.T, h *harness, svc *sdlife.Service, slow *slowRoute) (hooks []sdlife.Hook, arrive func(r *running))
		// wantReady: READY=1 was sent before the stop.
		wantReady bool
	}{
		{
			name: "during a start hook",
			setup: func(t *testing.T, h *harness, _ *sdlife.Service, _ *slowRoute) ([]sdlife.Hook, func(*running)) {
				entered, release := make(chan struct{}), make(chan struct{})
				hooks := []sdlife.Hook{{
					OnStart: func(context.Context) error {
						close(entered)
						<-release
						return nil
					},
					OnStop: func(context.Context) error { h.Mark("stopped"); return nil },
				}}
				return hooks, func(*running) {
					<-entered
					kill(t, syscall.SIGTERM)
					// The manager hears STOPPING=1 while the hook still runs.
					h.wait(stopping, "STOPPING=1 during the start hook")
					close(release)
				}
			},
		},
		{
			name: "the instant READY=1 arrives",
			setup: func(t *testing.T, h *harness, _ *sdlife.Service, _ *slowRoute) ([]sdlife.Hook, func(*running)) {
				// harnessSignalAtReady (below) sends SIGTERM from the
				// manager's receiving goroutine as READY=1 arrives.
				return nil, func(*running) { h.wait(stopping, "STOPPING=1") }
			},
			wantReady: true,
		},
		{
			name: "during a reload",
			setup: func(t *testing.T, h *harness, svc *sdlife.Service, _ *slowRoute) ([]sdlife.Hook, func(*running)) {
				entered := make(chan struct{})
				cancelled := make(chan error, 1)
				svc.AddReloader(sdlife.ReloadFunc(func(ctx context.Context) error {
					close(entered)
					<-ctx.Done() // released only by the stop
					cancelled <- ctx.Err()
					return ctx.Err()
				}))
				return nil, func(*running) {
					h.wait(ready, "READY=1")
					svc.Reload()
					<-entered
					kill(t, syscall.SIGTERM)
					select {
					case err := <-cancelled:
						if !errors.Is(err, context.Canceled) {
							t.Errorf("reloader's context after SIGTERM: %v", err)
						}
					case <-time.After(waitFor):
						t.Fatalf("SIGTERM during a reload: the reloader's context was not cancelled within %v:\n%s", waitFor, h.dump())
					}
				}
			},
			wantReady: true,
		},
		{
			name: "during the drain",
			setup: func(t *testing.T, h *harness, _ *sdlife.Service, slow *slowRoute) ([]sdlife.Hook, func(*running)) {
				return nil, func(r *running) {
					h.wait(ready, "READY=1")
					result := make(chan error, 1)
					go func() {
						code, _, err := get(r.url("/slow"))
						if err == nil && code != 200 {
							err = fmt.Errorf("GET /slow = %d", code)
						}
						result <- err
					}()
					<-slow.entered
					kill(t, syscall.SIGTERM)
					h.wait(stopping, "STOPPING=1")
					// The drain waits for /slow. More signals now change
					// nothing: no second STOPPING=1, no reload, no abort.
					signals(t, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
					close(slow.release)
					if err := <-result; err != nil {
						t.Errorf("request in flight during the drain: %v", err)
					}
					if n := h.count(reloading); n != 0 {
						t.Errorf("SIGHUP during the drain reloaded")
					}
				}
			},
			wantReady: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []sdtest.Option
			if tt.name == "the instant READY=1 arrives" {
				opts = append(opts, harnessSignalAtReady(t))
			}
			h := newHarness(t, opts...)
			svc := h.newService(nil)
			slow := newSlowRoute()
			hooks, arrive := tt.setup(t, h, svc, slow)
			r := h.run(svc, slow.router(), hooks...)
			arrive(r)
			if err := r.wait(t); err != nil {
				t.Errorf("Run: %v", err)
			}
			h.sync()
			st := h.seq(stopping)
			if st == 0 {
				t.Fatalf("no STOPPING=1:\n%s", h.dump())
			}
			if n := h.count(stopping); n != 1 {
				t.Errorf("%d STOPPING=1, want 1:\n%s", n, h.dump())
			}
			if n := h.countSince(st, ready); n != 0 {
				t.Errorf("READY=1 after STOPPING=1:\n%s", h.dump())
			}
			if got := h.count(ready) > 0; got != tt.wantReady {
				t.Errorf("READY=1 sent: %v, want %v:\n%s", got, tt.wantReady, h.dump())
			}
			readyz(t, svc, http.StatusServiceUnavailable, "stopping")
			if svc.State() != sdlife.StateStopped {
				t.Errorf("state %v after Run", svc.State())
			}
		})
	}
}

// harnessSignalAtReady sends SIGTERM from the manager's receiving
// goroutine the moment READY=1 arrives, before the service can do anything
// else that the manager would see.
func harnessSignalAtReady(t *testing.T) sdtest.Option {
	return sdtest.WithOnMessage(func(msg sdtest.Message) {
		if sdtest.Has("READY", "1")(msg) {
			kill(t, syscall.SIGTERM)
		}
	})
}

// slowRoute serves /slow, which holds one request until released.
type slowRoute struct{ entered, release chan struct{} }

func newSlowRoute() *slowRoute {
	return &slowRoute{entered: make(chan struct{}), release: make(chan struct{})}
}

func (sr *slowRoute) router() http.Handler {
	r := chi.NewRouter()
	r.Get("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(sr.entered)
		<-sr.release
		w.WriteHeader(http.StatusOK)
	})
	return r
}
