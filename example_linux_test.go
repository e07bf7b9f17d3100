package sdlife_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle/sdtest"
)

// printLifecycle prints what the manager heard, leaving out what varies
// from run to run: STATUS= lines (they carry a request rate), the clock
// of MONOTONIC_USEC and barriers.
func printLifecycle(m *sdtest.Manager) {
	for _, msg := range m.Messages() {
		for line := range strings.SplitSeq(msg.Raw, "\n") {
			switch {
			case strings.HasPrefix(line, "STATUS="), strings.HasPrefix(line, "MONOTONIC_USEC="), line == "BARRIER=1":
				continue
			}
			fmt.Println("manager:", line)
		}
	}
}

// Run with a hook of the application's own and a reloader, under a fake
// manager (sdtest) instead of systemd.
func ExampleService_Run() {
	m := sdtest.NewManager(nil) // in a test: sdtest.NewManager(t)
	defer m.Close()
	env := m.Environment()

	svc, err := sdlife.New(sdlife.Options{
		Environment: &env,
		Listen:      httpadapter.ListenConfig{Address: "127.0.0.1:0"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	svc.AddReloader(sdlife.ReloadFunc(func(context.Context) error {
		fmt.Println("app: config reloaded")
		return nil
	}))
	db := sdlife.Hook{
		OnStart: func(context.Context) error { fmt.Println("app: db open"); return nil },
		OnStop:  func(context.Context) error { fmt.Println("app: db closed"); return nil },
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, hello, db) }()

	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ready, _ := m.Wait(wctx, sdtest.Has("READY", "1"))
	resp, err := http.Get("http://" + svc.Server().Addr().String())
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print("client: ", string(body))
	}
	svc.Reload() // as SIGHUP does
	m.Wait(wctx, sdtest.After(ready.Seq, sdtest.Has("READY", "1")))
	stop() // as SIGTERM does
	fmt.Println("Run:", <-done)
	printLifecycle(m)
	// Output:
	// app: db open
	// client: hello
	// app: config reloaded
	// app: db closed
	// Run: <nil>
	// manager: READY=1
	// manager: RELOADING=1
	// manager: READY=1
	// manager: STOPPING=1
}

// The phases, as an adapter (package fxmodule) or a program with more
// than an HTTP server to start drives them.
func ExampleService_Start() {
	m := sdtest.NewManager(nil) // in a test: sdtest.NewManager(t)
	defer m.Close()
	env := m.Environment()
	svc, err := sdlife.New(sdlife.Options{
		Environment: &env,
		Listen:      httpadapter.ListenConfig{Address: "127.0.0.1:0"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil { // signals caught, STATUS=Starting
		fmt.Println(err)
		return
	}
	if err := svc.Serve(ctx, http.NotFoundHandler()); err != nil {
		svc.StartFailed(err) // STATUS=, ERRNO=, no READY=1
	} else {
		// ... the application's own start work, then:
		svc.Ready()
	}
	fmt.Println("state:", svc.State())

	// Serving, until SIGTERM, SIGINT or RequestStop.
	svc.RequestStop()
	<-svc.StopRequested()
	svc.Stopping()      // STOPPING=1, readiness 503
	svc.Drain(ctx)      // every request answered
	err = svc.Stop(ctx) // goroutines waited for, final barrier
	fmt.Println("state:", svc.State(), err)
	printLifecycle(m)
	// Output:
	// state: ready
	// state: stopped <nil>
	// manager: READY=1
	// manager: STOPPING=1
}
