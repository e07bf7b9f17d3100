package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/sdlife/sdlife/httpadapter"
)

// Reloader is one part of the application that can re-read its
// configuration (or reopen its logs, refresh its certificates...) while
// the service keeps running.
//
// Reload must keep the old state when it fails: build the new state
// completely, and swap it in only once nothing can fail any more. The
// module cannot roll a reloader back; it reports the error in STATUS=,
// logs it, and the service stays up with whatever state the reloader left.
//
// Reloaders run one at a time, never concurrently with another reload,
// in the order they were registered; all of them run even when one fails.
// ctx is cancelled when the application stops, and bounded by
// Config.ReloadTimeout when that is set.
type Reloader interface {
	Reload(ctx context.Context) error
}

// ReloadFunc makes a function a Reloader.
type ReloadFunc func(ctx context.Context) error

// Reload calls f.
func (f ReloadFunc) Reload(ctx context.Context) error { return f(ctx) }

// Reload asks for a reload, as SIGHUP does, and returns at once. Requests
// coalesce: while a reload runs, any number of further requests cause at
// most one more reload, which starts after the running one ends. Requests
// made while starting wait until the service is ready; requests made while
// stopping are dropped.
func (s *Service) Reload() {
	select {
	case s.reloadReq <- struct{}{}:
	default:
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

// reload runs every reloader bracketed by RELOADING=1 (with MONOTONIC_USEC)
// and READY=1, as Type=notify-reload expects; the readiness probe says
// "reloading" meanwhile. A failed reload still ends with READY=1: the
// service is up, with the old state, and STATUS= says what failed.
func (s *Service) reload() {
	s.mu.Lock()
	if s.state != stateReady {
		s.mu.Unlock()
		return
	}
	s.drainRequests()
	s.state = stateReloading
	reloaders := append([]Reloader(nil), s.reloaders...)
	s.readiness.Set(httpadapter.StateReloading)
	s.status.SetPhase("Reloading")
	if _, err := s.notifier.Reloading(); err != nil {
		s.log.Error("fxmodule: sending RELOADING=1", "err", err)
	}
	s.mu.Unlock()

	s.log.Info("fxmodule: reloading", "reloaders", len(reloaders))
	ctx := s.runCtx
	if d := s.cfg.ReloadTimeout; d > 0 {
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
		s.log.Error("fxmodule: reload failed; keeping the previous state", "err", err)
		s.setNoteLocked(noteReload, "reload failed: "+err.Error())
	} else {
		s.log.Info("fxmodule: reloaded")
		s.setNoteLocked(noteReload, "")
	}
	if s.state != stateReloading {
		return // stopping: STOPPING=1 was sent, READY=1 must not follow
	}
	s.state = stateReady
	s.readiness.Set(httpadapter.StateReady)
	s.status.SetPhase("Serving")
	s.status.Flush() // the reload's outcome is in STATUS when systemctl reload returns
	if _, err := s.notifier.Ready(); err != nil {
		s.log.Error("fxmodule: sending READY=1", "err", err)
	}
}

// runReloader runs r, turning a panic into an error so that one broken
// reloader cannot take the running service down.
func (s *Service) runReloader(ctx context.Context, r Reloader) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("fxmodule: reloader panicked", "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("reloader panicked: %v", v)
		}
	}()
	return r.Reload(ctx)
}
