// Command plain-chi is the smallest complete sdlife service: a chi router
// without fx. It is the program README.md shows.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
)

func main() {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello\n")) })

	svc, err := sdlife.New(sdlife.Options{
		Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"},
		Logger: slog.Default(),
	})
	if err != nil {
		slog.Error("chi app: cannot start", "err", err)
		os.Exit(1)
	}
	r.Method(http.MethodGet, "/healthz", svc.HealthHandler())
	r.Method(http.MethodGet, "/readyz", svc.ReadinessHandler())
	if err := svc.Run(context.Background(), r); err != nil {
		os.Exit(1)
	}
}
