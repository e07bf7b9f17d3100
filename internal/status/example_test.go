package status_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sdlife/sdlife/internal/status"
)

func ExampleCounters_Middleware() {
	c := status.NewCounters()
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
		}
	}))
	for _, path := range []string{"/", "/", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	s := c.Snapshot()
	fmt.Println(s.Total, "requests,", s.ByClass[status.Class2xx], "2xx,", s.ByClass[status.Class4xx], "4xx,", s.InFlight, "in flight")
	// Output: 3 requests, 2 2xx, 1 4xx, 0 in flight
}

func ExampleStatusReporter() {
	c := status.NewCounters()
	// A nil Notifier sends nothing; under systemd pass the service's.
	r := status.NewStatusReporter(nil, c, status.StatusConfig{})
	r.SetPhase("Serving")
	r.Start()
	defer r.Stop()
	fmt.Println(r.Line())
	// Output: Serving: 0 requests, 0 in flight, 0.0 req/s
}
