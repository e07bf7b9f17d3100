package sdlife

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/httpserve"
	"github.com/sdlife/sdlife/lifecycle"
)

// Options configures a Service. Every field's zero value is a working
// default: Options{} serves on the listener the manager hands over, or
// fails to start when there is none and Listen.Address is empty.
type Options struct {
	// Listen is where Run's handler is served: a descriptor named
	// Listen.Name (default "http") handed over by socket activation or
	// the fd store, else Listen.Address, bound and stored in the fd
	// store for the next start.
	Listen httpadapter.ListenConfig

	// Listeners are more listeners, each with its own handler: an admin
	// port, say. Nil: Listen alone.
	Listeners []Listener

	// Server configures the HTTP servers of every listener and their
	// drain: the http.Server template (timeouts, TLS, protocols),
	// DrainTimeout, IdleGrace, StopTimeout, GoawayAckTimeout (see
	// httpadapter.ServerConfig). Each listener's server gets a copy.
	Server httpadapter.ServerConfig

	// Logger receives the service's logs, the errors Run returns
	// included. Nil means silent.
	Logger *slog.Logger

	// Environment is the service manager's variables. Nil means
	// lifecycle.ReadEnvironment(), read once by New. Tests pass a
	// sdtest.Manager's Environment.
	Environment *lifecycle.Environment

	// Files are the descriptors the manager passed. Nil means
	// lifecycle.TakeFiles(Environment), once, in New. The Service owns
	// them either way and closes the unclaimed ones when it stops.
	Files *lifecycle.Files

	// StatusInterval is the shortest time between two counter refreshes
	// of STATUS= (transitions go out at once). Zero means one second.
	StatusInterval time.Duration

	// ReloadTimeout bounds one reload, all reloaders together, through
	// the context they are given. Zero means no bound other than the
	// service stopping, which cancels that context too.
	ReloadTimeout time.Duration

	// FatalCheck is what the watchdog does when a health check marked
	// Fatal fails. Zero is FatalStopPinging.
	FatalCheck FatalPolicy

	// RestartResetAfter is how long every health check must have passed
	// before the Service sends RESTART_RESET=1 (systemd >= 258), once, so
	// that the RestartSteps= backoff of a unit starts again from
	// RestartSec= after a crash loop the service recovered from. Zero
	// means one minute; negative never sends it.
	RestartResetAfter time.Duration

	// MemoryPressureInterval is the shortest time between two reactions
	// to memory pressure (see MemoryReleaser); events in between are
	// counted but not acted on. Zero means 5 seconds.
	MemoryPressureInterval time.Duration

	// UpgradeTimeout bounds the start of a new binary at an upgrade: a
	// reload (SIGHUP, systemctl reload) while the file at the path
	// ExecStart= names is not the running binary starts that binary beside
	// this process, and makes it the main process once it reports READY=1
	// within UpgradeTimeout; otherwise it is stopped and this process
	// serves on, STATUS= saying "upgrade failed: <why>". Keep it shorter
	// than the unit's TimeoutStartSec=, which bounds the reload. Zero
	// means 20 seconds; negative turns upgrades off (a reload then only
	// re-reads the configuration).
	UpgradeTimeout time.Duration

	// BarrierTimeout bounds the wait, at the very end of Run, until the
	// manager has processed every notification sent (BARRIER=1), so the
	// final STATUS= is not lost when the process exits. Zero means one
	// second; negative skips the barrier.
	BarrierTimeout time.Duration
}

// FatalPolicy says what the watchdog does about a failing Fatal check.
type FatalPolicy int

const (
	// FatalStopPinging stops the watchdog pings, as for any failing
	// check: the manager restarts the service when WatchdogSec= runs out.
	FatalStopPinging FatalPolicy = iota
	// FatalTrigger sends WATCHDOG=trigger (systemd >= 243) as soon as a
	// Fatal check fails, once per unhealthy spell, so the manager acts at
	// once. Pings stop too.
	FatalTrigger
)

// Reloader is one part of the application that re-reads its
// configuration (reopens its logs, reloads its certificates...) while the
// service keeps running.
//
// Reload must keep the old state when it fails: build the new state
// completely and swap it in only once nothing can fail any more. The
// Service cannot roll a reloader back; it reports the error in STATUS=,
// logs it, and keeps serving.
//
// Reloaders run one at a time, never concurrently with another reload, in
// the order they were added; all of them run even when one fails. ctx is
// cancelled when the service stops, and bounded by Options.ReloadTimeout.
type Reloader interface {
	Reload(ctx context.Context) error
}

// ReloadFunc makes a function a Reloader.
type ReloadFunc func(ctx context.Context) error

// Reload calls f.
func (f ReloadFunc) Reload(ctx context.Context) error { return f(ctx) }

var _ Reloader = ReloadFunc(nil)

// ErrInvalidOptions is returned by New for Options that cannot work.
var ErrInvalidOptions = errors.New("sdlife: invalid options")

// check rejects values that cannot work, naming the field.
func (o *Options) check() error {
	var errs []string
	for _, e := range httpserve.CheckListen(o.Listen) {
		errs = append(errs, "Listen."+e)
	}
	errs = append(errs, checkListeners(o.Listen.Name, o.Listeners)...)
	for _, e := range httpserve.CheckServer(o.Server) {
		errs = append(errs, "Server."+e)
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"StatusInterval", o.StatusInterval},
		{"ReloadTimeout", o.ReloadTimeout},
		{"MemoryPressureInterval", o.MemoryPressureInterval},
	} {
		if d.d < 0 {
			errs = append(errs, fmt.Sprintf("%s %v: must not be negative", d.name, d.d))
		}
	}
	if o.FatalCheck != FatalStopPinging && o.FatalCheck != FatalTrigger {
		errs = append(errs, fmt.Sprintf("FatalCheck %d: want FatalStopPinging or FatalTrigger", o.FatalCheck))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(errs, "; "))
	}
	return nil
}

func (o *Options) statusInterval() time.Duration {
	if o.StatusInterval == 0 {
		return time.Second
	}
	return o.StatusInterval
}

// defaultRestartResetAfter is Options.RestartResetAfter's default.
const defaultRestartResetAfter = time.Minute

func (o *Options) restartResetAfter() time.Duration {
	if o.RestartResetAfter == 0 {
		return defaultRestartResetAfter
	}
	return max(o.RestartResetAfter, 0)
}

func (o *Options) memoryPressureInterval() time.Duration {
	if o.MemoryPressureInterval <= 0 {
		return defaultMemoryPressureInterval
	}
	return o.MemoryPressureInterval
}

func (o *Options) barrierTimeout() time.Duration {
	if o.BarrierTimeout == 0 {
		return time.Second
	}
	return o.BarrierTimeout
}
