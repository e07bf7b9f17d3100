package fxmodule

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
)

// Module wires an sdlife.Service into an fx application; Run adds it, and
// an application built with fx.New adds it at its top level:
//
//	fx.New(
//		fxmodule.Module, // at the top level of fx.New
//		fx.Supply(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"}}),
//		fx.Provide(fx.Annotate(NewRouter, fx.As(new(http.Handler)))),
//	).Run()
//
// It builds the Service from the sdlife.Options in the graph (optional;
// zero Options otherwise) and the *slog.Logger in the graph (optional;
// silent otherwise), and provides the Service and its parts: the
// *lifecycle.Notifier, the passed *lifecycle.Files, *httpserve.Counters,
// *httpserve.Readiness, *httpserve.Health and
// *httpserve.StatusReporter. When the application provides an
// http.Handler, the Service serves it (sdlife.Service.Serve) from an
// OnStart hook and drains it when the stop begins, before any OnStop hook
// of the application runs. Members of the "reloaders", "health_checks"
// and "memory_releasers" value groups are added to the Service.
//
// Module must be placed at the top level of fx.New, not inside another
// fx.Module: fx.New fails with an error saying so otherwise (see the
// package documentation for why). It can be installed once.
var Module = fx.Options(
	fx.Invoke(checkPlacement),
	fx.Decorate(trackLifecycle),
	fx.Module("sdlife",
		fx.Provide(newService),
		fx.Invoke(register),
	),
)

// The value groups Module consumes.
const (
	// ReloadersGroup collects sdlife.Reloaders; see AsReloader.
	ReloadersGroup = "reloaders"
	// HealthChecksGroup collects httpserve.Checks; see AsHealthCheck.
	HealthChecksGroup = "health_checks"
	// MemoryReleasersGroup collects sdlife.MemoryReleasers; see
	// AsMemoryReleaser.
	MemoryReleasersGroup = "memory_releasers"
)

// AsReloader adds the value of type T, which the application provides
// itself, to the "reloaders" group, so that a reload runs its Reload. The
// value stays available by its own type, as the same instance:
//
//	fx.Provide(NewConfigStore),                  // *ConfigStore, used by handlers
//	fxmodule.AsReloader[*ConfigStore](),         // ... and reloaded on SIGHUP
func AsReloader[T sdlife.Reloader]() fx.Option {
	return fx.Provide(fx.Annotate(
		func(v T) sdlife.Reloader { return v },
		fx.ResultTags(`group:"`+ReloadersGroup+`"`),
	))
}

// AsMemoryReleaser adds the value of type T, which the application
// provides itself, to the "memory_releasers" group, so that it is asked to
// release memory under memory pressure. The value stays available by its
// own type, as the same instance.
func AsMemoryReleaser[T sdlife.MemoryReleaser]() fx.Option {
	return fx.Provide(fx.Annotate(
		func(v T) sdlife.MemoryReleaser { return v },
		fx.ResultTags(`group:"`+MemoryReleasersGroup+`"`),
	))
}

// AsHealthCheck annotates a constructor returning an httpadapter.Check so
// that it joins the "health_checks" group:
//
//	fx.Provide(fxmodule.AsHealthCheck(NewDBCheck))
func AsHealthCheck(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+HealthChecksGroup+`"`))
}

type serviceParams struct {
	fx.In

	Options sdlife.Options `optional:"true"`
	Logger  *slog.Logger   `optional:"true"`
	Run     *runInfo       `optional:"true"` // supplied by Run only
}

type serviceResult struct {
	fx.Out

	Service  *sdlife.Service
	Notifier *lifecycle.Notifier
	Files    *lifecycle.Files
}

func newService(p serviceParams) (serviceResult, error) {
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
	s, err := sdlife.New(opts)
	if err != nil {
		return serviceResult{}, err
	}
	return serviceResult{
		Service:  s,
		Notifier: s.Notifier(),
		Files:    s.Files(),
	}, nil
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
	drain := time.Duration(0)
	if p.Handler != nil {
		drain = drainBudget(p.Options.Server)
	}
	p.Run.setService(s, t, drain)
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
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := t.attach(&adapter{svc: s, shutdowner: p.Shutdowner, log: log, drain: drain}); err != nil {
		return err
	}
	if p.Handler == nil && p.Options.Listen != (httpadapter.ListenConfig{}) {
		return errors.New("fxmodule: sdlife.Options.Listen is set but the application provides no http.Handler")
	}
	if p.Handler != nil {
		// Drained by adapter.Stopping, before any OnStop hook.
		p.Lifecycle.Append(fx.StartHook(func(ctx context.Context) error { return s.Serve(ctx, p.Handler) }))
	}
	return nil
}

// adapter is what the tracked lifecycle drives: the Service's phases,
// plus the goroutine that turns the Service's stop requests (SIGTERM,
// a failed server) into fx.Shutdowner calls.
type adapter struct {
	svc        *sdlife.Service
	shutdowner fx.Shutdowner
	log        *slog.Logger
	drain      time.Duration // the server's drain at most; zero without a server
	quit       chan struct{}
	wg         sync.WaitGroup
}

var _ phases = (*adapter)(nil)

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

// checkPlacement fails fx.New when Module is not at the top level: its
// fx.Decorate would then reach only the enclosing fx.Module, and hooks
// appended above it would run after READY=1. fx offers no API that says
// in which module an invoke runs; its invokes run from one
// (*module).invokeAll frame per level of nesting, which this counts. If a
// later fx runs invokes differently (no such frame), the check passes.
func checkPlacement() error {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	levels := 0
	for {
		f, more := frames.Next()
		if strings.HasPrefix(f.Function, "go.uber.org/fx.") && strings.HasSuffix(f.Function, ").invokeAll") {
			levels++
		}
		if !more {
			break
		}
	}
	if levels > 1 {
		return errors.New("fxmodule: Module is inside an fx.Module; place it at the top level of fx.New, or READY=1 could precede the OnStart hooks of the levels above")
	}
	return nil
}
