// Command chi-server is an HTTP service built on sdlife: an fx
// application with a chi router that systemd starts, reloads, watches and
// restarts without losing a request. Its interface (flags, config,
// endpoints, what systemd sees) is described in README.md in this
// directory; the unit files are in deploy/units.
//
// Run it without systemd and it serves on 127.0.0.1:8080, saying once in
// its log that notifications are off:
//
//	go run ./examples/chi-server
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/fx"

	"github.com/sdlife/sdlife"
	"github.com/sdlife/sdlife/fxmodule"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/lifecycle"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// drainTimeout bounds the drain on stop: /slow may take 60 s, and the
// unit's TimeoutStopSec= is 70 s.
const drainTimeout = 65 * time.Second

// run is main without os.Exit, so that tests can drive it.
func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("chi-server", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "JSON configuration `file` (default: built-in defaults)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	env := lifecycle.ReadEnvironment()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if f, ok := stderr.(*os.File); ok {
		logger = lifecycle.NewLogger(f, env, nil) // journal-native under systemd, text on a terminal
	}

	cfg, err := LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "chi-server: %v\n", err)
		sdlife.ReportStartFailure(env, err)
		return 1
	}
	live, err := newLiveConfig(*configPath, os.Getenv("CREDENTIALS_DIRECTORY"), cfg)
	if err != nil {
		fmt.Fprintf(stderr, "chi-server: %v\n", err)
		sdlife.ReportStartFailure(env, err)
		return 1
	}
	if !env.Supervised() {
		logger.Info("not running under systemd ($NOTIFY_SOCKET unset): readiness, status and watchdog notifications are off")
	}

	app := fx.New(
		fx.NopLogger, // fx's own event log; the service logs through slog
		fxmodule.Module,
		fx.StopTimeout(drainTimeout+5*time.Second), // fx's default 15 s would cut the drain short
		fx.Supply(logger),
		fx.Supply(sdlife.Options{
			Environment: &env,
			Listen:      httpadapter.ListenConfig{Address: cfg.Listen, Backlog: cfg.ListenBacklog},
			Server: httpadapter.ServerConfig{
				Server:       &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
				TLS:          live.tlsConfig(), // nil: plain HTTP and h2c
				DrainTimeout: drainTimeout,
			},
			RestartResetAfter: cfg.restartResetAfter(),
		}),
		fx.Supply(live),
		fxmodule.AsReloader[*liveConfig](),
		fx.Invoke(func(s *sdlife.Service) {
			live.listenChanged, live.checkListen = s.ListenAddressChanged, s.CheckListenAddress
		}),
		fx.Provide(
			fx.Annotate(newRouter, fx.As(new(http.Handler))),
			fxmodule.AsHealthCheck(func(l *liveConfig) httpadapter.Check {
				return httpadapter.Check{Name: "down_file", Func: l.DownFileCheck}
			}),
		),
	)
	if err := app.Err(); err != nil {
		fmt.Fprintf(stderr, "chi-server: %v\n", err)
		sdlife.ReportStartFailure(env, err)
		return 1
	}

	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		// fxmodule has already told the manager why.
		fmt.Fprintf(stderr, "chi-server: %v\n", err)
		return 1
	}
	sig := <-app.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "chi-server: stop: %v\n", err)
		return 1
	}
	return sig.ExitCode
}

// newRouter builds the service's routes; fxmodule wraps it in the request
// counting middleware and serves it.
func newRouter(live *liveConfig, health *httpadapter.Health, ready *httpadapter.Readiness) *chi.Mux {
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/healthz", health.Handler())
	r.Method(http.MethodGet, "/readyz", ready.Handler())
	routes(r, live)
	return r
}
