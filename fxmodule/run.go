package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/httpserve"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/lifecycle"
)

// defaultStopTimeout is the fx stop timeout Run sets unless the
// application passes fx.StopTimeout: the default drain
// (httpserve.DefaultDrainTimeout) and 5 seconds for the OnStop hooks
// that follow it. fx's own default, 15 seconds, would cut the drain short.
const defaultStopTimeout = httpserve.DefaultDrainTimeout + 5*time.Second

// Run builds the application from Module and opts, starts it, runs it
// until SIGTERM, SIGINT or a stop the Service asks for, and stops it: the
// one call that replaces fx.New(fxmodule.Module, opts...).Run(). Like
// fx.App.Run, it returns after a clean stop and exits the process with a
// non-zero status otherwise.
//
// Run adds Module itself, and tracks fx.Lifecycle at the top level of the
// application: READY=1 follows every OnStart hook whether Module is left
// out of opts, passed among them, or inside an fx.Module of theirs. Inside
// an fx.Options among them, it would decorate fx.Lifecycle a second time
// at the top level, and Run fails saying "already decorated".
//
// What Run adds to fx.App.Run, so that an operator sees why a service did
// not start:
//
//   - Every failure ends in one line on stderr, "<program>: <error>",
//     without fx's or dig's wrapping or source positions: a constructor's
//     or invoke's own error (dig.RootCause), the hook's error for a
//     failed start, the server's error when it stopped serving.
//   - A failure to build the application (a malformed $NOTIFY_SOCKET or
//     $LISTEN_FDS, a constructor returning an error) reaches the manager
//     as "STATUS=start failed: <error>" and, when the error wraps a
//     syscall.Errno, ERRNO=, as a failed OnStart hook does.
//   - A stop timeout (fx.StopTimeout) that does not exceed the drain
//     (Options.Server.ListenerCloseDelay plus DrainTimeout) is refused
//     before anything starts: fx would otherwise cut requests in flight
//     when the timeout runs out. Unless opts set one, it is the default
//     drain plus 5 seconds (35 s), not fx's 15 s.
//   - fx's own event log is off unless opts has an fx.WithLogger; the
//     Service logs through the application's *slog.Logger.
func Run(opts ...fx.Option) {
	code, err := run(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", filepath.Base(os.Args[0]), oneLine(err))
		if code == 0 {
			code = 1
		}
	}
	if code != 0 {
		os.Exit(code)
	}
}

// RunContext is Run for a caller that keeps the process: it stops the
// application when ctx ends too, and returns the error Run would print
// (nil after a clean stop) instead of exiting. The manager is told about
// a failed start as by Run.
func RunContext(ctx context.Context, opts ...fx.Option) error {
	code, err := run(ctx, opts)
	if err == nil && code != 0 {
		err = fmt.Errorf("fxmodule: stopped with exit code %d", code)
	}
	return err
}

// run returns the exit code the application asked for (fx.ExitCode) and
// the error that ended it, if any; the code is 1 when err is set.
func run(ctx context.Context, opts []fx.Option) (int, error) {
	info := new(runInfo)
	all := []fx.Option{
		fx.NopLogger,                       // the application's fx.WithLogger, if any, comes later and wins
		fx.StopTimeout(defaultStopTimeout), // likewise
		fx.Supply(info),
		tracking, // at the top level, wherever Module is
	}
	withService := true
	for _, o := range opts {
		// Module among opts must not build a second Service. fx options
		// are not comparable; their text identifies them (it names every
		// function they hold). At the top level, Run's own takes its
		// place; inside an fx.Module, its decoration finds the lifecycle
		// tracked already (trackLifecycle).
		switch text := fmt.Sprint(o); {
		case text == moduleText:
			continue
		case strings.Contains(text, moduleText):
			withService = false
		}
		all = append(all, o)
	}
	if withService {
		all = append(all, service)
	}
	app := fx.New(all...)
	if err := app.Err(); err != nil {
		err = buildError(err)
		info.startFailed(err)
		return 1, err
	}
	if d := info.drainBudget(); d > 0 && app.StopTimeout() <= d {
		err := fmt.Errorf("fxmodule: fx.StopTimeout %v does not exceed the drain (%v): requests still in flight would be cut; pass fx.StopTimeout(%v) or shorten Options.Server.DrainTimeout",
			app.StopTimeout(), d, d+5*time.Second)
		info.startFailed(err)
		return 1, err
	}

	startCtx, cancel := context.WithTimeout(ctx, app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		// The Service tells the manager (see trackedLifecycle), from
		// another goroutine when a hook outlasted startCtx.
		info.awaitStartReport()
		switch {
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return 1, fmt.Errorf("fxmodule: start interrupted: %w", ctx.Err())
		case startCtx.Err() != nil && errors.Is(err, startCtx.Err()):
			return 1, fmt.Errorf("fxmodule: start did not finish within fx.StartTimeout %v", app.StartTimeout())
		}
		return 1, err
	}
	code := 0
	select {
	case sig := <-app.Wait(): // SIGTERM, SIGINT, or the Service asked fx to stop
		code = sig.ExitCode
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		if stopCtx.Err() != nil && errors.Is(err, stopCtx.Err()) {
			return 1, fmt.Errorf("fxmodule: stop did not finish within fx.StopTimeout %v", app.StopTimeout())
		}
		return 1, err
	}
	if code != 0 {
		// The server failed (the Service asked fx to stop with exit code
		// 1): say why, as for a failed start.
		return code, info.serveErr()
	}
	return code, nil
}

