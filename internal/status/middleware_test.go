package status

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMiddlewareCountsByClass(t *testing.T) {
	tests := []struct {
		name string
		give http.HandlerFunc
		want int // class index
	}{
		{"no write is 200", func(http.ResponseWriter, *http.Request) {}, Class2xx},
		{"write only is 200", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x") }, Class2xx},
		{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }, Class4xx},
		{"first code wins", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.WriteHeader(http.StatusOK)
		}, Class5xx},
		{"1xx then 204", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNoContent)
		}, Class2xx},
		{"101 is final", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusSwitchingProtocols) }, Class1xx},
		{"302", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/x", http.StatusFound) }, Class3xx},
		{"flush is 200", func(w http.ResponseWriter, _ *http.Request) { w.(http.Flusher).Flush() }, Class2xx},
		{"WriteString is 200", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "x") }, Class2xx},
		{"ReadFrom is 200", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
		}, Class2xx},
		{"999 is other", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(999) }, ClassOther},
		{"write after 503", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "x")
		}, Class5xx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCounters()
			h := c.Middleware(tt.give)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
			s := c.Snapshot()
			var want Snapshot
			want.Total = 1
			want.ByClass[tt.want] = 1
			if s != want {
				t.Fatalf("Snapshot() = %+v, want %+v", s, want)
			}
		})
	}
}

// TestMiddlewareRealServer covers what only net/http's own writer shows:
// panics, http.ErrAbortHandler, hijacking, and the optional interfaces.
func TestMiddlewareRealServer(t *testing.T) {
	tests := []struct {
		name       string
		give       http.HandlerFunc
		wantClass  int
		wantPanics uint64
		wantErr    bool // the client sees a failed request
	}{
		{
			name:       "panic before status",
			give:       func(http.ResponseWriter, *http.Request) { panic("boom") },
			wantClass:  Class5xx,
			wantPanics: 1,
			wantErr:    true,
		},
		{
			name:       "ErrAbortHandler",
			give:       func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
			wantClass:  Class5xx,
			wantPanics: 1,
			wantErr:    true,
		},
		{
			name: "panic after status sent",
			give: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			},
			wantClass:  Class2xx,
			wantPanics: 1,
			wantErr:    true, // the body is cut short
		},
		{
			name: "panic after 404 sent",
			give: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			},
			wantClass:  Class4xx,
			wantPanics: 1,
			wantErr:    true, // the body is cut short
		},
		{
			name: "panic after 503 sent",
			give: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "partial")
				w.(http.Flusher).Flush()
				panic("boom")
			},
			wantClass:  Class5xx,
			wantPanics: 1,
			wantErr:    true,
		},
		{
			name: "hijack",
			give: func(w http.ResponseWriter, _ *http.Request) {
				conn, brw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					panic(err)
				}
				defer conn.Close()
				_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
				_ = brw.Flush()
			},
			wantClass: ClassOther,
		},
		{
			name: "ResponseController through Unwrap",
			give: func(w http.ResponseWriter, _ *http.Request) {
				rc := http.NewResponseController(w)
				if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
					panic(err)
				}
				if err := rc.Flush(); err != nil {
					panic(err)
				}
			},
			wantClass: Class2xx,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCounters()
			srv := httptest.NewUnstartedServer(c.Middleware(tt.give))
			srv.Config.ErrorLog = quietLog
			srv.Start()
			defer srv.Close()
			client := srv.Client()
			defer client.CloseIdleConnections()

			resp, err := client.Get(srv.URL)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("request error = %v, want error %v", err, tt.wantErr)
			}
			// The handler may still be unwinding when the client sees EOF.
			s := waitSnapshot(t, c, func(s Snapshot) bool { return s.Total == 1 })
			var want Snapshot
			want.Total = 1
			want.ByClass[tt.wantClass] = 1
			want.Panics = tt.wantPanics
			if s != want {
				t.Fatalf("Snapshot() = %+v, want %+v", s, want)
			}
		})
	}
}

func waitSnapshot(t *testing.T, c *Counters, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := c.Snapshot()
		if ok(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMiddlewareInFlight holds many requests in their handlers at once,
// so that most of them run on wrappers the pool has just created, and
// lets them end in every class: each must land in its own.
func TestMiddlewareInFlight(t *testing.T) {
	c := NewCounters()
	entered, release := make(chan struct{}), make(chan struct{})
	codes := []int{http.StatusOK, http.StatusNotFound, http.StatusServiceUnavailable, http.StatusFound, http.StatusTooManyRequests}
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		var code int
		if _, err := fmt.Sscan(r.URL.Query().Get("code"), &code); err != nil {
			panic(err)
		}
		w.WriteHeader(code)
	}))
	n := 4*len(c.shards) + 50
	var wg sync.WaitGroup
	for i := range n {
		req := httptest.NewRequest("GET", fmt.Sprintf("/?code=%d", codes[i%len(codes)]), nil)
		wg.Go(func() { h.ServeHTTP(&nopWriter{h: http.Header{}}, req) })
		<-entered
	}
	if s := c.Snapshot(); s.InFlight != int64(n) || s.Total != 0 {
		t.Fatalf("during: %+v, want %d in flight, 0 total", s, n)
	}
	close(release)
	wg.Wait()
	var want Snapshot
	want.Total = uint64(n)
	for i := range n {
		want.ByClass[classOf(codes[i%len(codes)])]++
	}
	if s := c.Snapshot(); s != want {
		t.Fatalf("after: %+v, want %+v", s, want)
	}
}

