package fxmodule

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/fx"
)

// observer is what the tracked lifecycle drives: an sdlife.Service's
// phases (see internal/phases), through adapter.
type observer interface {
	Start(ctx context.Context) error
	Ready() error
	StartFailed(err error)
	Stopping(ctx context.Context)
	Stop(ctx context.Context) error
}

// trackedLifecycle is the fx.Lifecycle every constructor and invoke of the
// application receives once Module is installed at the top level (or Run
// placed the decoration there): a decoration reaches the scope it is
// placed in and every fx.Module below it, whichever comes first. Inside
// an fx.Module, it would see that module's hooks only.
//
// Why a decoration: fx runs OnStart hooks in the order they were appended,
// and hooks are appended while invokes run; the invokes of an fx.Module run
// before those of its parent, and root invokes (often the ones that build
// the HTTP server) run last. No hook a module appends from its own invoke
// can therefore be guaranteed to run after the application's other
// OnStart hooks, and fx has no "start finished" event a module can observe
// without taking over fx.WithLogger. Seeing every Append can: the tracker
// counts the hooks, wraps them, and sends READY=1 when the last one has
// returned successfully, which, since fx runs them one at a time in append
// order, is exactly when all of them have. Symmetrically STOPPING=1 goes
// out before the first OnStop hook runs, whichever it is.
//
// The tracker also puts one hook of its own in front of all others (the
// "begin" hook): its OnStart runs first (signal handlers, STATUS=Starting)
// and its OnStop runs last (waiting for the Service's goroutines, a final
// barrier).
type trackedLifecycle struct {
	inner fx.Lifecycle

	mu      sync.Mutex
	obs     observer // nil until Module's invoke attaches the Service
	began   bool     // the begin hook was appended
	counted int      // hooks with an OnStart appended through the tracker, begin included

	// One start/stop cycle.
	total    int           // counted, frozen when the begin hook starts
	done     int           // OnStart hooks that returned nil in this cycle
	failed   bool          // a hook failed or the start context ended
	failDone chan struct{} // closed once that failure was reported; see failureReported
	stopping bool          // Stopping was signalled
}

// trackLifecycle is Module's decoration of fx.Lifecycle. A lifecycle
// tracked above (Run tracks the top level when Module is inside an
// fx.Module) is used as it is: it already sees every hook below.
func trackLifecycle(lc fx.Lifecycle) fx.Lifecycle {
	if t, ok := lc.(*trackedLifecycle); ok {
		return t
	}
	return &trackedLifecycle{inner: lc}
}

// Append wraps h and appends it to the application's lifecycle. A nil
// OnStart or OnStop stays nil, so fx treats the hook as it would have.
func (t *trackedLifecycle) Append(h fx.Hook) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.beginLocked()
	if h.OnStart != nil {
		t.counted++
		h.OnStart = t.wrapStart(h.OnStart)
	}
	if h.OnStop != nil {
		h.OnStop = t.wrapStop(h.OnStop)
	}
	t.inner.Append(h)
}

// attach makes obs receive the lifecycle's phases.
func (t *trackedLifecycle) attach(obs observer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.obs != nil {
		return fmt.Errorf("fxmodule: Module installed twice in one application")
	}
	t.obs = obs
	t.beginLocked()
	return nil
}

func (t *trackedLifecycle) beginLocked() {
	if t.began {
		return
	}
	t.began = true
	t.counted++
	t.inner.Append(fx.Hook{OnStart: t.begin, OnStop: t.end})
}

func (t *trackedLifecycle) begin(ctx context.Context) error {
	t.mu.Lock()
	t.total, t.done = t.counted, 0
	t.failed, t.stopping = false, false
	t.failDone = make(chan struct{})
	obs := t.obs
	t.mu.Unlock()
	if obs != nil {
		if err := obs.Start(ctx); err != nil {
			t.startFailed(err)
			return err
		}
	}
	t.started()
	return nil
}

func (t *trackedLifecycle) end(ctx context.Context) error {
	t.stop(ctx)
	t.mu.Lock()
	obs := t.obs
	t.mu.Unlock()
	if obs == nil {
		return nil
	}
	return obs.Stop(ctx)
}

func (t *trackedLifecycle) wrapStart(fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		// fx gives up on a hook when the start context ends and exits
		// without rolling back (App.Run returns 1 at once), so report it
		// while the hook is still running: best effort, the process may
		// be gone before the message is sent.
		stop := context.AfterFunc(ctx, func() {
			t.startFailed(fmt.Errorf("OnStart hook still running: %w", context.Cause(ctx)))
		})
		err := fn(ctx)
		stop()
		if err != nil {
			t.startFailed(err)
			return err
		}
		t.started()
		return nil
	}
}

func (t *trackedLifecycle) wrapStop(fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		t.stop(ctx)
		return fn(ctx)
	}
}

// started counts a successful OnStart and, after the last one, reports
// readiness.
func (t *trackedLifecycle) started() {
	t.mu.Lock()
	t.done++
	last := t.done == t.total && !t.failed && !t.stopping
	obs := t.obs
	t.mu.Unlock()
	if last && obs != nil {
		// An error here is logged by Ready; it must not fail the hook that
		// happened to be last, whose resources fx would then never stop.
		_ = obs.Ready()
	}
}

func (t *trackedLifecycle) startFailed(err error) {
	t.mu.Lock()
	if t.failed {
		t.mu.Unlock()
		return
	}
	t.failed = true
	obs, done := t.obs, t.failDone
	t.mu.Unlock()
	if obs != nil {
		obs.StartFailed(err)
	}
	if done != nil {
		close(done)
	}
}

// failureReported is closed once a failed start of the current cycle has
// been reported to the manager; nil before the first start. fx gives up
// on an OnStart hook that outlasts the start context without waiting for
// it, so Run waits for this before the process exits.
func (t *trackedLifecycle) failureReported() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failDone
}

// stop signals Stopping once per cycle, before the first OnStop hook.
func (t *trackedLifecycle) stop(ctx context.Context) {
	t.mu.Lock()
	if t.stopping {
		t.mu.Unlock()
		return
	}
	t.stopping = true
	obs := t.obs
	t.mu.Unlock()
	if obs != nil {
		obs.Stopping(ctx)
	}
}
