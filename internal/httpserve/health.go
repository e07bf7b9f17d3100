package httpserve

import (
	"context"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/logs"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultCheckTimeout bounds a Check whose Timeout is zero.
const DefaultCheckTimeout = 2 * time.Second

// Errors a CheckResult can carry besides the check's own.
var (
	// ErrCheckTimeout: the check did not return within its Timeout; it is
	// then treated as failing. See Health for what happens to it.
	ErrCheckTimeout = errors.New("httpadapter: health check timed out")
	// ErrCheckPanic: the check panicked; the panic was recovered and logged.
	ErrCheckPanic = errors.New("httpadapter: health check panicked")
	// ErrCheckNoFunc: the Check has no Func.
	ErrCheckNoFunc = errors.New("httpadapter: health check has no function")
)

// Check is httpadapter.Check.
type Check = httpadapter.Check

// CheckResult is the outcome of one check in one Run.
type CheckResult struct {
	Name     string
	Err      error // nil: healthy
	Fatal    bool  // copied from the Check
	Duration time.Duration
}

// HealthReport is the outcome of one Run.
type HealthReport struct {
	Healthy bool // every check passed
	Results []CheckResult
}

// Health runs health checks. It is safe for concurrent use.
//
// Each check runs in its own goroutine, bounded by its Timeout through the
// context it is given; the caller's context only ends the caller's wait,
// not the check, so one impatient probe cannot fail the check for the
// probes that share its run. A check that ignores its context keeps
// running until it returns: Go cannot stop a goroutine from outside. To
// bound the damage, at most one run of each check exists at a time: a Run
// that finds the check still running waits for that run instead of
// starting a second one, and if that run is already older than the
// Timeout it fails at once with ErrCheckTimeout. So a hung check costs one
// goroutine, never one per probe. Wait waits for the runs in progress.
//
// A check that panics fails with ErrCheckPanic; the panic and its stack
// are logged, and the process carries on.
type Health struct {
	log *slog.Logger

	mu     sync.Mutex
	checks []*checkRunner
}

type checkRunner struct {
	c Check

	mu     sync.Mutex
	flight *flight // the run in progress; nil when none
}

// flight is one run of a check, which callers can join.
type flight struct {
	start time.Time
	done  chan struct{} // closed when the check returned
	err   error         // set before done is closed
}

// NewHealth returns a Health with checks; logger may be nil (silent).
func NewHealth(logger *slog.Logger, checks ...Check) *Health {
	h := &Health{log: logs.OrDiscard(logger)}
	for _, c := range checks {
		h.Add(c)
	}
	return h
}

// Add registers another check. A zero Timeout becomes
// DefaultCheckTimeout.
func (h *Health) Add(c Check) {
	if c.Timeout <= 0 {
		c.Timeout = DefaultCheckTimeout
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, &checkRunner{c: c})
}

// Run runs every check concurrently and waits for all of them, each for at
// most its Timeout; ctx ends the wait early (the checks then fail with
// ctx's error). Values in ctx reach the checks, its cancellation does not.
func (h *Health) Run(ctx context.Context) HealthReport {
	h.mu.Lock()
	checks := append([]*checkRunner(nil), h.checks...)
	h.mu.Unlock()

	flights := make([]*flight, len(checks))
	for i, cr := range checks {
		flights[i] = cr.join(ctx, h.log)
	}
	report := HealthReport{Healthy: true, Results: make([]CheckResult, len(checks))}
	for i, cr := range checks {
		res := cr.wait(ctx, flights[i])
		report.Results[i] = res
		if res.Err != nil {
			report.Healthy = false
		}
	}
	return report
}

// Wait waits until the check runs in progress have returned, or ctx is
// done. Use it at shutdown, and in tests, to account for every goroutine;
// a check that ignores its context can make it wait until ctx ends.
func (h *Health) Wait(ctx context.Context) error {
	h.mu.Lock()
	checks := append([]*checkRunner(nil), h.checks...)
	h.mu.Unlock()
	for _, cr := range checks {
		cr.mu.Lock()
		f := cr.flight
		cr.mu.Unlock()
		if f == nil {
			continue
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return fmt.Errorf("httpadapter: health check %q still running: %w", cr.c.Name, ctx.Err())
		}
	}
	return nil
}

// join returns the check's run in progress, or starts one.
func (cr *checkRunner) join(ctx context.Context, log *slog.Logger) *flight {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.flight != nil {
		return cr.flight
	}
	f := &flight{start: time.Now(), done: make(chan struct{})}
	cr.flight = f
	runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cr.c.Timeout)
	go func() {
		defer cancel()
		err := cr.call(runCtx, log)
		cr.mu.Lock()
		cr.flight = nil
		cr.mu.Unlock()
		f.err = err
		close(f.done)
	}()
	return f
}

// call runs the check's function, turning a panic into an error.
func (cr *checkRunner) call(ctx context.Context, log *slog.Logger) (err error) {
	if cr.c.Func == nil {
		return ErrCheckNoFunc
	}
	defer func() {
		if v := recover(); v != nil {
			log.Error("httpadapter: health check panicked", "check", cr.c.Name, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrCheckPanic, v)
		}
	}()
	return cr.c.Func(ctx)
}

// wait waits for f until the check's deadline (counted from the start of
// the run, which may predate this Run) or until ctx is done.
func (cr *checkRunner) wait(ctx context.Context, f *flight) CheckResult {
	res := CheckResult{Name: cr.c.Name, Fatal: cr.c.Fatal}
	deadline := f.start.Add(cr.c.Timeout)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-f.done:
		res.Err = f.err
		res.Duration = time.Since(f.start)
		return res
	default:
	}
	select {
	case <-f.done:
		res.Err = f.err
	case <-timer.C:
		res.Err = fmt.Errorf("%w after %v", ErrCheckTimeout, cr.c.Timeout)
	case <-ctx.Done():
		res.Err = fmt.Errorf("httpadapter: health check %q: %w", cr.c.Name, ctx.Err())
	}
	res.Duration = time.Since(f.start)
	return res
}