func TestMiddlewareConcurrentTotals(t *testing.T) {
	c := NewCounters()
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			w := &nopWriter{h: http.Header{}}
			path := "/"
			if i%2 == 1 {
				path = "/bad"
			}
			r := httptest.NewRequest("GET", path, nil)
			for range each {
				h.ServeHTTP(w, r)
			}
		})
	}
	wg.Wait()
	s := c.Snapshot()
	if s.Total != workers*each || s.InFlight != 0 || s.ByClass[Class2xx] != workers*each/2 || s.ByClass[Class4xx] != workers*each/2 {
		t.Fatalf("Snapshot() = %+v", s)
	}
}

// stringWriter is a nopWriter that takes strings, as net/http's writer
// does.
type stringWriter struct{ nopWriter }

func (w *stringWriter) WriteString(s string) (int, error) { return len(s), nil }

func TestMiddlewareNoAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("instrumented builds allocate")
	}
	tests := []struct {
		name string
		give http.HandlerFunc
	}{
		{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }},
		{"io.WriteString", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello\n") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCounters()
			h := c.Middleware(tt.give)
			w := &stringWriter{nopWriter{h: http.Header{}}}
			r := httptest.NewRequest("GET", "/", nil)
			h.ServeHTTP(w, r) // fill the pool
			if n := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); n != 0 {
				t.Fatalf("allocations per request = %v, want 0", n)
			}
		})
	}
}

// plainWriter has none of the optional interfaces.
type plainWriter struct{ nopWriter }

func TestResponseWriterFallbacks(t *testing.T) {
	c := NewCounters()
	var hijackErr, pushErr, flushErr error
	var n int64
	var ns int
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _, hijackErr = w.(http.Hijacker).Hijack()
		pushErr = w.(http.Pusher).Push("/x", nil)
		w.(http.Flusher).Flush() // must not panic
		flushErr = http.NewResponseController(w).Flush()
		n, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("abc"))
		ns, _ = w.(io.StringWriter).WriteString("de")
	}))
	h.ServeHTTP(&plainWriter{nopWriter{h: http.Header{}}}, httptest.NewRequest("GET", "/", nil))
	if !errors.Is(hijackErr, http.ErrNotSupported) {
		t.Errorf("Hijack error = %v, want ErrNotSupported", hijackErr)
	}
	if !errors.Is(pushErr, http.ErrNotSupported) {
		t.Errorf("Push error = %v, want ErrNotSupported", pushErr)
	}
	if !errors.Is(flushErr, http.ErrNotSupported) {
		t.Errorf("Flush error = %v, want ErrNotSupported", flushErr)
	}
	if n != 3 {
		t.Errorf("ReadFrom = %d, want 3", n)
	}
	if ns != 2 {
		t.Errorf("WriteString = %d, want 2", ns)
	}
	if s := c.Snapshot(); s.ByClass[Class2xx] != 1 {
		t.Errorf("Snapshot() = %+v, want one 2xx", s)
	}
}

// TestMiddlewareAbortKeepsClass: a handler that panics or calls
// runtime.Goexit after writing a status is counted under that status's
// class (and as a panic); before any status, as 5xx.
func TestMiddlewareAbortKeepsClass(t *testing.T) {
	tests := []struct {
		name  string
		code  int // written before aborting; 0: none
		abort func()
		want  int
	}{
		{"panic after 404", http.StatusNotFound, func() { panic("boom") }, Class4xx},
		{"panic after 429", http.StatusTooManyRequests, func() { panic(http.ErrAbortHandler) }, Class4xx},
		{"panic after 503", http.StatusServiceUnavailable, func() { panic("boom") }, Class5xx},
		{"panic after 301", http.StatusMovedPermanently, func() { panic("boom") }, Class3xx},
		{"panic after 200", http.StatusOK, func() { panic("boom") }, Class2xx},
		{"panic before status", 0, func() { panic("boom") }, Class5xx},
		{"Goexit after 404", http.StatusNotFound, runtime.Goexit, Class4xx},
		{"Goexit after 500", http.StatusInternalServerError, runtime.Goexit, Class5xx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCounters()
			h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.code != 0 {
					w.WriteHeader(tt.code)
				}
				tt.abort()
			}))
			done := make(chan struct{})
			go func() { // its own goroutine: Goexit must not end the test's
				defer close(done)
				defer func() { _ = recover() }()
				h.ServeHTTP(&nopWriter{h: http.Header{}}, httptest.NewRequest("GET", "/", nil))
			}()
			<-done
			var want Snapshot
			want.Total = 1
			want.Panics = 1
			want.ByClass[tt.want] = 1
			if s := c.Snapshot(); s != want {
				t.Fatalf("Snapshot() = %+v, want %+v", s, want)
			}
		})
	}
}
