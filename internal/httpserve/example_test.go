package httpserve_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"net/http"
	"net/http/httptest"

	"github.com/sdlife/sdlife/internal/httpserve"
)

func ExampleCounters_Middleware() {
	c := httpserve.NewCounters()
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
		}
	}))
	for _, path := range []string{"/", "/", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	s := c.Snapshot()
	fmt.Println(s.Total, "requests,", s.ByClass[httpserve.Class2xx], "2xx,", s.ByClass[httpserve.Class4xx], "4xx,", s.InFlight, "in flight")
	// Output: 3 requests, 2 2xx, 1 4xx, 0 in flight
}

func ExampleHealth() {
	h := httpserve.NewHealth(nil,
		httpserve.Check{Name: "db", Func: func(context.Context) error { return nil }},
		httpserve.Check{Name: "cache", Func: func(context.Context) error { return errors.New("connection refused") }},
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
	c := httpserve.NewCounters()
	// A nil Notifier sends nothing; under systemd pass the service's.
	r := httpserve.NewStatusReporter(nil, c, httpserve.StatusConfig{})
	r.SetPhase("Serving")
	r.Start()
	defer r.Stop()
	fmt.Println(r.Line())
	// Output: Serving: 0 requests, 0 in flight, 0.0 req/s
}

func ExampleListen() {
	// Under systemd: env := lifecycle.ReadEnvironment(), files from
	// lifecycle.TakeFiles(env), the Notifier from lifecycle.NewNotifier(env)
	// and FDStore from env.FDStoreLimit().
	l, src, err := httpserve.Listen(httpserve.ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println("listener from:", src)
	// Output: listener from: bound
}

func ExampleServer() {
	l, _, err := httpserve.Listen(httpserve.ListenConfig{ListenConfig: httpadapter.ListenConfig{Address: "127.0.0.1:0"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := httpserve.NewServer(httpserve.ServerConfig{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") }),
		// Notifier: the service's, for EXTEND_TIMEOUT_USEC.
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(l); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("serving on", s.Addr().Network())
	// On SIGTERM:
	if err := s.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	<-s.Done()
	fmt.Println("drained, err:", s.Err())
	// Output:
	// serving on tcp
	// drained, err: <nil>
}
