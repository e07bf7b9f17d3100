package fxmodule

import (
	"errors"
	"net/http"

	"go.uber.org/fx"
)

type serveParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Service    *Service
	Handler    http.Handler `optional:"true"`
}

// serve runs the HTTP server when Config.Serve is set.
func serve(p serveParams) error {
	if p.Service.cfg.Serve == nil {
		return nil
	}
	return errors.New("fxmodule: Config.Serve: not implemented yet")
}
