package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func waitHealth(t *testing.T, h *Health) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestHealthRun(t *testing.T) {
	errDB := errors.New("db down")
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name        string
		give        []Check
		wantHealthy bool
		wantErrs    []error // per check; nil: healthy
	}{
		{"no checks", nil, true, nil},
		{"all pass", []Check{{Name: "a", Func: ok}, {Name: "b", Func: ok}}, true, []error{nil, nil}},
		{"one fails", []Check{{Name: "a", Func: ok}, {Name: "db", Func: func(context.Context) error { return errDB }}}, false, []error{nil, errDB}},
		{"panic", []Check{{Name: "p", Func: func(context.Context) error { panic("kaboom") }}}, false, []error{ErrCheckPanic}},
		{"no func", []Check{{Name: "nil"}}, false, []error{ErrCheckNoFunc}},
		{"respects ctx", []Check{{Name: "slow", Timeout: 20 * time.Millisecond, Func: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}}, false, []error{ErrCheckTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHealth(nil, tt.give...)
			defer waitHealth(t, h)
			rep := h.Run(context.Background())
			if rep.Healthy != tt.wantHealthy || len(rep.Results) != len(tt.wantErrs) {
				t.Fatalf("Run() = %+v, want healthy %v with %d results", rep, tt.wantHealthy, len(tt.wantErrs))
			}
			for i, want := range tt.wantErrs {
				got := rep.Results[i].Err
				if (want == nil) != (got == nil) || (want != nil && !errors.Is(got, want)) {
					t.Errorf("result %d error = %v, want %v", i, got, want)
				}
				if rep.Results[i].Name != tt.give[i].Name {
					t.Errorf("result %d name = %q", i, rep.Results[i].Name)
				}
			}
		})
	}
}

func TestHealthPanicIsLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	h := NewHealth(logger, Check{Name: "p", Func: func(context.Context) error { panic("kaboom") }, Fatal: true})
	rep := h.Run(context.Background())
	waitHealth(t, h)
	if rep.Healthy || !rep.Results[0].Fatal {
		t.Fatalf("Run() = %+v", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if s := buf.String(); !strings.Contains(s, "panicked") || !strings.Contains(s, "kaboom") || !strings.Contains(s, "health_test.go") {
		t.Fatalf("log = %q, want the panic and its stack", s)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestHealthHungCheck: a check that ignores its context fails at its
// timeout, and later runs do not start a second copy while it hangs.
func TestHealthHungCheck(t *testing.T) {
	var calls atomic.Int32
	unblock := make(chan struct{})
	h := NewHealth(nil, Check{Name: "hung", Timeout: 30 * time.Millisecond, Func: func(context.Context) error {
		calls.Add(1)
		<-unblock // ignores ctx on purpose
		return nil
	}})
	start := time.Now()
	rep := h.Run(context.Background())
	if rep.Healthy || !errors.Is(rep.Results[0].Err, ErrCheckTimeout) {
		t.Fatalf("first Run() = %+v, want a timeout", rep)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("first Run took %v", d)
	}
	start = time.Now()
	for range 5 {
		rep = h.Run(context.Background())
		if rep.Healthy || !errors.Is(rep.Results[0].Err, ErrCheckTimeout) {
			t.Fatalf("later Run() = %+v, want a timeout", rep)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("later Runs took %v, want an immediate failure", d)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("check started %d times while hung, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := h.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait() on a hung check = %v, want DeadlineExceeded", err)
	}
	cancel()
	close(unblock)
	waitHealth(t, h)
	if rep := h.Run(context.Background()); !rep.Healthy || calls.Load() != 2 {
		t.Fatalf("after recovery: %+v, %d calls", rep, calls.Load())
	}
}

// TestHealthConcurrentRunsShare: concurrent probes share one run.
func TestHealthConcurrentRunsShare(t *testing.T) {
	var calls atomic.Int32
	h := NewHealth(nil, Check{Name: "slow", Func: func(context.Context) error {
		calls.Add(1)
		time.Sleep(300 * time.Millisecond)
		return nil
	}})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if rep := h.Run(context.Background()); !rep.Healthy {
				t.Errorf("Run() = %+v", rep)
			}
		})
	}
	wg.Wait()
	waitHealth(t, h)
	if n := calls.Load(); n != 1 {
		t.Fatalf("check ran %d times for 10 concurrent probes, want 1", n)
	}
}

func TestHealthCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	h := NewHealth(nil, Check{Name: "c", Func: func(context.Context) error {
		<-release
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := h.Run(ctx)
	if rep.Healthy || !errors.Is(rep.Results[0].Err, context.Canceled) {
		t.Fatalf("Run(canceled) = %+v", rep)
	}
	close(release)
	waitHealth(t, h)
}

func TestHealthHandler(t *testing.T) {
	tests := []struct {
		name     string
		give     error
		accept   string
		wantCode int
		wantBody string // substring
	}{
		{"text ok", nil, "", http.StatusOK, "ok\ndb: ok ("},
		{"text failing", errors.New("refused"), "", http.StatusServiceUnavailable, "unhealthy\ndb: refused ("},
		{"json failing", errors.New("refused"), "application/json", http.StatusServiceUnavailable, `"error":"refused"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHealth(nil, Check{Name: "db", Func: func(context.Context) error { return tt.give }})
			defer waitHealth(t, h)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/healthz", nil)
			req.Header.Set("Accept", tt.accept)
			h.Handler().ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, body, tt.wantCode, tt.wantBody)
			}
			if tt.accept != "" {
				var v jsonReport
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Healthy != (tt.give == nil) || len(v.Checks) != 1 {
					t.Fatalf("JSON %q: %+v, %v", body, v, err)
				}
			}
		})
	}
}
