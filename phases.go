package sdlife

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/sdlife/sdlife/internal/httpserve"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// The phases of a Service's life, in the order Run calls them (see
// internal/phases, through which fxmodule calls them from fx lifecycle
// hooks): start, serve, the caller's start work, becomeReady (or
// startFailed), serving until stopRequested is closed, stopping, drain,
// the caller's stop work, stop.

// start begins the start phase. From now until Stop, SIGHUP requests a
// reload (one requested while starting runs once the service is ready),
// and SIGTERM or SIGINT requests a stop: while starting, the manager hears
// STOPPING=1 at once and READY=1 is never sent; at any time StopRequested
// is closed. Start does not block.
func (s *Service) start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, _ := s.enterLocked(StateStarting); !ok {
		return fmt.Errorf("sdlife: Start in state %v", State(s.state.Load()))
	}
	signal.Notify(s.hup, syscall.SIGHUP)
	signal.Notify(s.term, syscall.SIGTERM, syscall.SIGINT)
	s.wg.Add(2)
	go s.loop()
	go s.awaitTerm()
	s.watchMemoryPressure()
	s.log.Debug("sdlife: starting", "notify_socket", sdwire.NotifierOf(s.notifier).Address(), "watchdog", s.watchdog.Interval)
	return nil
}

// becomeReady ends the start phase: STATUS= says "Serving", READY=1 goes out,
// the readiness probe turns ready, and reloads and watchdog pings begin.
// After a stop request or a failed start it does nothing. An error means
// READY=1 could not be sent.
func (s *Service) becomeReady() error {
	if err := s.checkBeforeAdoption(); err != nil {
		s.startFailed(err)
		s.requestStop(err)
		return err
	}
	s.mu.Lock()
	if State(s.state.Load()) != StateStarting {
		s.mu.Unlock()
		return nil
	}
	_, err := s.enterLocked(StateReady)
	s.mu.Unlock()
	s.awaitAdoption() // an upgrade's new process: accept once adopted
	return err
}

// startFailed reports why the start failed: STATUS=, and ERRNO= when err
// wraps a syscall.Errno. The service then stops: Stopping and Stop follow
// (Run calls them; under fx, fx does).
func (s *Service) startFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reportFailureLocked(noteStart, "start failed", err)
	s.enterLocked(StateStopping)
}

// stopRequested is closed when a stop was requested: SIGTERM or SIGINT,
// RequestStop, Run's context, or a server that stopped serving by itself
// (Err is then non-nil).
func (s *Service) stopRequested() <-chan struct{} { return s.stopReq }

// stopErr returns why a stop was requested when it was not a signal or a
// RequestStop: the server's failure. Nil otherwise.
func (s *Service) stopErr() error {
	select {
	case <-s.stopReq:
		return s.stopCause
	default:
		return nil
	}
}

func (s *Service) requestStop(cause error) {
	s.stopReqOnce.Do(func() {
		s.stopCause = cause
		close(s.stopReq)
	})
}

// stopping begins the stop phase: STOPPING=1 first, then the readiness
// probe says "stopping", STATUS= says "Stopping", and reloads and
// watchdog pings end (a reload in progress sees its context cancelled).
// It does not wait; Drain and Stop do. It is idempotent.
func (s *Service) stopping() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enterLocked(StateStopping)
}

