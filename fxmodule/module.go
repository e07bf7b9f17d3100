package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/internal/logs"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/lifecycle"
)

// Module wires an sdlife.Service into an fx application. Run adds it at
// the top level; an application built with fx.New places it there itself
// (see the package documentation for why the top level):
//
//	fx.New(
//		fxmodule.Module,
//		fx.Supply(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"}}),
//		fx.Provide(fx.Annotate(NewRouter, fx.As(new(http.Handler)))),
//	).Run()
//
// It builds the Service from the sdlife.Options in the graph (optional;
// zero Options otherwise) and the *slog.Logger in the graph (optional;
// silent otherwise), and provides the *sdlife.Service: its probes,
// counters and descriptors are reached through it. When the application
// provides an http.Handler, the Service serves it from an OnStart hook and
// drains it when the stop begins, before any OnStop hook of the
// application runs. What AsReloader, AsHealthCheck and AsMemoryReleaser
// provide is added to the Service. It can be installed once.
var Module = fx.Options(tracking, service)

// tracking decorates fx.Lifecycle where it is placed (see trackedLifecycle),
// and service builds and registers the Service. Run places tracking at the
// top level even when Module is inside one of its options.
var (
	tracking = fx.Decorate(trackLifecycle)
	service  = fx.Module("sdlife",
		fx.Provide(newService),
		fx.Invoke(register),
	)
)

// The value groups Module consumes (registerParams names them too); the
// As helpers put values into them.
const (
	reloadersGroup       = `group:"reloaders"`
	healthChecksGroup    = `group:"health_checks"`
	memoryReleasersGroup = `group:"memory_releasers"`
)

// AsReloader annotates constructor, which returns an sdlife.Reloader, so
// that the Service runs its Reload on every reload (SIGHUP,
// Service.Reload). Like the other As helpers, it is used in fx.Provide,
// and fx.New fails when constructor returns something else; see the
// package documentation for a value the application also uses itself.
func AsReloader(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(sdlife.Reloader)), fx.ResultTags(reloadersGroup))
}

// AsHealthCheck annotates constructor, which returns an
// httpadapter.Check, so that the check is one of the Service's: the
// health probe runs it, and the watchdog follows it.
func AsHealthCheck(constructor any) any {
	// fx.As takes interfaces only, so a constructor of another type would
	// feed a group nobody reads: fail fx.New instead.
	if t := reflect.TypeOf(constructor); t == nil || t.Kind() != reflect.Func || t.NumOut() == 0 || t.Out(0) != reflect.TypeFor[httpadapter.Check]() {
		err := fmt.Errorf("fxmodule: AsHealthCheck(%T): want a constructor returning an httpadapter.Check", constructor)
		return fx.Annotate(func() (httpadapter.Check, error) { return httpadapter.Check{}, err }, fx.ResultTags(healthChecksGroup))
	}
	return fx.Annotate(constructor, fx.ResultTags(healthChecksGroup))
}

// AsMemoryReleaser annotates constructor, which returns an
// sdlife.MemoryReleaser, so that the Service asks it to release memory
// under memory pressure.
func AsMemoryReleaser(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(sdlife.MemoryReleaser)), fx.ResultTags(memoryReleasersGroup))
}

type serviceParams struct {
	fx.In

	Options sdlife.Options `optional:"true"`
	Logger  *slog.Logger   `optional:"true"`
	Run     *runInfo       `optional:"true"` // supplied by Run only
}

func newService(p serviceParams) (*sdlife.Service, error) {
	opts := p.Options
	if opts.Logger == nil {
		opts.Logger = p.Logger
	}
	if opts.Environment == nil {
		// Read here rather than in New, so that Run can report a failure
		// of New to the manager it names.
		env := lifecycle.ReadEnvironment()
		opts.Environment = &env
	}
	p.Run.setEnv(opts.Environment)
	return sdlife.New(opts)
}

type registerParams struct {
	fx.In

	Options    sdlife.Options `optional:"true"`
	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Service    *sdlife.Service
	Handler    http.Handler            `optional:"true"`
	Reloaders  []sdlife.Reloader       `group:"reloaders"`
	Checks     []httpadapter.Check     `group:"health_checks"`
	Releasers  []sdlife.MemoryReleaser `group:"memory_releasers"`
	Run        *runInfo                `optional:"true"` // supplied by Run only
	Logger     *slog.Logger            `optional:"true"`
}

