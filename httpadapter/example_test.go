package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sdlife/sdlife/httpadapter"
)

func ExampleCounters_Middleware() {
	c := httpadapter.NewCounters()
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
		}
	}))
	for _, path := range []string{"/", "/", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	s := c.Snapshot()
	fmt.Println(s.Total, "requests,", s.ByClass[httpadapter.Class2xx], "2xx,", s.ByClass[httpadapter.Class4xx], "4xx,", s.InFlight, "in flight")
	// Output: 3 requests, 2 2xx, 1 4xx, 0 in flight
}

func ExampleReadiness() {
	var ready httpadapter.Readiness // starts in StateStarting
	probe := func() {
		rec := httptest.NewRecorder()
		ready.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	probe()
	ready.Set(httpadapter.StateReady)
	probe()
	ready.Set(httpadapter.StateStopping)
	probe()
	// Output:
	// 503 starting
	// 200 ready
	// 503 stopping
}

func ExampleHealth() {
	h := httpadapter.NewHealth(nil,
		httpadapter.Check{Name: "db", Func: func(context.Context) error { return nil }},
		httpadapter.Check{Name: "cache", Func: func(context.Context) error { return errors.New("connection refused") }},
	)
	rep := h.Run(context.Background())
	fmt.Println("healthy:", rep.Healthy)
	for _, r := range rep.Results {
		fmt.Println(r.Name, r.Err)
	}
	// Output:
	// healthy: false
	// db <nil>
	// cache connection refused
}

func ExampleStatusReporter() {
	c := httpadapter.NewCounters()
	// A nil Notifier sends nothing; under systemd pass the service's.
	r := httpadapter.NewStatusReporter(nil, c, httpadapter.StatusConfig{})
	r.SetPhase("Serving")
	r.Start()
	defer r.Stop()
	fmt.Println(r.Line())
	// Output: Serving: 0 requests, 0 in flight, 0.0 req/s
}
