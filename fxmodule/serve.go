package fxmodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"go.uber.org/fx"

	"github.com/sdlife/sdlife/httpadapter"
)

type serveParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Service    *Service
	Handler    http.Handler `optional:"true"`
}

// serve runs the HTTP server when Config.Serve is set: listener from
// httpadapter.Listen (the passed descriptors the Service took once, the fd
// store), drain from httpadapter.Server. Readiness stays the Service's
// business (ReadyByCaller): READY=1 still waits for every OnStart hook.
func serve(p serveParams) error {
	s := p.Service
	sc := s.cfg.Serve
	if sc == nil {
		return nil
	}
	if p.Handler == nil {
		return errors.New("fxmodule: Config.Serve is set but the application provides no http.Handler")
	}
	srv, err := httpadapter.NewServer(httpadapter.ServerConfig{
		Handler:      s.counters.Middleware(p.Handler),
		Server:       sc.Server,
		Notifier:     s.notifier, // for EXTEND_TIMEOUT_USEC: the Service announces READY and STOPPING
		Readiness:    s.readiness,
		Ready:        httpadapter.ReadyByCaller,
		DrainTimeout: sc.DrainTimeout,
		StopTimeout:  sc.StopTimeout,
		Logger:       s.log,
	})
	if err != nil {
		return fmt.Errorf("fxmodule: %w", err)
	}
	r := &runner{
		s:   s,
		srv: srv,
		cfg: *sc,
		shutdown: func() error {
			return p.Shutdowner.Shutdown(fx.ExitCode(1))
		},
	}
	s.mu.Lock()
	s.server = srv
	s.mu.Unlock()
	p.Lifecycle.Append(fx.Hook{OnStart: r.start, OnStop: r.stop})
	return nil
}

// runner is the server's lifecycle hook and the goroutine that watches it.
type runner struct {
	s        *Service
	srv      *httpadapter.Server
	cfg      ServeConfig
	shutdown func() error
	wg       sync.WaitGroup
}

func (r *runner) start(context.Context) error {
	l, src, err := httpadapter.Listen(httpadapter.ListenConfig{
		Name:     r.cfg.Name,
		Network:  r.cfg.Network,
		Address:  r.cfg.Address,
		Files:    r.s.files,
		Notifier: r.s.notifier,
		FDStore:  r.s.fdstore,
		Logger:   r.s.log,
	})
	if err != nil {
		return fmt.Errorf("fxmodule: %w", err)
	}
	if err := r.srv.Start(l); err != nil {
		l.Close()
		return fmt.Errorf("fxmodule: %w", err)
	}
	r.s.log.Info("fxmodule: serving", "addr", l.Addr().String(), "source", src.String())
	r.wg.Add(1)
	go r.watch()
	return nil
}

// watch turns a server that stopped on its own into an application stop
// with exit code 1: a service that no longer accepts connections must not
// look healthy to the manager.
func (r *runner) watch() {
	defer r.wg.Done()
	<-r.srv.Done()
	err := r.srv.Err()
	if err == nil {
		return // Shutdown
	}
	r.s.serveFailed(err)
	if serr := r.shutdown(); serr != nil {
		r.s.log.Error("fxmodule: requesting shutdown", "err", serr)
	}
}

func (r *runner) stop(ctx context.Context) error {
	err := r.srv.Shutdown(ctx)
	r.wg.Wait()
	if err != nil {
		return fmt.Errorf("fxmodule: %w", err)
	}
	return nil
}

// Server returns the HTTP server Module runs for Config.Serve, or nil when
// there is none. Its Addr tells where it listens.
func (s *Service) Server() *httpadapter.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server
}

// serveFailed reports a server that stopped serving by itself: STATUS=
// and, when known, ERRNO=.
func (s *Service) serveFailed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	text := "serve failed: " + err.Error()
	s.log.Error("fxmodule: serving failed: stopping", "err", err)
	s.setNoteLocked(noteServe, text)
	if _, e := s.notifier.Status(text); e != nil {
		s.log.Error("fxmodule: sending STATUS", "err", e)
	}
	if errno, ok := errnoOf(err); ok {
		if _, e := s.notifier.Errno(errno); e != nil {
			s.log.Error("fxmodule: sending ERRNO", "err", e)
		}
	}
}
