package sdlife

import (
	"context"
	"errors"
	"net/http"
)

// Hook is start and stop work of the caller's own that the Service runs
// around serving: OnStart before READY=1, OnStop after the drain. Either
// may be nil.
type Hook struct {
	OnStart func(ctx context.Context) error
	OnStop  func(ctx context.Context) error
}

// Run runs the service's whole life and returns when it is over:
//
//  1. Signals caught, STATUS= "Starting".
//  2. h served on Options.Listen, handed over by the manager or bound,
//     and each Options.Listeners entry's handler on its own.
//  3. The hooks' OnStart, in order. The first failure ends the start:
//     it is reported (STATUS=, ERRNO=) and Run stops and returns it.
//  4. READY=1 once every listener accepts and every hook started.
//  5. Serving, reloading on SIGHUP, pinging the watchdog, until SIGTERM,
//     SIGINT, ctx's end or a server failure.
//  6. STOPPING=1, the drain of every server, the hooks' OnStop in
//     reverse order, the Service's goroutines waited for, a final barrier.
//
// Run returns nil after a stop by signal or ctx; the server's failure, a
// start failure, or the errors of the stop otherwise, each already logged
// (Options.Logger) and, for a failure, reported in STATUS=. The stop is bounded
// by the drain's own timeout (Options.Server.DrainTimeout), not by ctx,
// which has ended by then.
func (s *Service) Run(ctx context.Context, h http.Handler, hooks ...Hook) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	started, err := s.runStart(ctx, h, hooks)
	if err != nil {
		s.startFailed(err)
	} else {
		_ = s.becomeReady() // a failed READY=1 is logged; the service serves
		select {
		case <-s.stopRequested():
			err = s.stopErr()
		case <-ctx.Done():
		}
	}
	stopCtx := context.WithoutCancel(ctx)
	errs := []error{err}
	s.stopping()
	errs = append(errs, s.drain(stopCtx))
	for i := started - 1; i >= 0; i-- {
		if f := hooks[i].OnStop; f != nil {
			errs = append(errs, f(stopCtx))
		}
	}
	errs = append(errs, s.stop(stopCtx))
	return errors.Join(errs...)
}

// runStart serves h and runs the hooks' OnStart; started is how many
// hooks started (and must be stopped).
func (s *Service) runStart(ctx context.Context, h http.Handler, hooks []Hook) (started int, err error) {
	if err := s.serve(ctx, h); err != nil {
		return 0, err
	}
	for i, hk := range hooks {
		if hk.OnStart != nil {
			if err := hk.OnStart(ctx); err != nil {
				return i, err // as in fx: a hook whose start failed is not stopped
			}
		}
		select {
		case <-s.stopRequested():
			return i + 1, nil // a signal while starting: stop without READY=1
		default:
		}
	}
	return len(hooks), nil
}
