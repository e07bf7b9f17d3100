//go:build linux

package httpadapter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// A whole service on chi without fx: the listener from systemd (or bound
// and stored), request counting, STATUS, readiness, and a drain on stop.
// The fake manager stands in for systemd and shows what it received.
func Example_service() {
	m := sdtest.NewManager(nil, sdtest.WithFDStore(4)) // in a test: sdtest.NewManager(t, ...)
	defer m.Close()
	env := m.Environment() // in a service: lifecycle.ReadEnvironment(), once

	notifier, err := lifecycle.NewNotifier(env)
	if err != nil {
		panic(err)
	}
	defer notifier.Close()
	files, err := lifecycle.TakeFiles(env) // socket activation and the fd store, once
	if err != nil {
		panic(err)
	}
	defer files.Close() // closes whatever nobody claimed
	limit, err := env.FDStoreLimit()
	if err != nil {
		panic(err)
	}

	counters := httpadapter.NewCounters()
	var ready httpadapter.Readiness
	r := chi.NewRouter()
	r.Use(counters.Middleware)
	r.Method(http.MethodGet, "/readyz", ready.Handler())
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello\n") })

	l, source, err := httpadapter.Listen(httpadapter.ListenConfig{
		Address: "127.0.0.1:0", Files: files, Notifier: notifier, FDStore: limit,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("listener:", source)

	status := httpadapter.NewStatusReporter(notifier, counters, httpadapter.StatusConfig{Interval: time.Hour})
	status.SetPhase("Serving")
	srv, err := httpadapter.NewServer(httpadapter.ServerConfig{
		Handler: r, Notifier: notifier, Readiness: &ready,
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(l); err != nil { // READY=1 once the listener accepts
		panic(err)
	}
	status.Start()

	resp, err := http.Get("http://" + l.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	status.Flush()

	// On SIGTERM: STOPPING=1, readiness 503, drain, close.
	if err := srv.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	status.Stop()
	notifier.Barrier(context.Background())
	for _, msg := range m.Messages() {
		fmt.Printf("%q\n", msg.Raw)
	}
	// Output:
	// listener: bound
	// "FDSTORE=1\nFDNAME=http\nFDPOLL=0"
	// "READY=1"
	// "STATUS=Serving: 0 requests, 0 in flight, 0.0 req/s"
	// "STATUS=Serving: 1 requests, 0 in flight, 0.0 req/s"
	// "STOPPING=1"
	// "BARRIER=1"
}
