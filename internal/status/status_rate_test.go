package status

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The req/s of the STATUS line is the rate over the last sample period,
// not since the start: a service that served a burst and then went quiet
// shows 0.0 req/s. The samples are taken at given instants here (the
// reporter takes them on its ticker), so that the rate is exact.
func TestStatusRateIsPerPeriod(t *testing.T) {
	c := NewCounters()
	h := c.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	serve := func(n int) {
		for range n {
			h.ServeHTTP(&nopWriter{h: http.Header{}}, httptest.NewRequest("GET", "/", nil))
		}
	}
	r := NewStatusReporter(nil, c, StatusConfig{Interval: time.Second}) // never started: no ticker
	sample := func(at time.Time) {
		r.mu.Lock()
		r.sampleLocked(at)
		r.mu.Unlock()
	}

	t0 := time.Unix(1_000_000, 0)
	tests := []struct {
		name  string
		serve int           // requests before the sample
		after time.Duration // the sample's time after t0
		want  string
	}{
		{name: "first sample: no period yet", serve: 100, after: 0, want: "100 requests, 0 in flight, 0.0 req/s"},
		{name: "50 in one second", serve: 50, after: time.Second, want: "150 requests, 0 in flight, 50 req/s"},
		{name: "3 in two seconds", serve: 3, after: 3 * time.Second, want: "153 requests, 0 in flight, 1.5 req/s"},
		{name: "quiet", serve: 0, after: 4 * time.Second, want: "153 requests, 0 in flight, 0.0 req/s"},
	}
	for _, tt := range tests { // in order: each sample follows the one before
		t.Run(tt.name, func(t *testing.T) {
			serve(tt.serve)
			sample(t0.Add(tt.after))
			if got := r.Line(); got != tt.want {
				t.Errorf("Line() = %q, want %q", got, tt.want)
			}
		})
	}
}
