package fxmodule

import (
	"net/http"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
)

// Config configures the module. Supply it with fx.Supply(fxmodule.Config{...})
// or pass it in Params; every field's zero value is a working default, so
// an application without a Config gets the defaults.
type Config struct {
	// Environment is the service manager's variables. Nil means
	// lifecycle.ReadEnvironment(), read once when the module is built.
	// Tests pass a sdtest.Manager's Environment here.
	Environment *lifecycle.Environment

	// Files are the descriptors the manager passed. Nil means
	// lifecycle.TakeFiles(Environment), once, when the module is built.
	// Set it when the process took them itself, or in tests
	// (lifecycle.NewFiles). The module owns them either way: it closes the
	// unclaimed ones when it stops.
	Files *lifecycle.Files

	// StatusInterval is the shortest time between two STATUS= updates
	// (see httpadapter.StatusReporter). Zero means one second.
	StatusInterval time.Duration

	// ReloadTimeout bounds one reload, all reloaders together, through
	// the context they are given. Zero means no bound other than the
	// application stopping, which cancels that context too.
	ReloadTimeout time.Duration

	// FatalCheck is what the watchdog does when a health check marked
	// Fatal fails. The zero value, FatalStopPinging, treats it like any
	// other failing check.
	FatalCheck FatalPolicy

	// BarrierTimeout bounds the wait, at the very end of Stop, until the
	// manager has processed every notification sent (BARRIER=1), so that
	// the final STATUS is not lost when the process exits. Zero means one
	// second; a negative value skips the barrier.
	BarrierTimeout time.Duration

	// Serve, when set, makes the module run an HTTP server around the
	// application's http.Handler (see ServeConfig). Nil: no server; the
	// application serves however it likes.
	Serve *ServeConfig
}

// FatalPolicy says what the watchdog does about a failing Fatal check.
type FatalPolicy int

const (
	// FatalStopPinging stops the watchdog pings, as for any failing
	// check: the manager restarts the service when WatchdogSec= runs out.
	FatalStopPinging FatalPolicy = iota
	// FatalTrigger sends WATCHDOG=trigger (systemd >= 243) as soon as a
	// Fatal check fails, once per unhealthy spell, so the manager acts at
	// once instead of waiting for the watchdog timeout. Pings stop too.
	FatalTrigger
)

// ServeConfig configures the HTTP server the module runs when
// Config.Serve is set.
//
// The handler is the application's http.Handler, for example a chi router
// provided with fx.Annotate(NewRouter, fx.As(new(http.Handler))). The
// module wraps it in the provided Counters' Middleware, so that STATUS=
// counts its requests: do not add that middleware yourself.
//
// The listener comes from httpadapter.Listen: a descriptor named Name
// handed over by the manager (socket activation, or the fd store after a
// restart) is used when there is one; otherwise Address is bound, and the
// new listener is stored in the fd store when the manager says it is
// enabled. A Serve error other than a clean shutdown stops the application
// with exit code 1.
type ServeConfig struct {
	// Name is the descriptor name (FileDescriptorName=, FDNAME=). Zero
	// means "http".
	Name string
	// Network is "tcp" or "unix". Zero means "tcp".
	Network string
	// Address is bound when no descriptor was handed over, for example
	// "127.0.0.1:8080".
	Address string
	// Server, when set, is a template for timeouts and the like; its
	// Handler is replaced. Nil means a plain http.Server.
	Server *http.Server
	// DrainTimeout bounds the drain on stop. Zero means
	// httpadapter's default.
	DrainTimeout time.Duration
	// StopTimeout is the unit's TimeoutStopSec=; a longer drain asks the
	// manager for more time (EXTEND_TIMEOUT_USEC). Zero means unknown.
	StopTimeout time.Duration
}

func (c Config) statusInterval() time.Duration {
	if c.StatusInterval <= 0 {
		return time.Second
	}
	return c.StatusInterval
}

func (c Config) barrierTimeout() time.Duration {
	if c.BarrierTimeout == 0 {
		return time.Second
	}
	return c.BarrierTimeout
}
