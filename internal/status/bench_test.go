package status

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// The middleware's cost is the difference between the Counted and Bare
// benchmarks; both call ServeHTTP directly with a reusable writer and
// request, so the numbers hold only the handler chain.

var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
})

func benchServe(b *testing.B, h http.Handler) {
	w := &nopWriter{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func benchServeParallel(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &nopWriter{h: http.Header{}}
		r := httptest.NewRequest("GET", "/", nil)
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}

// wrapOnly is the least any status-recording middleware does: wrap the
// writer (here one shared wrapper, so single-goroutine only) and call
// through it, with a defer. Its cost over Bare is the floor under the
// Counted numbers; the rest is the counting itself.
type wrapOnly struct {
	next http.Handler
	rw   statusWriter
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if w.code == 0 {
		w.code = code
	}
}

func (m *wrapOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.rw.ResponseWriter = w
	ok := false
	defer func() {
		if ok {
			m.rw.ResponseWriter, m.rw.code = nil, 0
		}
	}()
	m.next.ServeHTTP(&m.rw, r)
	ok = true
}

func BenchmarkMiddleware(b *testing.B) {
	b.Run("Bare", func(b *testing.B) { benchServe(b, benchHandler) })
	b.Run("WrapOnly", func(b *testing.B) { benchServe(b, &wrapOnly{next: benchHandler}) })
	b.Run("Counted", func(b *testing.B) { benchServe(b, NewCounters().Middleware(benchHandler)) })
}

func BenchmarkMiddlewareParallel(b *testing.B) {
	b.Run("Bare", func(b *testing.B) { benchServeParallel(b, benchHandler) })
	b.Run("Counted", func(b *testing.B) { benchServeParallel(b, NewCounters().Middleware(benchHandler)) })
}

// BenchmarkMiddlewareStatus is the same measurement for a handler that
// answers 404.
func BenchmarkMiddlewareStatus(b *testing.B) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	b.Run("Bare404", func(b *testing.B) { benchServe(b, notFound) })
	b.Run("Counted404", func(b *testing.B) { benchServe(b, NewCounters().Middleware(notFound)) })
	b.Run("Bare404Parallel", func(b *testing.B) { benchServeParallel(b, notFound) })
	b.Run("Counted404Parallel", func(b *testing.B) { benchServeParallel(b, NewCounters().Middleware(notFound)) })
}

// BenchmarkChiLoopback is the yardstick for the numbers above: one
// minimal chi request (GET /hello, a 6-byte body) from a real http.Client
// to a real server over loopback TCP, on one keep-alive connection, with
// and without the middleware (mw=bare, mw=counted), in plain HTTP/1.1 and
// over TLS with HTTP/1.1 and h2 (compare with benchstat -col /mw).
func BenchmarkChiLoopback(b *testing.B) {
	for _, proto := range []string{"http1", "https1", "h2"} {
		for _, counted := range []bool{false, true} {
			name := "proto=" + proto + "/mw=bare"
			if counted {
				name = "proto=" + proto + "/mw=counted"
			}
			b.Run(name, func(b *testing.B) { benchChiLoopback(b, proto, counted) })
		}
	}
}

func benchChiLoopback(b *testing.B, proto string, counted bool) {
	r := chi.NewRouter()
	if counted {
		r.Use(NewCounters().Middleware)
	}
	r.Get("/hello", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello\n")
	})
	srv := httptest.NewUnstartedServer(r)
	switch proto {
	case "http1":
		srv.Start()
	case "https1":
		srv.StartTLS()
	case "h2":
		srv.EnableHTTP2 = true
		srv.StartTLS()
	}
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	url := srv.URL + "/hello"
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		if want := proto == "h2"; (resp.ProtoMajor == 2) != want {
			b.Fatalf("protocol %s", resp.Proto)
		}
	}
}

func BenchmarkSnapshot(b *testing.B) {
	c := NewCounters()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Snapshot()
	}
}