func register(p registerParams) error {
	t, ok := p.Lifecycle.(*trackedLifecycle)
	if !ok {
		// Someone decorated fx.Lifecycle again below Module: READY=1 could
		// no longer be ordered after every OnStart hook.
		return errors.New("fxmodule: fx.Lifecycle is decorated below fxmodule.Module; place Module at the top level of fx.New")
	}
	s := p.Service
	ph := phases.Of(s)
	drain := time.Duration(0)
	if p.Handler != nil {
		drain = drainBudget(p.Options.Server)
	}
	p.Run.setService(ph, t, drain)
	for _, r := range p.Reloaders {
		s.AddReloader(r)
	}
	for _, c := range p.Checks {
		s.AddHealthCheck(c)
	}
	for _, r := range p.Releasers {
		s.AddMemoryReleaser(r)
	}
	log := p.Options.Logger
	if log == nil {
		log = p.Logger
	}
	log = logs.OrDiscard(log)
	if err := t.attach(&adapter{svc: ph, shutdowner: p.Shutdowner, log: log, drain: drain}); err != nil {
		return err
	}
	if p.Handler == nil && p.Options.Listen != (httpadapter.ListenConfig{}) {
		return errors.New("fxmodule: sdlife.Options.Listen is set but the application provides no http.Handler")
	}
	if p.Handler != nil {
		// Drained by adapter.Stopping, before any OnStop hook.
		p.Lifecycle.Append(fx.StartHook(func(ctx context.Context) error { return ph.Serve(ctx, p.Handler) }))
	}
	return nil
}

// adapter is what the tracked lifecycle drives: the Service's phases,
// plus the goroutine that turns the Service's stop requests (SIGTERM,
// a failed server) into fx.Shutdowner calls.
type adapter struct {
	svc        phases.Service
	shutdowner fx.Shutdowner
	log        *slog.Logger
	drain      time.Duration // the server's drain at most; zero without a server
	quit       chan struct{}
	wg         sync.WaitGroup
}

var _ observer = (*adapter)(nil)

func (a *adapter) Start(ctx context.Context) error {
	if err := a.svc.Start(ctx); err != nil {
		return err
	}
	a.quit = make(chan struct{})
	a.wg.Add(1)
	go a.forwardStop()
	return nil
}

// forwardStop asks fx to stop when the Service wants to: fx.App.Run then
// runs the OnStop hooks. fx keeps a shutdown requested before its own
// signal handling began (App.Wait, App.Done), so there is no window in
// which a SIGTERM is lost. A server failure exits with code 1.
func (a *adapter) forwardStop() {
	defer a.wg.Done()
	select {
	case <-a.quit:
		return
	case <-a.svc.StopRequested():
	}
	var opts []fx.ShutdownOption
	if a.svc.Err() != nil {
		opts = append(opts, fx.ExitCode(1))
	}
	// An error only says that a receiver already had a signal pending:
	// fx's own handler saw the same SIGTERM.
	_ = a.shutdowner.Shutdown(opts...)
}

func (a *adapter) Ready() error          { return a.svc.Ready() }
func (a *adapter) StartFailed(err error) { a.svc.StartFailed(err) }

// Stopping sends STOPPING=1 and drains the server before the first OnStop
// hook of the application runs, so that what the handlers use (a
// database pool, say) is still there while the last requests finish.
// A drain cut short is logged by the server; Stop reports it again.
//
// fx gives the stop hooks its stop timeout (fx.StopTimeout), and exits when
// it runs out. Run refuses one that does not exceed the drain; an
// application built with fx.New gets one line saying so as the stop
// begins, since the process may be gone before the drain could say it
// cut requests.
func (a *adapter) Stopping(ctx context.Context) {
	if dl, ok := ctx.Deadline(); ok && a.drain > 0 {
		if left := time.Until(dl); left <= a.drain {
			a.log.Warn("fxmodule: the stop timeout does not exceed the drain: requests still in flight when it runs out are cut; raise fx.StopTimeout or use fxmodule.Run",
				"stop_timeout", left.Round(time.Second), "drain", a.drain)
		}
	}
	_ = a.svc.Drain(ctx)
}

func (a *adapter) Stop(ctx context.Context) error {
	if a.quit != nil {
		close(a.quit)
		a.wg.Wait()
	}
	return a.svc.Stop(ctx)
}
