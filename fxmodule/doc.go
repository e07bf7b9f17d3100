// Package fxmodule runs an sdlife.Service inside a go.uber.org/fx
// application. It is an adapter and nothing more: fx lifecycle hooks and
// value groups in, the Service does the work (see package sdlife for what
// the manager sees). Run the application with Run, which adds Module:
//
//	func main() {
//		fxmodule.Run(
//			fx.Supply(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"}}),
//			fx.Provide(fx.Annotate(NewRouter, fx.As(new(http.Handler)))),
//			fx.Provide(NewConfigStore),
//			fxmodule.AsReloader[*ConfigStore](),
//			fx.Provide(fxmodule.AsHealthCheck(NewDBCheck)),
//		)
//	}
//
// Run is fx.New(fxmodule.Module, ...).Run() without its surprises: a
// failure to build or start the application is one line on stderr and
// reaches the manager (STATUS=, ERRNO=), and a stop timeout that would cut
// the drain short is refused (see Run). fx.New with Module at its top
// level works too, without these.
//
// Module provides the *sdlife.Service and its parts (Notifier, Files,
// Counters, Readiness, Health, StatusReporter). It provides no logger and
// no router: a *slog.Logger in the graph is used when there is one, and
// fx's own event log stays the application's choice.
//
// # How the phases map to fx
//
//   - The Service's Start runs in an OnStart hook that Module puts in front
//     of every other hook.
//   - When the application provides an http.Handler, the Service serves
//     it from an OnStart hook (sdlife.Service.Serve).
//   - READY=1 (sdlife.Service.Ready) goes out when the last OnStart hook of
//     the application has returned successfully, wherever it was
//     appended (see below). A failing hook is reported
//     (sdlife.Service.StartFailed) before the application exits non-zero.
//   - Before the first OnStop hook runs, STOPPING=1 goes out and the
//     server drains, so that what handlers use is still there for the
//     last requests. Module's own first hook stops last
//     (sdlife.Service.Stop).
//   - A stop the Service asks for (SIGTERM or SIGINT at any time from the
//     first OnStart hook on, or a server that stopped serving) becomes
//     fx.Shutdowner.Shutdown, with exit code 1 for a server failure. fx
//     keeps a shutdown requested before App.Run began waiting, so no
//     signal falls between READY=1 and fx's own signal handling.
//
// # How READY=1 comes after every OnStart hook
//
// fx runs OnStart hooks one at a time, in the order they were appended,
// and hooks are appended while invokes run. The invokes of an fx.Module
// run before those of its parent, so hooks appended by the root's invokes
// come after anything a module can append from its own invoke, and fx has
// no "started" event a module could observe without taking fx.WithLogger
// from the application.
//
// Module therefore decorates fx.Lifecycle at the top level: every Append
// in the application goes through the decoration, which wraps and counts
// each hook. When the last wrapped OnStart returns nil, all of them have,
// and READY=1 goes out, before App.Start returns. Hooks appended once
// Start has begun are not run by fx, and not counted either.
//
// Constraints that follow, each checked: Module at the top level of
// fx.New (inside an fx.Module the decoration would not see hooks appended
// above it, and fx.New fails saying so); installed once; fx.Lifecycle not
// decorated again below it. fx's event log names the wrapper instead of
// the original hook functions.
package fxmodule