// runInfo is what Run learns from inside the graph. Run supplies it;
// applications built with fx.New have none.
type runInfo struct {
	mu    sync.Mutex
	env   *lifecycle.Environment // the environment the Service reads
	svc   phases.Service         // built, not necessarily started
	track *trackedLifecycle      // reports a failed start
	drain time.Duration          // the server's drain; zero without a server
}

func (r *runInfo) setEnv(env *lifecycle.Environment) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.env = env
}

func (r *runInfo) setService(s phases.Service, t *trackedLifecycle, drain time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.svc, r.track, r.drain = s, t, drain
}

// drainBudget is how long the server's drain may take: the listener close
// delay and the drain timeout (see httpserve.Server.Shutdown).
func drainBudget(sc httpadapter.ServerConfig) time.Duration {
	d := sc.DrainTimeout
	if d == 0 {
		d = httpserve.DefaultDrainTimeout
	}
	return sc.ListenerCloseDelay + d
}

// awaitStartReport waits, a second at most, until the failed start has
// been reported to the manager.
func (r *runInfo) awaitStartReport() {
	r.mu.Lock()
	t := r.track
	r.mu.Unlock()
	if t == nil {
		return
	}
	if done := t.failureReported(); done != nil {
		tm := time.NewTimer(time.Second)
		defer tm.Stop()
		select {
		case <-done:
		case <-tm.C:
		}
	}
}

// serveErr is why the Service asked to stop, when it was not a signal.
func (r *runInfo) serveErr() error {
	r.mu.Lock()
	svc := r.svc
	r.mu.Unlock()
	if svc == nil {
		return nil
	}
	return svc.Err()
}

func (r *runInfo) drainBudget() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.drain
}

// startFailed tells the manager why the application never started, and
// releases the Service when it was built: its descriptors and Notifier.
func (r *runInfo) startFailed(err error) {
	r.mu.Lock()
	env, svc := r.env, r.svc
	r.mu.Unlock()
	if env == nil {
		e := lifecycle.ReadEnvironment()
		env = &e
	}
	sdlife.ReportStartFailure(*env, err)
	if svc != nil {
		_ = svc.Stop(context.Background()) // never started: closes what New opened
	}
}

// moduleText identifies Module among Run's options.
var moduleText = fmt.Sprint(Module)

// sourcePosition matches the " (/path/file.go:123)" dig puts after
// function names.
var sourcePosition = regexp.MustCompile(` \([^()]*\.go:[0-9]+\)`)

// buildError turns fx.New's error into what an operator can act on: the
// error a constructor or invoke returned, without dig's wrapping. An
// error of dig's own (a missing type, a cycle: a programming error) keeps
// its text, minus source positions, behind one prefix.
func buildError(err error) error {
	root := dig.RootCause(err)
	var de dig.Error
	if !errors.As(root, &de) {
		return root
	}
	return fmt.Errorf("fxmodule: cannot build the application: %s", sourcePosition.ReplaceAllString(root.Error(), ""))
}

// oneLine keeps an error on one line: errors.Join and multierr separate
// errors with line breaks.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
