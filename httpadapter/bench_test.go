package httpadapter

import (
	"net/http"
	"net/http/httptest"
	"testing"
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

func BenchmarkMiddleware(b *testing.B) {
	b.Run("Bare", func(b *testing.B) { benchServe(b, benchHandler) })
	b.Run("Counted", func(b *testing.B) { benchServe(b, NewCounters().Middleware(benchHandler)) })
}

func BenchmarkMiddlewareParallel(b *testing.B) {
	b.Run("Bare", func(b *testing.B) { benchServeParallel(b, benchHandler) })
	b.Run("Counted", func(b *testing.B) { benchServeParallel(b, NewCounters().Middleware(benchHandler)) })
}

func BenchmarkSnapshot(b *testing.B) {
	c := NewCounters()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Snapshot()
	}
}
