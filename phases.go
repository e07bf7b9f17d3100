package sdlife

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/phases"
	"github.com/sdlife/sdlife/internal/sdwire"
	"github.com/sdlife/sdlife/lifecycle"
)

// The phases, for adapters and for programs that start more than an HTTP
// server. Run calls them in this order; package fxmodule calls them from
// fx lifecycle hooks:
//
//	Start          signals caught, STATUS "Starting"
//	Serve          listener and server (optional; Run always calls it)
//	  ...          the caller's own start work
//	Ready          READY=1; reloads, watchdog pings begin
//	  ...          serving, until StopRequested is closed
//	Stopping       STOPPING=1, readiness 503; reloads and pings end
//	Drain          the server drains (see httpadapter.Server.Shutdown)
//	  ...          the caller's own stop work
//	Stop           goroutines waited for, signals released, final barrier
//
// StartFailed replaces Ready when the caller's start work fails.

// Start begins the start phase. From now until Stop, SIGHUP requests a
// reload (one requested while starting runs once the service is ready),
// and SIGTERM or SIGINT requests a stop: while starting, the manager hears
// STOPPING=1 at once and READY=1 is never sent; at any time StopRequested
// is closed. Start does not block.
func (s *Service) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, _ := s.enterLocked(StateStarting); !ok {
		return fmt.Errorf("sdlife: Start in state %v", s.state)
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

// Serve takes the listener (socket activation, the fd store, or
// Options.Listen.Address bound and stored) and starts serving h, wrapped
// in the request counters, with the zero-loss drain of
// httpadapter.Server. Serve returns once the listener accepts
// connections; READY=1 waits for Ready. If the server stops serving by
// itself later, the failure goes to STATUS= and a stop is requested (Err
// says why).
func (s *Service) Serve(_ context.Context, h http.Handler) error {
	if h == nil {
		return errors.New("sdlife: Serve: nil handler")
	}
	s.mu.Lock()
	if s.state != StateStarting {
		st := s.state
		s.mu.Unlock()
		return fmt.Errorf("sdlife: Serve in state %v", st)
	}
	if s.server != nil {
		s.mu.Unlock()
		return errors.New("sdlife: Serve called twice")
	}
	var err error
	sc := s.opts.Server
	sc.Handler = s.counters.Middleware(h)
	sc.Notifier = s.notifier // EXTEND_TIMEOUT_USEC only: the Service announces READY and STOPPING
	sc.Ready = httpadapter.ReadyByCaller
	sc.Logger = s.log
	lc := s.opts.Listen
	lc.Files, lc.Notifier, lc.FDStore, lc.Logger = s.files, s.notifier, s.fdstore, s.log
	lc.Release = httpadapter.ReleaseByCaller // after READY=1, see startServing
	if sc.TLS == nil && s.fdstore.Enabled() {
		// Idle keep-alive connections outlive the restart in the fd store,
		// beside the listener.
		if sc.ConnStore, err = lc.ConnStore(1); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	srv, err := httpadapter.NewServer(sc)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.server = srv
	s.mu.Unlock()

	res, err := lc.Listen()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.releaseStored = res.ReleaseStored
	s.mu.Unlock()
	l := res.Listener
	if err := srv.Start(l); err != nil {
		l.Close()
		return err
	}
	s.log.Info("sdlife: serving", "addr", l.Addr().String(), "source", res.Source.String(), "adopted_connections", res.Adopted, "backlog", res.Backlog)
	switch n := res.Notice(); {
	case res.Unbound != "":
		// Said until a reload names an address that works, or the
		// serving one (ListenAddressChanged), or a restart binds it.
		s.mu.Lock()
		s.listenUnbound = res.Unbound
		s.setNoteLocked(noteListen, n) // Listen logged it
		s.mu.Unlock()
		if errno, ok := errnoOf(res.BindErr); ok {
			_, _ = s.notifier.Errno(errno) // a failed send is Status's to report
		}
	case n != "":
		s.setNoteFor(noteListen, n, listenNote) // Listen logged it
	}
	s.serveWG.Add(1)
	go s.watchServer(srv)
	return nil
}

// watchServer turns a server that stopped accepting by itself into a
// stop request: a service that no longer accepts connections must not
// look healthy to the manager.
func (s *Service) watchServer(srv *httpadapter.Server) {
	defer s.serveWG.Done()
	<-srv.Done()
	err := srv.Err()
	if err == nil {
		return // drained
	}
	s.mu.Lock()
	s.reportFailureLocked(noteServe, "serve failed", err)
	s.mu.Unlock()
	s.requestStop(err)
}

// Ready ends the start phase: STATUS= says "Serving", READY=1 goes out,
// the readiness probe turns ready, and reloads and watchdog pings begin.
// After a stop request or a failed start it does nothing. An error means
// READY=1 could not be sent.
func (s *Service) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateStarting {
		return nil
	}
	_, err := s.enterLocked(StateReady)
	return err
}

// StartFailed reports why the start failed: STATUS=, and ERRNO= when err
// wraps a syscall.Errno. The service then stops: Stopping and Stop follow
// (Run calls them; under fx, fx does).
func (s *Service) StartFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reportFailureLocked(noteStart, "start failed", err)
	s.enterLocked(StateStopping)
}

