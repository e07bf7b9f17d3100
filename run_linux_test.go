package sdlife_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sys/unix"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

func hello() http.Handler {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
	return r
}

// READY=1 goes out only once the listener accepts connections and every
// hook's OnStart has returned; the STATUS= phase is "Serving" by then.
func TestRunReadyAfterListenerAndHooks(t *testing.T) {
	var svc atomic.Pointer[sdlife.Service]
	upAtReady := make(chan bool, 1)
	h := newHarness(t, sdtest.WithOnMessage(func(msg sdtest.Message) {
		if sdtest.Has("READY", "1")(msg) {
			// The manager's receiving goroutine, at the moment READY=1
			// arrives: the server must accept already.
			upAtReady <- dialable(svc.Load().Addr())
		}
	}))
	s := h.newService(nil)
	svc.Store(s)
	var hooks []sdlife.Hook
	for i := range 3 {
		name := strconv.Itoa(i)
		hooks = append(hooks, sdlife.Hook{OnStart: func(context.Context) error {
			h.Mark("start-" + name)
			return nil
		}})
	}
	r := h.run(s, hello(), hooks...)
	rdy := h.wait(ready, "READY=1")
	if !<-upAtReady {
		t.Error("READY=1 arrived while the listener did not accept connections")
	}
	h.order([]string{"start-0", "start-1", "start-2", "READY=1"},
		mark("start-0"), mark("start-1"), mark("start-2"), ready)
	if s.State() != sdlife.StateReady {
		t.Errorf("state %v after READY=1", s.State())
	}
	readyz(t, s, http.StatusOK, "ready")
	// The line before READY=1 already says Serving.
	if st := h.seq(sdtest.After(h.seq(sdtest.StatusContains("Starting")), sdtest.StatusContains("Serving"))); st == 0 || st > rdy.Seq {
		t.Errorf("STATUS=Serving (seq %d) not before READY=1 (seq %d):\n%s", st, rdy.Seq, h.dump())
	}
	if n := h.count(ready); n != 1 {
		t.Errorf("%d READY=1, want 1", n)
	}
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("Run after ctx cancel: %v", err)
	}
}

// STATUS= counts the requests served.
func TestRunStatusCountsRequests(t *testing.T) {
	h := newHarness(t)
	r := h.run(h.newService(nil), hello())
	h.wait(ready, "READY=1")
	for range 3 {
		if code, body, err := get(r.url("/")); err != nil || code != 200 || body != "hello\n" {
			t.Fatalf("GET / = %d %q %v", code, body, err)
		}
	}
	h.wait(sdtest.StatusContains("Serving: 3 requests"), "STATUS with 3 requests")
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
}

// The stop: STOPPING=1 first, then the drain answers every request in
// flight and every accepted connection's request, then the OnStop hooks
// run in reverse order, after the drain.
func TestRunStopDrainsThenStopsHooks(t *testing.T) {
	tests := []struct {
		name string
		stop func(t *testing.T, r *running)
	}{
		{name: "SIGTERM", stop: func(t *testing.T, _ *running) { kill(t, syscall.SIGTERM) }},
		{name: "SIGINT", stop: func(t *testing.T, _ *running) { kill(t, syscall.SIGINT) }},
		{name: "ctx", stop: func(_ *testing.T, r *running) { r.cancel() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const slow = 3
			h := newHarness(t)
			entered := make(chan struct{}, slow)
			release := make(chan struct{})
			accepted := make(chan struct{}, 16)
			draining := make(chan struct{}, slow)
			var served atomic.Uint64 // requests answered in full
			router := chi.NewRouter()
			router.Use(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r)
					served.Add(1)
				})
			})
			router.Get("/slow", func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-httpadapter.DrainStarted(r.Context())
				draining <- struct{}{}
				<-release
				fmt.Fprintln(w, "done")
			})
			router.Get("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })
			svc := h.newService(func(o *sdlife.Options) {
				o.Server.Server = &http.Server{ConnState: func(_ net.Conn, cs http.ConnState) {
					if cs == http.StateNew {
						accepted <- struct{}{}
					}
				}}
			})
			var servedAtStop [2]uint64
			hooks := []sdlife.Hook{
				{OnStop: func(context.Context) error {
					h.Mark("stop-0")
					servedAtStop[0] = served.Load()
					return nil
				}},
				{OnStop: func(context.Context) error {
					h.Mark("stop-1")
					servedAtStop[1] = served.Load()
					return nil
				}},
			}
			r := h.run(svc, router, hooks...)
			h.wait(ready, "READY=1")

			results := make(chan error, slow+1)
			for range slow {
				go func() {
					code, body, err := get(r.url("/slow"))
					if err == nil && (code != 200 || body != "done\n") {
						err = fmt.Errorf("GET /slow = %d %q", code, body)
					}
					results <- err
				}()
				<-accepted
			}
			for range slow {
				<-entered
			}
			// A connection accepted, its request not sent yet.
			c, err := net.Dial("tcp", svc.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			<-accepted

			tt.stop(t, r)
			h.wait(stopping, "STOPPING=1")
			if svc.State() != sdlife.StateStopping {
				t.Errorf("readiness %v after STOPPING=1", svc.State())
			}
			<-draining // the drain follows STOPPING=1
			fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("request on a connection accepted before the stop: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || !resp.Close {
				t.Errorf("during the drain: %d, Connection: close %v", resp.StatusCode, resp.Close)
			}
			close(release)
			for range slow {
				if err := <-results; err != nil {
					t.Errorf("request in flight at the stop: %v", err)
				}
			}
			if err := r.wait(t); err != nil {
				t.Errorf("Run: %v", err)
			}
			h.order([]string{"STOPPING=1", "stop-1", "stop-0"}, stopping, mark("stop-1"), mark("stop-0"))
			if servedAtStop != [2]uint64{slow + 1, slow + 1} {
				t.Errorf("requests served when the OnStop hooks ran: %v, want all %d (the drain first)", servedAtStop, slow+1)
			}
			if n := h.count(stopping); n != 1 {
				t.Errorf("%d STOPPING=1, want 1", n)
			}
			if svc.State() != sdlife.StateStopped {
				t.Errorf("state %v after Run", svc.State())
			}
		})
	}
}

