// Package fxmodule runs an sdlife.Service inside a go.uber.org/fx
// application: fx's lifecycle hooks and constructors in, the Service does
// the work (see package sdlife for what the manager sees).
//
//	func main() {
//		fxmodule.Run(
//			fx.Supply(sdlife.Options{Listen: httpadapter.ListenConfig{Address: "127.0.0.1:8080"}}),
//			fx.Provide(
//				fx.Annotate(NewRouter, fx.As(new(http.Handler))),
//				NewConfigStore,
//				fxmodule.AsReloader(func(c *ConfigStore) sdlife.Reloader { return c }),
//				fxmodule.AsHealthCheck(NewDBCheck),
//			),
//		)
//	}
//
// Run is fx.New(fxmodule.Module, ...).Run() with the failures an
// operator must see: one line on stderr and STATUS= for a failed build or
// start, and a stop timeout that would cut the drain refused. Module
// provides the *sdlife.Service and serves the application's http.Handler.
//
// AsReloader, AsHealthCheck and AsMemoryReleaser annotate a constructor
// for fx.Provide, as fx.Annotate does, so that they sit among the
// application's constructors: what the constructor returns goes to the
// Service instead of the graph. A value the application also uses by its
// own type joins through a function from it, which fx calls with the
// same instance (*ConfigStore above).
//
// # Contract
//
// Module's phases map to fx's lifecycle as follows, whatever order the
// application's hooks were appended in:
//
//   - The Service starts (signals caught, STATUS=Starting) in the first
//     OnStart hook of the application, and the server begins serving in
//     an OnStart hook of Module's.
//   - READY=1 goes out after every OnStart hook of the application has
//     returned nil, before App.Start returns. When one fails or outlasts
//     the start context, the manager is told (STATUS=start failed, ERRNO=)
//     instead.
//   - STOPPING=1 goes out and the server drains before the first OnStop
//     hook of the application runs, so that what handlers use is there
//     for the last requests; this holds for fx's rollback of a failed
//     start too. The Service stops last, after every OnStop hook.
//   - A stop the Service asks for (SIGTERM or SIGINT from the first
//     OnStart hook on, or a server that stopped serving) becomes
//     fx.Shutdowner.Shutdown, with exit code 1 for a server failure. fx
//     keeps a shutdown requested before App.Run waits, so none is lost.
//
// # Where Module goes
//
// The ordering above needs every hook of the application: Module
// decorates fx.Lifecycle in the scope it is placed in and counts the
// hooks appended through it. fx has no event a module could use instead
// (its hooks are appended while invokes run, those of the top level
// last), and a decoration reaches only its own fx.Module and those below.
//
// So Module belongs at the top level of fx.New (directly or in
// fx.Options); inside an fx.Module it sees that module's hooks only, and
// fx offers no way to tell. Run removes the question: it decorates the
// top level itself, so Module may be left out of its options, passed
// among them, or sit inside an fx.Module of theirs. Module is installed
// once (fx.New fails otherwise). fx's event log names Module's wrapper,
// not the hook functions.
package fxmodule
