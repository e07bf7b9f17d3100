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
	"flag"
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

// version is the build's version, answered by GET /version; set it with
// go build -ldflags "-X main.version=STRING".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// drainTimeout bounds the drain on stop: /slow may take 60 s, and the
// unit's TimeoutStopSec= is 70 s.
const drainTimeout = 65 * time.Second

// run is main without os.Exit for a clean stop: fxmodule.Run exits the
// process itself when the service fails, after telling stderr and the
// manager why in one line.
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
	// INVOCATION_ID is set by systemd for every process of a unit; an
	// upgrade's new process has it but no $NOTIFY_SOCKET of its own (it
	// reports to the old process until adopted).
	if env.NotifySocket == "" && os.Getenv("INVOCATION_ID") == "" {
		logger.Info("not running under systemd ($NOTIFY_SOCKET unset): readiness, status and watchdog notifications are off")
	}

	fxmodule.Run(
		fx.StopTimeout(drainTimeout+5*time.Second), // must exceed the drain: fxmodule.Run refuses to start otherwise
		fx.Supply(logger),
		fx.Provide(
			func() (Config, error) { return LoadConfig(*configPath) },
			func(cfg Config) (*liveConfig, error) {
				return newLiveConfig(*configPath, os.Getenv("CREDENTIALS_DIRECTORY"), cfg)
			},
			serviceOptions,
		),
		fx.Invoke(func(s *sdlife.Service, live *liveConfig) {
			live.listenChanged, live.checkListen = s.ListenAddressChanged, s.CheckListenAddress
		}),
		fx.Provide(
			fx.Annotate(newRouter, fx.As(new(http.Handler))),
			fxmodule.AsReloader(func(l *liveConfig) sdlife.Reloader { return l }),
			fxmodule.AsHealthCheck(func(l *liveConfig) httpadapter.Check {
				return httpadapter.Check{Name: "down_file", Func: l.DownFileCheck}
			}),
		),
	)
	return 0
}

// serviceOptions configures the Service from the configuration.
func serviceOptions(cfg Config, live *liveConfig) sdlife.Options {
	return sdlife.Options{
		Listen: httpadapter.ListenConfig{Address: cfg.Listen, Backlog: cfg.ListenBacklog},
		Server: httpadapter.ServerConfig{
			Server:       &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute},
			TLS:          live.tlsConfig(), // nil: plain HTTP and h2c
			DrainTimeout: drainTimeout,
		},
		Listeners:         adminListeners(cfg),
		RestartResetAfter: cfg.restartResetAfter(),
	}
}

// adminListeners is the admin port, when the configuration has one.
func adminListeners(cfg Config) []sdlife.Listener {
	if cfg.AdminListen == "" {
		return nil
	}
	r := chi.NewRouter()
	r.Get("/version", versionHandler)
	return []sdlife.Listener{{
		ListenConfig: httpadapter.ListenConfig{Name: "admin", Address: cfg.AdminListen, Backlog: cfg.ListenBacklog},
		Handler:      r,
	}}
}

// newRouter builds the service's routes; fxmodule wraps it in the request
// counting middleware and serves it.
func newRouter(live *liveConfig, svc *sdlife.Service) *chi.Mux {
	r := chi.NewRouter()
	r.Method(http.MethodGet, "/healthz", svc.HealthHandler())
	r.Method(http.MethodGet, "/readyz", svc.ReadinessHandler())
	routes(r, live)
	return r
}