// A start that fails, in Serve or in a hook, is reported (STATUS=, ERRNO=
// when the error wraps an errno), READY=1 never goes out, the hooks that
// started are stopped, and Run returns the error.
func TestRunStartFailure(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name       string
		addr       string
		failAt     int // the hook that fails; -1: none
		giveErr    error
		wantStatus string
		wantErrno  string // "" means no ERRNO=
		wantStops  []string
	}{
		{
			name:       "hook wraps errno",
			failAt:     1,
			giveErr:    fmt.Errorf("connect db: %w", syscall.ECONNREFUSED),
			wantStatus: "start failed: connect db: connection refused",
			wantErrno:  strconv.Itoa(int(syscall.ECONNREFUSED)),
			wantStops:  []string{"stop-0"},
		},
		{
			name:       "hook plain error",
			failAt:     2,
			giveErr:    errors.New("config: missing field"),
			wantStatus: "start failed: config: missing field",
			wantStops:  []string{"stop-1", "stop-0"},
		},
		{
			name:       "address in use",
			addr:       busy.Addr().String(),
			failAt:     -1,
			wantStatus: "start failed: ",
			wantErrno:  strconv.Itoa(int(syscall.EADDRINUSE)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			svc := h.newService(func(o *sdlife.Options) {
				if tt.addr != "" {
					o.Listen.Address = tt.addr
				}
			})
			var hooks []sdlife.Hook
			for i := range 3 {
				name := strconv.Itoa(i)
				hooks = append(hooks, sdlife.Hook{
					OnStart: func(context.Context) error {
						if i == tt.failAt {
							return tt.giveErr
						}
						return nil
					},
					OnStop: func(context.Context) error { h.Mark("stop-" + name); return nil },
				})
			}
			err := h.run(svc, hello(), hooks...).wait(t)
			if err == nil {
				t.Fatal("Run returned nil after a failed start")
			}
			if tt.giveErr != nil && !errors.Is(err, tt.giveErr) {
				t.Errorf("Run = %v, want it to wrap %v", err, tt.giveErr)
			}
			h.sync()
			h.wait(sdtest.StatusContains(tt.wantStatus), "STATUS "+tt.wantStatus)
			errnos := h.count(sdtest.Has("ERRNO", ""))
			switch {
			case tt.wantErrno == "" && errnos != 0:
				t.Errorf("ERRNO= sent for an error without errno:\n%s", h.dump())
			case tt.wantErrno != "":
				h.wait(sdtest.Has("ERRNO", tt.wantErrno), "ERRNO="+tt.wantErrno)
			}
			if n := h.count(ready); n != 0 {
				t.Errorf("READY=1 after a failed start:\n%s", h.dump())
			}
			h.wait(stopping, "STOPPING=1")
			var stops []string
			for _, m := range h.m.Messages() {
				if v, ok := m.Get("X_MARK"); ok {
					stops = append(stops, v)
				}
			}
			if fmt.Sprint(stops) != fmt.Sprint(tt.wantStops) {
				t.Errorf("OnStop ran for %v, want %v", stops, tt.wantStops)
			}
		})
	}
}

// A server that stops accepting by itself is a failure: STATUS= says
// "serve failed", the service stops, and Run returns the error.
func TestRunServeFailure(t *testing.T) {
	h := newHarness(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	svc := h.newService(func(o *sdlife.Options) {
		o.Files = activated(t, l, "http")
		o.Listen.Address = ""
	})
	r := h.run(svc, hello())
	h.wait(ready, "READY=1")
	if got := svc.Addr().String(); got != l.Addr().String() {
		t.Fatalf("serving on %s, want the activated %s", got, l.Addr())
	}
	// Shut the listening socket down underneath the server: the socket is
	// shared with its duplicate, whose accept now fails.
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_RD) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	err = r.wait(t)
	if err == nil {
		t.Fatal("Run returned nil after the server failed")
	}
	if phases.Of(svc).Err() == nil || !errors.Is(err, phases.Of(svc).Err()) {
		t.Errorf("Run = %v, Err = %v", err, phases.Of(svc).Err())
	}
	failed := h.wait(sdtest.StatusContains("serve failed"), "STATUS serve failed")
	h.after(failed.Seq-1, stopping, "STOPPING=1 after the failure")
}
