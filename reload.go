package sdlife

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// Reload asks for a reload, as SIGHUP does, and returns at once. Requests
// coalesce: while a reload runs, any number of further requests (SIGHUP or
// Reload, mixed) cause exactly one more reload, which starts after the
// running one ends. Requests made while starting wait until the service
// is ready; requests made while stopping are dropped.
func (s *Service) Reload() {
	select {
	case s.reloadReq <- struct{}{}:
	default:
	}
}

// loop owns the reload requests (SIGHUP, Reload) and runs reloads, one at
// a time. It ends when the service stops.
func (s *Service) loop() {
	defer s.wg.Done()
	done, ready := s.runCtx.Done(), s.ready
	pending := false
	for {
		select {
		case <-done:
			return
		case <-ready:
			ready = nil // a reload requested while starting runs now
		case <-s.hup:
			s.log.Info("sdlife: SIGHUP: reload requested")
			pending = true
		case <-s.reloadReq:
			pending = true
		}
		if pending && s.State() == StateReady {
			pending = false
			s.drainRequests()
			s.reload()
		}
	}
}

// awaitTerm turns the first SIGTERM or SIGINT into a stop request. It is
// a goroutine of its own, not a case of loop: a reloader that runs until
// its context ends would otherwise keep the signal from being read, and
// the stop that cancels that context from ever being requested.
func (s *Service) awaitTerm() {
	defer s.wg.Done()
	select {
	case <-s.runCtx.Done():
	case sig := <-s.term:
		s.log.Info("sdlife: stop requested", "signal", sig.String())
		s.mu.Lock()
		if State(s.state.Load()) == StateStarting {
			// fx (or the caller) is still running start hooks: the
			// manager must not hear READY=1 from a stopping service.
			s.enterLocked(StateStopping)
		}
		s.mu.Unlock()
		s.requestStop(nil)
	}
}

// drainRequests consumes the requests that the reload about to start will
// satisfy, so that a SIGHUP and a Reload call that arrived together cost
// one reload.
func (s *Service) drainRequests() {
	for {
		select {
		case <-s.hup:
		case <-s.reloadReq:
		default:
			return
		}
	}
}

// reload is an upgrade when the binary at the ExecStart= path is not the
// running one (see upgrade). Otherwise it runs every reloader bracketed by
// RELOADING=1 (with MONOTONIC_USEC)
// and READY=1, as Type=notify-reload expects; the readiness probe says
// "reloading" meanwhile. A failed reload still ends with READY=1: the
// service is up, with its previous state, and STATUS= says what failed.
// A stop that begins meanwhile wins: no READY=1 follows STOPPING=1.
func (s *Service) reload() {
	if s.maybeUpgrade() {
		return
	}
	s.mu.Lock()
	if ok, _ := s.enterLocked(StateReloading); !ok {
		s.mu.Unlock()
		return
	}
	reloaders := append([]Reloader(nil), s.reloaders...)
	s.mu.Unlock()

	s.log.Info("sdlife: reloading", "reloaders", len(reloaders))
	ctx := s.runCtx
	if d := s.opts.ReloadTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var errs []error
	for _, r := range reloaders {
		if err := s.runReloader(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.log.Error("sdlife: reload failed; keeping the previous state", "err", err)
		s.setNoteLocked(noteReload, "reload failed: "+err.Error())
	} else {
		s.log.Info("sdlife: reloaded")
		s.setNoteLocked(noteReload, "")
	}
	s.enterLocked(StateReady) // refused when stopping meanwhile
}

// runReloader runs r, turning a panic into an error so that one broken
// reloader cannot take the running service down.
func (s *Service) runReloader(ctx context.Context, r Reloader) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("sdlife: reloader panicked", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("reloader panicked: %v", v)
		}
	}()
	return r.Reload(ctx)
}
