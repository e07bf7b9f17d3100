// Package plainapp is a plain chi application, as a user writes it, that
// adopts sdlife without fx. Router is the application as it was before;
// Run is all the sdlife wiring it needs.
package plainapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
)

// Config is the application's configuration, read from a JSON file and
// re-read on reload. A file that does not parse leaves it unchanged.
type Config struct {
	path     string
	greeting atomic.Pointer[string]
}

// LoadConfig reads the file at path.
func LoadConfig(path string) (*Config, error) {
	c := &Config{path: path}
	if err := c.Reload(context.Background()); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads the file; it is a sdlife.Reloader.
func (c *Config) Reload(context.Context) error {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return err
	}
	var f struct {
		Greeting string `json:"greeting"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: %w", c.path, err)
	}
	if f.Greeting == "" {
		return fmt.Errorf("%s: greeting is empty", c.path)
	}
	c.greeting.Store(&f.Greeting)
	return nil
}

// Greeting is the configured greeting.
func (c *Config) Greeting() string { return *c.greeting.Load() }

// Router is the application: GET / greets, GET /slow?ms=N answers after
// N milliseconds.
func Router(cfg *Config) chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, cfg.Greeting()) })
	r.Get("/slow", func(w http.ResponseWriter, req *http.Request) {
		ms, err := strconv.Atoi(req.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > 60000 {
			http.Error(w, "ms: want 0..60000", http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintln(w, "slow")
	})
	return r
}

// ErrDown is the health check's failure.
var ErrDown = errors.New("down")

// Run serves the application under the service manager until SIGTERM,
// SIGINT or ctx's end. dbHealthy is the application's health check.
//
// The sdlife wiring, all of it: 9 lines.
func Run(ctx context.Context, opts sdlife.Options, cfg *Config, dbHealthy func(context.Context) error) error {
	r := Router(cfg)
	svc, err := sdlife.New(opts)
	if err != nil {
		return err
	}
	svc.AddReloader(cfg)
	svc.AddHealthCheck(httpadapter.Check{Name: "db", Func: dbHealthy})
	r.Get("/readyz", svc.ReadinessHandler().ServeHTTP)
	r.Get("/healthz", svc.HealthHandler().ServeHTTP)
	return svc.Run(ctx, r)
}
