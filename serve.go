package sdlife

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/httpserve"
)

// Listener is one more listener of the Service beside Options.Listen,
// with a handler of its own: an admin port for metrics and pprof, say.
// It is taken from socket activation or the fd store by its Name, else
// bound and stored, and drained with the others. Options.Server applies
// to it too. Only Options.Listen's idle connections are handed over to
// the next process; this one's are closed at the drain, and its requests
// are not counted in STATUS=.
type Listener struct {
	// ListenConfig says where the listener comes from. Its Name is
	// required (New fails without it) and must differ from every other
	// listener's, Options.Listen's "http" included.
	httpadapter.ListenConfig
	// Handler serves the listener's requests.
	Handler http.Handler
}

// checkListeners names what is wrong with the extra listeners.
func checkListeners(primary string, ls []Listener) []string {
	var errs []string
	if primary == "" {
		primary = httpserve.DefaultListenerName
	}
	seen := map[string]bool{primary: true}
	for i, l := range ls {
		field := fmt.Sprintf("Listeners[%d].", i)
		for _, e := range httpserve.CheckListen(l.ListenConfig) {
			errs = append(errs, field+e)
		}
		switch {
		case l.Name == "":
			errs = append(errs, field+"Name: required")
		case seen[l.Name]:
			errs = append(errs, fmt.Sprintf("%sName %q: used by another listener", field, l.Name))
		}
		seen[l.Name] = true
		if l.Handler == nil {
			errs = append(errs, field+"Handler: nil")
		}
	}
	return errs
}

// served is one listener the Service serves, and its server.
type served struct {
	name      string               // its name in the fd store
	ln        net.Listener         // as Listen returned it
	srv       *httpserve.Server    // serves ln
	store     *httpserve.ConnStore // Options.Listen's idle connections; nil for the others
	release   func() error         // drops the fd store's copies of the connections Listen took back, after READY=1
	accepting atomic.Bool          // srv serves ln: at once, or in an upgrade's new process once adopted
}

// start makes the server accept from the listener.
func (sv *served) start() error {
	if err := sv.srv.Start(sv.ln); err != nil {
		sv.ln.Close()
		return err
	}
	sv.accepting.Store(true)
	return nil
}

// serve takes every listener (socket activation, the fd store, or its
// address bound and stored) and starts serving: h, wrapped in the request
// counters, on Options.Listen, and each Options.Listeners entry's own
// handler on it, all with the zero-loss drain. Serve returns once every
// listener accepts connections; READY=1 waits for Ready. If a server stops
// serving by itself later, the failure goes to STATUS= and a stop is
// requested (Err says why). When one listener fails, those started
// already drain with the rest of the stop.
func (s *Service) serve(_ context.Context, h http.Handler) error {
	if h == nil {
		return errors.New("sdlife: Serve: nil handler")
	}
	s.mu.Lock()
	if st := State(s.state.Load()); st != StateStarting {
		s.mu.Unlock()
		return fmt.Errorf("sdlife: Serve in state %v", st)
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("sdlife: Serve called twice")
	}
	s.serving = true
	s.mu.Unlock()

	stored := 1 + len(s.opts.Listeners) // listeners in the fd store, at most
	if err := s.serveOne(Listener{ListenConfig: s.opts.Listen, Handler: s.counters.Middleware(h)}, true, stored); err != nil {
		return err
	}
	for _, l := range s.opts.Listeners {
		if err := s.serveOne(l, false, stored); err != nil {
			return err
		}
	}
	return nil
}

// serveOne takes one listener and starts its server. Only the primary
// one (Options.Listen) hands its idle connections to the fd store: the
// store's room is counted for one ConnStore. stored is how many
// listeners the store may hold besides connections.
func (s *Service) serveOne(l Listener, primary bool, stored int) error {
	sc := httpserve.ServerConfig{
		ServerConfig: s.opts.Server,
		Handler:      l.Handler,
		Notifier:     s.notifier, // EXTEND_TIMEOUT_USEC only: the Service announces READY and STOPPING
		Logger:       s.log,
	}
	lc := httpserve.ListenConfig{
		ListenConfig: l.ListenConfig,
		Files:        s.files,
		Notifier:     s.notifier,
		FDStore:      s.fdstore,
		Logger:       s.log,
		Release:      httpserve.ReleaseByCaller, // after READY=1, see startServing
	}
	if primary && sc.TLS == nil && s.fdstore.Enabled() {
		// Idle keep-alive connections outlive the restart in the fd store,
		// beside the listeners.
		var err error
		if sc.ConnStore, err = lc.ConnStore(stored); err != nil {
			return err
		}
	}
	srv, err := httpserve.NewServer(sc)
	if err != nil {
		return err
	}
	res, err := lc.Listen()
	if err != nil {
		return err
	}
	name := l.Name
	if name == "" {
		name = httpserve.DefaultListenerName
	}
	ln := res.Listener
	sv := &served{name: name, ln: ln, srv: srv, store: sc.ConnStore, release: res.ReleaseStored}
	s.mu.Lock()
	s.served = append(s.served, sv)
	s.mu.Unlock()
	// An upgrade's new process accepts only once adopted: until then the
	// old process serves (see awaitAdoption).
	if s.joined == nil {
		if err := sv.start(); err != nil {
			return err
		}
	}
	s.log.Info("sdlife: serving", "listener", name, "addr", ln.Addr().String(), "source", res.Source.String(), "adopted_connections", res.Adopted, "backlog", res.Backlog)
	s.noteListenResult(res, primary)
	s.serveWG.Add(1)
	go s.watchServer(srv)
	return nil
}

// noteListenResult puts what Listen noticed (and logged) in STATUS=: a
// configured address that could not be bound, for Options.Listen until a
// reload names one that works, or the serving one (ListenAddressChanged),
// or a restart binds it; anything else for a while.
func (s *Service) noteListenResult(res httpserve.ListenResult, primary bool) {
	switch n := res.Notice(); {
	case res.Unbound != "" && primary:
		s.mu.Lock()
		s.listenUnbound = res.Unbound
		s.setNoteLocked(noteListen, n)
		s.mu.Unlock()
		if errno, ok := errnoOf(res.BindErr); ok {
			_, _ = s.notifier.Errno(errno) // a failed send is Status's to report
		}
	case n != "":
		s.setNoteFor(noteListen, n, listenNote)
	}
}

// watchServer turns a server that stopped accepting by itself into a
// stop request: a service that no longer accepts connections must not
// look healthy to the manager.
func (s *Service) watchServer(srv *httpserve.Server) {
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

// drain drains every server Serve started, together, without losing a
// request; ctx bounds the wait as for http.Server.Shutdown. It begins the
// stop phase first if Stopping was not called. Without a server it
// returns nil.
func (s *Service) drain(ctx context.Context) error {
	s.stopping()
	s.mu.Lock()
	all := append([]*served(nil), s.served...)
	s.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, sv := range all {
		if !sv.accepting.Load() {
			sv.ln.Close() // never accepted from: an upgrade's new process that was not adopted
		}
		wg.Go(func() { errs[i] = sv.srv.Shutdown(ctx) })
	}
	wg.Wait()
	s.serveWG.Wait()
	return errors.Join(errs...)
}
