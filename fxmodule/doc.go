// Package fxmodule makes a go.uber.org/fx application a first-class
// systemd service. Add Module next to the application's own modules:
//
//	fx.New(
//		fx.Provide(fx.Annotate(NewRouter, fx.As(new(http.Handler)))),
//		fx.Provide(fxmodule.AsReloader(NewConfigStore)),
//		fx.Provide(fxmodule.AsHealthCheck(NewDBCheck)),
//		fx.Supply(fxmodule.Config{Serve: &fxmodule.ServeConfig{Address: "127.0.0.1:8080"}}),
//		fxmodule.Module,
//	).Run()
//
// Module provides the lifecycle.Notifier, the passed descriptors
// (lifecycle.Files, taken once), the request Counters, the Readiness and
// Health probes and the StatusReporter of package httpadapter, and the
// Service that drives them. It does not provide a logger or a router: a
// *slog.Logger in the graph is used when there is one (silence otherwise),
// and fx's own event log stays the application's choice.
//
// # What the manager sees
//
//   - READY=1 once every OnStart hook of the application has returned
//     successfully, wherever it was appended (see below). A failed start
//     sends STATUS=start failed: <error> and, when the error wraps a
//     syscall.Errno, ERRNO=, before the application exits non-zero.
//   - STOPPING=1 before any OnStop hook runs. SIGTERM or SIGINT while the
//     application is still starting sends STOPPING=1 at once, suppresses
//     READY=1 and asks fx to stop as soon as the start is over.
//   - On SIGHUP or Service.Reload: RELOADING=1 with MONOTONIC_USEC, every
//     Reloader of the "reloaders" value group in turn, then READY=1, as
//     Type=notify-reload units expect. Reloads never overlap; requests
//     that arrive during one coalesce into at most one more. A failing
//     reloader is reported in STATUS= and the service carries on with its
//     previous state (see Reloader), still ending with READY=1. Readiness
//     says "reloading" meanwhile.
//   - With WatchdogSec= (WATCHDOG_USEC), WATCHDOG=1 every half interval,
//     but only right after every httpadapter.Check of the
//     "health_checks" value group passed; a round of checks is bounded by
//     that period, so a hung check counts as failing and never delays the
//     loop. While unhealthy the pings stop, so the manager restarts the
//     service, and STATUS= names the failing checks. With
//     Config.FatalCheck set to FatalTrigger a failing Fatal check sends
//     WATCHDOG=trigger at once.
//   - STATUS=<Phase>: <N> requests, <M> in flight, <R> req/s[; <note>],
//     from httpadapter.StatusReporter, for as long as the application runs.
//
// With Config.Serve set, Module also runs an httpadapter.Server around the
// application's http.Handler, on the listener httpadapter.Listen finds
// (socket activation, the fd store) or binds, and drains it on stop. If
// the server stops serving by itself the application is shut down with
// exit code 1, after STATUS= said why.
//
// # How READY=1 comes after every OnStart hook
//
// fx runs OnStart hooks one at a time, in the order they were appended,
// and hooks are appended while invokes run. The invokes of an fx.Module
// run before those of its parent, so hooks appended by the root's invokes
// (often the ones that construct the HTTP server) come after anything a
// module can append from its own invoke, and fx has no "started" event a
// module could observe without taking fx.WithLogger from the application.
//
// Module therefore decorates fx.Lifecycle (fx.Decorate at the level where
// Module is placed, which reaches the root scope and every fx.Module
// below it). Every Append in the application goes through the decoration:
// it puts one hook of its own in front of all others, wraps each appended
// hook, and counts them. When the last wrapped OnStart returns nil, all of
// them have, and READY=1 goes out, before App.Start returns. A wrapped
// OnStart that fails reports the error; a wrapped OnStop sends STOPPING=1
// if nothing has yet; the module's own first hook stops last and waits for
// the module's goroutines. Nothing depends on where Module is listed
// relative to the application's modules and invokes, or on when a
// constructor that appends a hook happens to run. Hooks appended once
// Start has begun are not run by fx, and not counted either.
//
// Constraints that follow: place Module at the top level of fx.New (in
// a nested fx.Module the decoration would not see hooks appended above
// it); install it once; do not decorate fx.Lifecycle yourself at the same
// level. fx's event log names the wrapper instead of the original hook
// functions. When the start context ends while a hook is still running,
// fx returns without rolling back; the module then reports the timeout in
// STATUS= on a best-effort basis, since App.Run exits at once.
//
// # Without fx
//
// New builds the same parts from Params and returns them in a Result.
// Drive the Service yourself: Start before your own start work, Ready once
// it is done (or StartFailed), Stopping first thing on shutdown, Stop
// last. Register reloaders with Service.AddReloader and checks with
// Health.Add. Config.Serve needs fx; use httpadapter.Listen and
// httpadapter.Server directly instead.
package fxmodule
