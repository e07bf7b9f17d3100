package fxmodule

import (
	"errors"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife/httpadapter"
)

// Module wires the package into an fx application:
//
//	fx.New(
//		fx.Provide(fx.Annotate(NewRouter, fx.As(new(http.Handler)))),
//		fx.Supply(fxmodule.Config{Serve: &fxmodule.ServeConfig{Address: ":8080"}}),
//		fxmodule.Module,
//	).Run()
//
// It provides what New returns (the Service, the Notifier, the passed
// Files, Counters, Readiness, Health and the StatusReporter), registers the
// "reloaders" and "health_checks" value groups, runs the HTTP server when
// Config.Serve is set, and ties all of it to the application's lifecycle.
//
// Place Module directly in fx.New's options, not inside another
// fx.Module: it decorates fx.Lifecycle at the level where it is placed
// (see the package documentation), and hooks appended above that level
// would not be seen. Module can be installed once per application.
var Module = fx.Options(
	fx.Decorate(trackLifecycle),
	fx.Module("sdlife",
		fx.Provide(New),
		fx.Invoke(register),
		fx.Invoke(serve),
	),
)

// The value groups Module consumes.
const (
	// ReloadersGroup collects Reloaders: provide one with
	// fx.ResultTags(`group:"reloaders"`), or with AsReloader.
	ReloadersGroup = "reloaders"
	// HealthChecksGroup collects httpadapter.Checks: provide one with
	// fx.ResultTags(`group:"health_checks"`), or with AsHealthCheck.
	HealthChecksGroup = "health_checks"
)

// AsReloader annotates a constructor whose result implements Reloader so
// that it joins the "reloaders" group:
//
//	fx.Provide(fxmodule.AsReloader(NewConfigStore))
//
// The constructed value is only in the group: provide it a second time
// (without AsReloader) if other constructors need it by type.
func AsReloader(constructor any) any {
	return fx.Annotate(constructor,
		fx.As(new(Reloader)),
		fx.ResultTags(`group:"`+ReloadersGroup+`"`))
}

// AsHealthCheck annotates a constructor returning an httpadapter.Check so
// that it joins the "health_checks" group:
//
//	fx.Provide(fxmodule.AsHealthCheck(NewDBCheck))
func AsHealthCheck(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+HealthChecksGroup+`"`))
}

type registerParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Service    *Service
	Reloaders  []Reloader          `group:"reloaders"`
	Checks     []httpadapter.Check `group:"health_checks"`
}

func register(p registerParams) error {
	t, ok := p.Lifecycle.(*trackedLifecycle)
	if !ok {
		// Someone decorated fx.Lifecycle again below Module: READY=1 could
		// no longer be ordered after every OnStart hook. Refuse rather
		// than report readiness too early.
		return errors.New("fxmodule: fx.Lifecycle is decorated below fxmodule.Module; place Module at the top level of fx.New")
	}
	for _, r := range p.Reloaders {
		if r != nil {
			p.Service.AddReloader(r)
		}
	}
	for _, c := range p.Checks {
		p.Service.health.Add(c)
	}
	p.Service.setShutdown(func() {
		// An error only says that a receiver already had a signal
		// pending: fx's own handler saw the same SIGTERM.
		if err := p.Shutdowner.Shutdown(); err != nil {
			p.Service.log.Debug("fxmodule: requesting shutdown", "err", err)
		}
	})
	return t.attach(p.Service)
}
