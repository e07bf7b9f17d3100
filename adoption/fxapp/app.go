// Package fxapp is plainapp's application adopting sdlife through fx:
// the same Router, Config and health check, wired by fxmodule.
package fxapp

import (
	"context"
	"net/http"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"

	"example.com/adoption/plainapp"
)

// Run serves the application under the service manager until SIGTERM,
// SIGINT or ctx's end, as plainapp.Run does, through fx.
func Run(ctx context.Context, opts sdlife.Options, cfg *plainapp.Config, dbHealthy func(context.Context) error) error {
	return fxmodule.RunContext(ctx,
		fx.Supply(opts, cfg),
		fx.Provide(
			fxmodule.AsReloader(func(cfg *plainapp.Config) sdlife.Reloader { return cfg }),
			fxmodule.AsHealthCheck(func() httpadapter.Check { return httpadapter.Check{Name: "db", Func: dbHealthy} }),
			fx.Annotate(router, fx.As(new(http.Handler))),
		),
	)
}

// router is plainapp's Router with the probes mounted.
func router(cfg *plainapp.Config, svc *sdlife.Service) http.Handler {
	r := plainapp.Router(cfg)
	r.Get("/readyz", svc.ReadinessHandler().ServeHTTP)
	r.Get("/healthz", svc.HealthHandler().ServeHTTP)
	return r
}
