package sdlife_test

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
)

// A chi application adopts the whole lifecycle around its router: the
// listener from socket activation or the fd store (else the address,
// bound), READY=1 once it accepts, STATUS= with the request counts,
// reload on SIGHUP, watchdog pings while the health checks pass, and on
// SIGTERM STOPPING=1 and a drain that loses no request.
func Example() {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "hello") })

	svc, err := sdlife.New(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"}})
	if err != nil {
		sdlife.ReportStartFailure(lifecycle.ReadEnvironment(), err)
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r.Get("/readyz", svc.ReadinessHandler().ServeHTTP)
	r.Get("/healthz", svc.HealthHandler().ServeHTTP)
	if err := svc.Run(context.Background(), r); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
