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
	resp, err := http.Get("http://" + svc.Addr().String())
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

// workerPool stands for another framework's application object: it has
// its own Start and Stop, and runs beside the HTTP server.
type workerPool struct{}

func (p *workerPool) Start(context.Context) error {
	fmt.Println("framework: workers started")
	return nil
}

func (p *workerPool) Stop(context.Context) error {
	fmt.Println("framework: workers stopped")
	return nil
}

// Another framework is served through Run and a Hook, the smallest hook
// there is: its Start runs after the listener accepts and before READY=1,
// its Stop after the drain, so the handlers can use it to the last
// request. A failing Start is reported to the manager and stops the
// service.
func Example_otherFramework() {
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
	app := new(workerPool)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- svc.Run(ctx, http.NotFoundHandler(), sdlife.Hook{OnStart: app.Start, OnStop: app.Stop})
	}()
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Wait(wctx, sdtest.Has("READY", "1"))
	fmt.Println("state:", svc.State())
	stop() // as SIGTERM does
	fmt.Println("Run:", <-done)
	printLifecycle(m)
	// Output:
	// framework: workers started
	// state: ready
	// framework: workers stopped
	// Run: <nil>
	// manager: READY=1
	// manager: STOPPING=1
}
