package httpadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
)

// Defaults for ServerConfig.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultIdleGrace    = 500 * time.Millisecond
	// DefaultReadHeaderTimeout is set on the http.Server NewServer
	// creates when ServerConfig.Server is nil. It also bounds how long a
	// connection that never sends a request can hold up a drain.
	DefaultReadHeaderTimeout = 10 * time.Second
)

// Errors from Server.
var (
	// ErrDrainTimeout: connections were still open when DrainTimeout
	// passed; they were closed.
	ErrDrainTimeout = errors.New("httpadapter: drain timed out")
	// ErrServerStarted: Start was called twice.
	ErrServerStarted = errors.New("httpadapter: server already started")
	// ErrServerClosed: Start was called after Shutdown.
	ErrServerClosed = errors.New("httpadapter: server shut down")
)

// ReadyMode says who announces that the server is ready.
type ReadyMode int

const (
	// ReadyOnStart: Start sets Readiness to StateReady and sends READY=1
	// once the server accepts connections, and Shutdown sends STOPPING=1.
	// For programs with one server and nothing else to start.
	ReadyOnStart ReadyMode = iota
	// ReadyByCaller: the caller announces both transitions, READY=1 when
	// everything else is up too and STOPPING=1 when the stop begins
	// (fxmodule does so around all OnStart and OnStop hooks). The Server
	// still sets Readiness and sends EXTEND_TIMEOUT_USEC during a long
	// drain.
	ReadyByCaller
)

// ServerConfig configures a Server. Zero values are documented per field.
type ServerConfig struct {
	// Handler serves requests. When nil, Server.Handler is used; one of
	// the two must be set.
	Handler http.Handler
	// Server carries timeouts, TLS and the like. The Server takes it
	// over: it sets its Handler (to Handler, wrapped) and its ConnState
	// (chaining the one already set). Nil means a new http.Server with
	// ReadHeaderTimeout set to DefaultReadHeaderTimeout.
	Server *http.Server
	// Notifier sends READY=1 and STOPPING=1 (with ReadyOnStart, see
	// Ready) and EXTEND_TIMEOUT_USEC. Nil sends nothing.
	Notifier *lifecycle.Notifier
	// Readiness is set to StateReady on start (see Ready) and to
	// StateStopping when Shutdown begins. Nil: none.
	Readiness *Readiness
	// Ready says who announces readiness. Zero is ReadyOnStart.
	Ready ReadyMode
	// DrainTimeout bounds Shutdown's wait for connections. Zero means
	// DefaultDrainTimeout (30s).
	DrainTimeout time.Duration
	// IdleGrace is how long idle keep-alive connections may still send a
	// request once the drain begins (it is answered, with "Connection:
	// close") before they are closed. Zero means DefaultIdleGrace
	// (500ms).
	IdleGrace time.Duration
	// StopTimeout is the unit's TimeoutStopSec=. When DrainTimeout
	// exceeds it, Shutdown keeps extending the manager's stop timeout
	// (EXTEND_TIMEOUT_USEC) while it drains. Zero means unknown: no
	// extension.
	StopTimeout time.Duration
	// Logger receives drain progress and errors. Nil means silent.
	Logger *slog.Logger
}

// Server runs an http.Server under the service manager and drains it on
// Shutdown without losing a request (see Shutdown). Create it with
// NewServer, then call Start once and Shutdown once.
type Server struct {
	cfg  ServerConfig
	srv  *http.Server
	log  *slog.Logger
	conn connTracker

	acceptStopping atomic.Bool // the listener is closed on purpose

	mu        sync.Mutex
	state     serverState
	ln        net.Listener
	serveDone chan struct{} // closed when Serve returned; nil before Start
	err       error         // the Serve error

	done     chan struct{} // Done
	doneOnce sync.Once

	shutdownOnce sync.Once
	shutdownDone chan struct{} // closed when the first Shutdown finished
	shutdownErr  error         // its result
}

type serverState int

const (
	serverNew serverState = iota
	serverRunning
	serverClosed
)