// StopRequested is closed when a stop was requested: SIGTERM or SIGINT,
// RequestStop, Run's context, or a server that stopped serving by itself
// (Err is then non-nil).
func (s *Service) StopRequested() <-chan struct{} { return s.stopReq }

// Err returns why a stop was requested when it was not a signal or a
// RequestStop: the server's failure. Nil otherwise.
func (s *Service) Err() error {
	select {
	case <-s.stopReq:
		return s.stopCause
	default:
		return nil
	}
}

// RequestStop asks for a stop, as SIGTERM does.
func (s *Service) RequestStop() { s.requestStop(nil) }

func (s *Service) requestStop(cause error) {
	s.stopReqOnce.Do(func() {
		s.stopCause = cause
		close(s.stopReq)
	})
}

// Stopping begins the stop phase: STOPPING=1 first, then the readiness
// probe says "stopping", STATUS= says "Stopping", and reloads and
// watchdog pings end (a reload in progress sees its context cancelled).
// It does not wait; Drain and Stop do. It is idempotent.
func (s *Service) Stopping() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enterLocked(StateStopping)
}

// Drain drains the server Serve started, without losing a request (see
// httpadapter.Server.Shutdown, whose context contract it shares). It
// begins the stop phase first if Stopping was not called. Without a
// server it returns nil.
func (s *Service) Drain(ctx context.Context) error {
	s.Stopping()
	s.mu.Lock()
	srv := s.server
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	s.serveWG.Wait()
	return err
}

// Stop ends the stop phase: it drains the server if Drain was not called,
// waits for the Service's goroutines (reloads, watchdog, health checks),
// releases the signals, stops STATUS= reporting, waits until the manager
// has read every notification (BARRIER=1, bounded by
// Options.BarrierTimeout) and closes the unclaimed passed descriptors and
// the Notifier. ctx bounds the waits. Stop is idempotent.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
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
	if err := s.Drain(ctx); err != nil {
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
	return errs
}

// ListenAddressChanged tells the Service that the configured listen
// address is now address, after a reload read a new configuration. The
// listener cannot move while the service runs; when address differs from
// where it listens, the log and STATUS= say that the next restart applies
// it (Listen then replaces the stored listener) and ListenAddressChanged
// reports true.
//
// When the configured address could not be bound at the start (see
// httpadapter.ListenResult.Unbound), STATUS= says so until this is
// called with another address, or with the one served, which clears it.
func (s *Service) ListenAddressChanged(address string) bool {
	srv := s.Server()
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
	same, err := httpadapter.AddrMatches(srv.Addr(), s.opts.Listen.Network, address)
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
// bind, as far as that can be tried without disturbing the service (see
// httpadapter.CheckAddress). The address served passes; before Serve,
// address is checked alone.
func (s *Service) CheckListenAddress(ctx context.Context, address string) error {
	var serving net.Addr
	if srv := s.Server(); srv != nil {
		serving = srv.Addr()
	}
	return httpadapter.CheckAddress(ctx, serving, s.opts.Listen.Network, address)
}

func init() {
	phases.Of = func(svc any) phases.Service { return svc.(*Service) }
}