// stop ends the stop phase: it drains the server if Drain was not called,
// waits for the Service's goroutines (reloads, watchdog, health checks),
// releases the signals, stops STATUS= reporting, waits until the manager
// has read every notification (BARRIER=1, bounded by
// Options.BarrierTimeout) and closes the unclaimed passed descriptors and
// the Notifier. ctx bounds the waits. Stop is idempotent.
func (s *Service) stop(ctx context.Context) error {
	s.mu.Lock()
	switch State(s.state.Load()) {
	case StateStopped:
		s.mu.Unlock()
		return nil
	case StateNew:
		s.enterLocked(StateStopped)
		s.mu.Unlock()
		s.cancelRun()
		return errors.Join(s.closeResources()...)
	}
	s.mu.Unlock()

	var errs []error
	if err := s.drain(ctx); err != nil {
		errs = append(errs, err)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("sdlife: waiting for reloads and the watchdog: %w", ctx.Err()))
	}
	signal.Stop(s.hup)
	signal.Stop(s.term)
	if err := s.stopMemoryPressure(); err != nil {
		errs = append(errs, err)
	}
	if err := s.health.Wait(ctx); err != nil {
		errs = append(errs, err)
	}
	s.status.Stop()
	// After an upgrade the barrier matters most: PID 1 handles a process's
	// exit apart from its notifications, and must have read the hand-over
	// (MAINPID=) before it sees this process exit, or it takes the exit
	// for the main process's. It reads its socket in order, and closes the
	// barrier's descriptor even for a sender that is no longer the main
	// process (it logs that it ignores the message).
	if d := s.opts.barrierTimeout(); d > 0 {
		bctx, cancel := context.WithTimeout(ctx, d)
		if _, err := s.notifier.Barrier(bctx); err != nil && !errors.Is(err, lifecycle.ErrUnreachable) {
			s.log.Warn("sdlife: the manager did not confirm the last notifications", "err", err)
		}
		cancel()
	}
	errs = append(errs, s.closeResources()...)
	s.mu.Lock()
	s.stopNoteTimersLocked()
	s.enterLocked(StateStopped)
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *Service) closeResources() []error {
	var errs []error
	if err := s.files.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.notifier.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.joined.Close(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// ListenAddressChanged tells the Service that the configured listen
// address is now address, after a reload read a new configuration. The
// listener cannot move while the service runs; when address differs from
// where it listens, the log and STATUS= say that the next restart applies
// it (the stored listener is then replaced) and ListenAddressChanged
// reports true.
//
// When the configured address could not be bound at the start (the
// stored listener kept serving), STATUS= says so until this is called
// with another address, or with the one served, which clears it.
func (s *Service) ListenAddressChanged(address string) bool {
	srv := s.httpServer()
	if srv == nil || srv.Addr() == nil {
		return false
	}
	s.mu.Lock()
	unbound := s.listenUnbound
	if unbound == address {
		s.mu.Unlock()
		return false // still the address that failed: STATUS= keeps saying so
	}
	s.listenUnbound = ""
	s.mu.Unlock()
	same, err := httpserve.AddrMatches(srv.Addr(), s.opts.Listen.Network, address)
	if unbound != "" && (err != nil || same) {
		s.setNote(noteListen, "")
		s.log.Info("sdlife: the configured listen address no longer is the one that failed", "configured", address, "addr", srv.Addr().String())
	}
	if err != nil || same {
		return false
	}
	n := "listen address " + address + " applies at the next restart (serving " + srv.Addr().String() + ")"
	s.log.Warn("sdlife: " + n)
	s.setNoteFor(noteListen, n, listenNote)
	return true
}

// CheckListenAddress tells whether address could replace the one the
// service listens on, for a reload to refuse a configuration that the
// next restart could not apply: it must resolve, have a valid port, and
// bind, as far as that can be tried without disturbing the service: for
// the port served, only the host is tried, on a port the kernel chooses.
// The address served passes; before Run serves, address is checked alone.
func (s *Service) CheckListenAddress(ctx context.Context, address string) error {
	var serving net.Addr
	if srv := s.httpServer(); srv != nil {
		serving = srv.Addr()
	}
	return httpserve.CheckAddress(ctx, serving, s.opts.Listen.Network, address)
}

func init() {
	phases.Of = func(svc any) phases.Service { return phased{svc.(*Service)} }
}

// phased is a Service's phase protocol for internal/phases.
type phased struct{ s *Service }

var _ phases.Service = phased{}

func (p phased) Start(ctx context.Context) error                 { return p.s.start(ctx) }
func (p phased) Serve(ctx context.Context, h http.Handler) error { return p.s.serve(ctx, h) }
func (p phased) Ready() error                                    { return p.s.becomeReady() }
func (p phased) StartFailed(err error)                           { p.s.startFailed(err) }
func (p phased) StopRequested() <-chan struct{}                  { return p.s.stopRequested() }
func (p phased) Err() error                                      { return p.s.stopErr() }
func (p phased) Stopping()                                       { p.s.stopping() }
func (p phased) Drain(ctx context.Context) error                 { return p.s.drain(ctx) }
func (p phased) Stop(ctx context.Context) error                  { return p.s.stop(ctx) }