// NewServer checks cfg and prepares the server; nothing runs until Start.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.DrainTimeout < 0 || cfg.IdleGrace < 0 || cfg.StopTimeout < 0 {
		return nil, errors.New("httpadapter: negative DrainTimeout, IdleGrace or StopTimeout")
	}
	if cfg.Ready != ReadyOnStart && cfg.Ready != ReadyByCaller {
		return nil, fmt.Errorf("httpadapter: unknown ReadyMode %d", cfg.Ready)
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.IdleGrace == 0 {
		cfg.IdleGrace = DefaultIdleGrace
	}
	srv := cfg.Server
	if srv == nil {
		srv = &http.Server{ReadHeaderTimeout: DefaultReadHeaderTimeout}
	}
	h := cfg.Handler
	if h == nil {
		h = srv.Handler
	}
	if h == nil {
		return nil, errors.New("httpadapter: ServerConfig has no Handler")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:          cfg,
		srv:          srv,
		log:          log,
		done:         make(chan struct{}),
		shutdownDone: make(chan struct{}),
	}
	srv.Handler = &closeWhenDraining{draining: &s.conn.draining, next: h}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		s.conn.track(c, st)
		if prev != nil {
			prev(c, st)
		}
	}
	return s, nil
}

// closeWhenDraining asks HTTP/1 clients to close the connection after the
// response once the drain began. net/http honours a handler's
// "Connection: close" by closing after the reply; HTTP/2 forbids the
// header and has GOAWAY instead (sent by http.Server.Shutdown).
type closeWhenDraining struct {
	draining *atomic.Bool
	next     http.Handler
}

func (h *closeWhenDraining) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() && r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	h.next.ServeHTTP(w, r)
}

// Start serves l in a new goroutine and returns once that goroutine runs.
// The listening socket exists already, so the kernel queues connections
// even before the first Accept: the server can be announced ready as soon
// as Start returns. With ReadyOnStart, Start then sets Readiness to
// StateReady and sends READY=1 (a failure to send is logged, not
// returned: the server is running).
//
// The Server owns l from now on. Start fails if called twice or after
// Shutdown.
func (s *Server) Start(l net.Listener) error {
	s.mu.Lock()
	switch s.state {
	case serverRunning:
		s.mu.Unlock()
		return ErrServerStarted
	case serverClosed:
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.state = serverRunning
	s.ln = l
	s.serveDone = make(chan struct{})
	running := make(chan struct{})
	go s.serve(l, running, s.serveDone)
	s.mu.Unlock()
	<-running

	if s.cfg.Ready == ReadyOnStart {
		if s.cfg.Readiness != nil {
			s.cfg.Readiness.Set(StateReady)
		}
		if _, err := s.cfg.Notifier.Ready(); err != nil {
			s.log.Error("httpadapter: READY=1 failed", "err", err)
		}
	}
	s.log.Info("httpadapter: serving", "addr", l.Addr().String())
	return nil
}

func (s *Server) serve(l net.Listener, running, serveDone chan<- struct{}) {
	defer close(serveDone)
	close(running)
	err := s.srv.Serve(l)
	if s.acceptStopping.Load() || errors.Is(err, http.ErrServerClosed) {
		return // Shutdown closed the listener
	}
	err = fmt.Errorf("httpadapter: serve: %w", err)
	s.log.Error("httpadapter: server stopped accepting", "err", err)
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	s.closeDone()
}

func (s *Server) closeDone() { s.doneOnce.Do(func() { close(s.done) }) }

// Done is closed when the server stopped serving: when Shutdown finished,
// or earlier when accepting failed (Err says why; Shutdown is still
// needed then, to drain the connections already accepted).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the error that ended serving, or nil while serving and after
// a clean Shutdown.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Addr returns the listener's address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the server without losing a request that reached it.
// http.Server.Shutdown alone does lose some: a connection accepted just
// before it whose request is read just after is closed without a
// response. Shutdown therefore works in this order:
//
//  1. Readiness becomes StateStopping and, with ReadyOnStart, STOPPING=1
//     is sent (with ReadyByCaller the caller has sent it already). If
//     DrainTimeout exceeds StopTimeout, EXTEND_TIMEOUT_USEC=StopTimeout
//     is sent now and every StopTimeout/3 until the drain ends.
//  2. From now on every HTTP/1 response carries "Connection: close".
//  3. The listener is closed, so no new connection is accepted. The
//     socket itself lives on when the manager holds a copy (fd store or
//     socket unit): the kernel keeps queueing connections for the next
//     process. Every connection already accepted is served, including
//     those whose request has not arrived yet.
//  4. An idle keep-alive connection may send one more request during
//     IdleGrace, counted from when it became idle (or from the start of
//     the drain); it is answered, with "Connection: close", and the
//     connection is closed after the response. A connection idle for
//     longer is closed, unless (on Linux) request bytes are already
//     waiting in its socket buffer. A client that sends on the
//     connection just as it is closed, before noticing the close, sees
//     the request fail: that race is inherent in HTTP/1.1 keep-alive,
//     for every server that closes idle connections, and clients retry
//     idempotent requests because of it. The grace makes it need a
//     client that sat idle for IdleGrace and then sent at that instant.
//  5. Shutdown waits until every connection has closed. Hijacked
//     connections are not waited for (as with http.Server.Shutdown), and
//     neither are connections that have sent nothing for 5 seconds
//     (HTTP/2 connections look like that; step 6 handles them).
//  6. http.Server.Shutdown runs: it closes what is left idle, runs the
//     RegisterOnShutdown hooks (HTTP/2's GOAWAY among them) and waits for
//     the rest.
//
// The drain ends at the earlier of ctx's deadline and DrainTimeout after
// Shutdown began. If connections are still open then, they are closed
// (http.Server.Close) and Shutdown returns an error matching
// ErrDrainTimeout or ctx's error. Otherwise it returns nil.
//
// Shutdown may be called more than once, concurrently too: later calls
// wait for the first to finish, or for their own ctx, and return its
// result. Called before Start, it only marks the server closed. Done is
// closed when Shutdown returns.
func (s *Server) Shutdown(ctx context.Context) error {
	first := false
	s.shutdownOnce.Do(func() { first = true })
	if first {
		s.shutdownErr = s.drain(ctx)
		close(s.shutdownDone)
		return s.shutdownErr
	}
	select {
	case <-s.shutdownDone:
		return s.shutdownErr
	case <-ctx.Done():
		return fmt.Errorf("httpadapter: shutdown: %w", ctx.Err())
	}
}

// drain implements Shutdown.
func (s *Server) drain(parent context.Context) error {
	defer s.closeDone()
	s.mu.Lock()
	prev := s.state
	s.state = serverClosed
	serveDone := s.serveDone
	s.mu.Unlock()
	if prev == serverNew {
		return nil
	}

	start := time.Now()
	ctx, cancel := context.WithDeadline(parent, start.Add(s.cfg.DrainTimeout))
	defer cancel()

	// 1. Tell the world.
	if s.cfg.Readiness != nil {
		s.cfg.Readiness.Set(StateStopping)
	}
	if s.cfg.Ready == ReadyOnStart {
		if _, err := s.cfg.Notifier.Stopping(); err != nil {
			s.log.Warn("httpadapter: STOPPING=1 failed", "err", err)
		}
	}
	if s.cfg.StopTimeout > 0 && s.cfg.DrainTimeout > s.cfg.StopTimeout {
		ext := startExtender(s.cfg.Notifier, s.cfg.StopTimeout, s.log)
		defer ext.Stop()
	}
	// 2. Ask clients to close after their response, and time idleness.
	s.conn.draining.Store(true)
	// 3. Stop accepting. Serve returns after registering (StateNew) every
	// connection it accepted, so once serveDone is closed the tracker
	// knows them all.
	s.acceptStopping.Store(true)
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Warn("httpadapter: closing the listener", "err", err)
	}
	select {
	case <-serveDone:
	case <-ctx.Done():
		return s.forceClose(parent)
	}
	s.log.Info("httpadapter: draining", "connections", s.conn.counts(time.Now()).total())

	// 4 and 5. Wait for the connections, closing each idle one once it
	// has been idle for IdleGrace.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		s.conn.closeIdle(now, start, s.cfg.IdleGrace)
		if s.conn.counts(now).waitFor() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return s.forceClose(parent)
		case <-tick.C:
		}
	}
	// 6. What http.Server.Shutdown adds: hooks, HTTP/2, stragglers.
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.forceClose(parent)
	}
	s.log.Info("httpadapter: drained", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// forceClose closes every remaining connection once the drain's deadline
// passed: the caller's (parent's) or DrainTimeout.
func (s *Server) forceClose(parent context.Context) error {
	n := s.conn.counts(time.Now()).total()
	_ = s.srv.Close()
	s.mu.Lock()
	serveDone := s.serveDone
	s.mu.Unlock()
	<-serveDone // Close closed the listener too
	err := parent.Err()
	if err == nil {
		err = fmt.Errorf("%w after %v", ErrDrainTimeout, s.cfg.DrainTimeout)
	}
	s.log.Warn("httpadapter: drain cut short; closed connections", "connections", n, "err", err)
	return fmt.Errorf("httpadapter: closed %d connections: %w", n, err)
}
