package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/sdlife/sdlife/httpadapter"
	"github.com/sdlife/sdlife/internal/drainctx"
	"github.com/sdlife/sdlife/internal/logs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdlife/sdlife/lifecycle"
)

// Defaults for ServerConfig.
const (
	DefaultDrainTimeout = 30 * time.Second
	DefaultIdleGrace    = 500 * time.Millisecond
	// DefaultHeaderGrace is ServerConfig.HeaderGrace's default.
	DefaultHeaderGrace = 50 * time.Millisecond
	// DefaultReadHeaderTimeout is set on the http.Server NewServer
	// creates when ServerConfig.Server is nil. (During a drain,
	// HeaderGrace and IdleGrace bound connections without a complete
	// request header much sooner.)
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

// ServerConfig configures a Server. Zero values are documented per field.
type ServerConfig struct {
	// ServerConfig holds the user's settings.
	httpadapter.ServerConfig

	// Handler serves requests. When nil, Server.Handler is used; one of
	// the two must be set.
	Handler http.Handler
	// Notifier sends EXTEND_TIMEOUT_USEC during a long drain. Nil sends
	// nothing. READY=1 and STOPPING=1 are the caller's (the Service's).
	Notifier *lifecycle.Notifier
	// ConnStore, when set, hands idle HTTP/1 keep-alive connections to
	// the fd store when the drain begins, instead of closing them, so
	// that the next process serves them (see ListenConfig.ConnStore and
	// Shutdown): their clients see no close at all. Only plain TCP
	// connections between two requests are handed over, as many as the
	// store has room for; the others drain as without it. Not with TLS.
	ConnStore *ConnStore
	// Logger receives drain progress and errors. Nil means silent.
	Logger *slog.Logger
}

// Server runs an http.Server under the service manager and drains it on
// Shutdown without losing a request (see Shutdown). Create it with
// NewServer, then call Start once and Shutdown once.
type Server struct {
	cfg    ServerConfig
	srv    *http.Server
	tls    *tls.Config // nil: plain HTTP
	log    *slog.Logger
	conn   connTracker
	drainC chan struct{} // closed when the drain begins

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
	if errs := CheckServer(cfg.ServerConfig); len(errs) > 0 {
		return nil, errors.New("httpadapter: ServerConfig." + strings.Join(errs, "; "))
	}
	cfg.setDefaults()
	srv := newHTTPServer(cfg.Server, cfg.TLS != nil)
	h := cfg.Handler
	if h == nil {
		h = srv.Handler
	}
	if h == nil {
		return nil, errors.New("httpadapter: ServerConfig has no Handler")
	}
	s := &Server{
		cfg:          cfg,
		srv:          srv,
		log:          logs.OrDiscard(cfg.Logger),
		drainC:       make(chan struct{}),
		done:         make(chan struct{}),
		shutdownDone: make(chan struct{}),
	}
	if cfg.TLS != nil {
		s.tls = cfg.TLS.Clone()
		if len(s.tls.NextProtos) == 0 {
			s.tls.NextProtos = alpnProtos(srv)
		}
	}
	s.hook(h)
	return s, nil
}

// setDefaults fills in the zero durations that have a default.
func (cfg *ServerConfig) setDefaults() {
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.IdleGrace == 0 {
		cfg.IdleGrace = DefaultIdleGrace
	}
	if cfg.HeaderGrace == 0 {
		cfg.HeaderGrace = DefaultHeaderGrace
	}
	if cfg.GoawayAckTimeout == 0 {
		cfg.GoawayAckTimeout = DefaultGoawayAckTimeout
	}
}

// newHTTPServer returns the http.Server a Server runs: a copy of
// template, or a new one with DefaultReadHeaderTimeout when template is
// nil. Unless the template says otherwise, it serves HTTP/1 and HTTP/2
// (over TLS when withTLS, else h2c).
func newHTTPServer(template *http.Server, withTLS bool) *http.Server {
	srv := &http.Server{ReadHeaderTimeout: DefaultReadHeaderTimeout}
	if template != nil {
		// A copy: the template may serve several listeners (and stays the
		// caller's), and NewServer sets fields of its own on it.
		srv = cloneServer(template)
	}
	if srv.Protocols == nil && srv.TLSNextProto == nil {
		var p http.Protocols
		p.SetHTTP1(true)
		if withTLS {
			p.SetHTTP2(true)
		} else {
			p.SetUnencryptedHTTP2(true)
		}
		srv.Protocols = &p
	}
	return srv
}

// hook makes s.srv serve h through the drain's machinery: the two-step
// GOAWAY for HTTP/2, Connection: close once draining, the connection
// tracker, and the drain signal in every request's context. The
// template's own ConnState, ConnContext and BaseContext still run.
func (s *Server) hook(h http.Handler) {
	srv := s.srv
	twoStepInstall(srv, &s.conn) // HTTP/2 connections get the two-step GOAWAY (goaway2.go)
	srv.Handler = &closeWhenDraining{conn: &s.conn, next: h}
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if w := h2ConnOf(c); w != nil {
			c = w.Conn // net/http's HTTP/2 server reports the h2Conn it serves
		}
		s.conn.track(c, st)
		if prevState != nil {
			prevState(c, st)
		}
	}
	prevConn := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevConn != nil {
			ctx = prevConn(ctx, c)
		}
		return s.conn.accepted(ctx, c)
	}
	prevBase := srv.BaseContext
	srv.BaseContext = func(l net.Listener) context.Context {
		ctx := context.Background()
		if prevBase != nil {
			ctx = prevBase(l)
		}
		return drainctx.With(ctx, s.drainC)
	}
}

// cloneServer copies the settings of an http.Server template, not its
// state (http.Server holds locks and must not be copied whole).
func cloneServer(t *http.Server) *http.Server {
	return &http.Server{
		Addr:                         t.Addr,
		Handler:                      t.Handler,
		DisableGeneralOptionsHandler: t.DisableGeneralOptionsHandler,
		TLSConfig:                    t.TLSConfig,
		ReadTimeout:                  t.ReadTimeout,
		ReadHeaderTimeout:            t.ReadHeaderTimeout,
		WriteTimeout:                 t.WriteTimeout,
		IdleTimeout:                  t.IdleTimeout,
		MaxHeaderBytes:               t.MaxHeaderBytes,
		TLSNextProto:                 maps.Clone(t.TLSNextProto),
		ConnState:                    t.ConnState,
		ErrorLog:                     t.ErrorLog,
		BaseContext:                  t.BaseContext,
		ConnContext:                  t.ConnContext,
		HTTP2:                        t.HTTP2,
		Protocols:                    t.Protocols,
	}
}

// CheckServer returns what is wrong with c, one problem per entry, each
// starting with the field's name; nil when c can work.
func CheckServer(c httpadapter.ServerConfig) []string {
	var errs []string
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"DrainTimeout", c.DrainTimeout},
		{"IdleGrace", c.IdleGrace},
		{"HeaderGrace", c.HeaderGrace},
		{"GoawayAckTimeout", c.GoawayAckTimeout},
		{"ListenerCloseDelay", c.ListenerCloseDelay},
		{"StopTimeout", c.StopTimeout},
	} {
		if d.d < 0 {
			errs = append(errs, fmt.Sprintf("%s %v: must not be negative", d.name, d.d))
		}
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		errs = append(errs, "TLS: no certificate (Certificates, GetCertificate or GetConfigForClient)")
	}
	return errs
}

// alpnProtos lists what srv serves over TLS, in order of preference.
func alpnProtos(srv *http.Server) []string {
	h1, h2 := true, false
	if p := srv.Protocols; p != nil {
		h1, h2 = p.HTTP1(), p.HTTP2()
	} else {
		_, h2 = srv.TLSNextProto["h2"]
	}
	var protos []string
	if h2 {
		protos = append(protos, "h2")
	}
	if h1 {
		protos = append(protos, "http/1.1")
	}
	return protos
}

// closeWhenDraining asks clients to close the connection after the
// response once the drain began. net/http honours a handler's
// "Connection: close" by closing an HTTP/1 connection after the reply;
// on an HTTP/2 connection it drops the header and sends GOAWAY, so the
// client sends its next requests on a new connection while the streams
// in flight finish.
type closeWhenDraining struct {
	conn *connTracker
	next http.Handler
}

func (h *closeWhenDraining) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	markHTTP2(r)
	// An HTTP/2 connection with the two-step gets its GOAWAY from it
	// (goaway2.go), not from its responses.
	if h.conn.draining.Load() && (r.ProtoMajor == 1 || !twoStep(r)) {
		w.Header().Set("Connection", "close")
		if r.ProtoMajor == 1 {
			h.conn.answered.Add(1)
		} else {
			markGoaway(r)
		}
	}
	h.next.ServeHTTP(w, r)
}

// Draining is closed when the drain begins (see Shutdown), as
// DrainStarted(r.Context()) is for the Server's requests. A nil Server
// returns nil.
func (s *Server) Draining() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.drainC
}

// Start serves l in a new goroutine and returns once that goroutine runs.
// The listening socket exists already, so the kernel queues connections
// even before the first Accept: the server can be announced ready as soon
// as Start returns.
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
	switch {
	case s.tls != nil:
		l = tls.NewListener(l, s.tls)
	case s.cfg.ConnStore != nil:
		if _, ok := l.(*handoverListener); !ok {
			l = &handoverListener{Listener: l} // Unpark can give connections back
		}
		l = parkListener{l} // idle connections can be handed over (see park.go)
	}
	s.ln = l
	s.serveDone = make(chan struct{})
	running := make(chan struct{})
	go s.serve(l, running, s.serveDone)
	s.mu.Unlock()
	<-running

	s.log.Info("httpadapter: serving", "addr", l.Addr().String(), "tls", s.tls != nil)
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

// Shutdown stops the server without losing a request that reached it,
// which http.Server.Shutdown alone does not promise: a connection accepted
// just before it whose request is read just after is closed unanswered.
//
// In order: after ListenerCloseDelay the drain begins (Draining is
// closed), every response asks its client to close, and the listener is
// closed (a socket the manager holds lives on). Each connection already
// accepted is then served until it closes; idle or silent ones get their
// grace (IdleGrace, HeaderGrace) or go to the ConnStore. While the drain
// may outlast StopTimeout, EXTEND_TIMEOUT_USEC keeps the manager waiting.
//
// The drain ends at the earlier of ctx's deadline and DrainTimeout after
// it began; connections still open then are closed and Shutdown returns an
// error matching ErrDrainTimeout or ctx's error, else nil. Later calls,
// concurrent too, wait for the first (or their own ctx) and return its
// result. Before Start, it only marks the server closed and closes
// Draining. Done is closed when Shutdown returns.
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

// drain implements Shutdown, in its numbered steps.
//
// Why http.Server.Shutdown comes last (step 8): once it began, net/http
// closes an HTTP/1 connection whose request arrives without answering it,
// so it runs only once no HTTP/1 connection is left to answer (steps 6
// and 7). The drain's deadline (ctx) runs from the end of step 2; when it
// passes, forceClose ends whatever is left.
func (s *Server) drain(parent context.Context) error {
	defer s.closeDone()
	prev, serveDone := s.markClosed()
	if prev == serverNew {
		close(s.drainC)
		return nil
	}

	// 1. The caller has sent STOPPING=1 and turned its readiness probe.
	// Keep the manager waiting while the drain may outlast its stop
	// timeout (startExtender).
	if s.cfg.StopTimeout > 0 && s.cfg.DrainTimeout+s.cfg.ListenerCloseDelay > s.cfg.StopTimeout {
		ext := startExtender(s.cfg.Notifier, s.cfg.StopTimeout, s.log)
		defer ext.Stop()
	}
	// 2. Let load balancers notice.
	s.delayListenerClose(parent)

	start := time.Now()
	ctx, cancel := context.WithDeadline(parent, start.Add(s.cfg.DrainTimeout))
	defer cancel()
	// 3. Ask clients to close after their response (GOAWAY for HTTP/2),
	// time idleness, and tell streaming handlers.
	s.beginDrain(start)
	// 4. Stop accepting. Serve returns after registering (StateNew) every
	// connection it accepted, so once serveDone is closed the tracker
	// knows them all.
	unaccepted := s.stopAccepting()
	select {
	case <-serveDone:
	case <-ctx.Done():
		return s.forceClose(parent)
	}
	s.log.Info("httpadapter: draining", "connections", s.conn.counts(time.Now()).total())
	// 5. Idle HTTP/1 connections go to the fd store, when there is room
	// (handOver); the others drain as follows.
	handed := s.handOver(ctx, unaccepted)

	// One ticker paces steps 6 to 8: a tick left over from one step
	// counts in the next.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	// 6 and 7. Wait for the HTTP/1 connections (waitHTTP1).
	closedIdle, headerless, ok := s.waitHTTP1(ctx, start, tick.C)
	if !ok {
		return s.forceClose(parent)
	}
	// 8. What http.Server.Shutdown adds (shutdownHTTP).
	if !s.shutdownHTTP(ctx, tick.C) {
		return s.forceClose(parent)
	}
	s.conn.waitAnnounces()
	// 9. Hijacked connections their owners left open are closed, and the
	// log line says what the drain did to which connections.
	n := s.conn.closeHijacked()
	s.log.Info("httpadapter: drained", "took", time.Since(start).Round(time.Millisecond),
		"handed_over", handed, "answered_with_close", s.conn.answered.Load(), "idle_closed", closedIdle, "headerless_closed", headerless, "hijacked_closed", n,
		"goaway_unacked", s.conn.goawayCut.Load())
	return nil
}

// markClosed moves the server to serverClosed, so that Start fails from
// now on, and returns the state it was in and the channel closed when
// Serve returned (nil before Start).
func (s *Server) markClosed() (prev serverState, serveDone chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev = s.state
	s.state = serverClosed
	return prev, s.serveDone
}

// delayListenerClose is the drain's step 2: with ListenerCloseDelay set,
// the server goes on accepting and serving as usual for that long (or
// until parent is done), while load balancers notice the readiness
// change. The drain begins after it.
func (s *Server) delayListenerClose(parent context.Context) {
	d := s.cfg.ListenerCloseDelay
	if d <= 0 {
		return
	}
	s.log.Info("httpadapter: readiness says stopping; closing the listener after a delay", "delay", d)
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-parent.Done():
		t.Stop()
	}
}

// beginDrain is the drain's step 3, the drain signal. Draining and
// DrainStarted's channels are closed, so streaming handlers end their
// responses and owners of hijacked connections close them. From now on
// every HTTP/1 response carries "Connection: close", and the connection
// is closed after it (closeWhenDraining); idleness is timed from start.
// Every HTTP/2 connection gets the two-step GOAWAY of RFC 9113 §6.8
// (goaway2.go): a GOAWAY with last stream ID 2^31-1 and a PING now, so
// its client opens its next streams on a new connection; once the client
// acknowledged the PING (or GoawayAckTimeout passed), the final GOAWAY,
// naming the last stream processed: every stream the client opened before
// it read the first GOAWAY is processed, none refused.
func (s *Server) beginDrain(start time.Time) {
	s.conn.draining.Store(true)
	s.conn.announceGoaways(start) // HTTP/2: GOAWAY(2^31-1) and PING
	close(s.drainC)
}

// stopAccepting is the drain's step 4: the listener is closed, so no new
// connection is accepted. The socket itself lives on when the manager
// holds a copy (fd store or socket unit): the kernel keeps queueing
// connections for the next process. Every connection already accepted is
// served, including those whose request has not arrived yet. It returns
// the handed-over connections the listener held and had not yet yielded
// from Accept.
func (s *Server) stopAccepting() (unaccepted []net.Conn) {
	s.acceptStopping.Store(true)
	if al, ok := s.ln.(parkListener); ok {
		unaccepted = al.takeAdopted() // before Close would close them
	}
	if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Warn("httpadapter: closing the listener", "err", err)
	}
	return unaccepted
}

// waitHTTP1 is the drain's steps 6 and 7 (the drain began at start): it
// waits until every HTTP/1 connection has closed, hijacked connections
// until their owners closed them or IdleGrace passed, and every HTTP/2
// connection had its final GOAWAY (pressGoaways, before
// http.Server.Shutdown would send its own), checking at every tick. It
// returns how many idle and headerless connections it closed, and false
// if ctx was done first.
//
// Step 6: an idle HTTP/1 keep-alive connection may send one more request
// during IdleGrace, counted from when it became idle (or from the start of
// the drain); it is answered, with "Connection: close", and the connection
// is closed after the response. A connection idle for longer is closed,
// unless (on Linux) request bytes are already waiting in its socket buffer
// (closeIdle). A client that sends on the connection just as it is closed,
// before noticing the close, sees the request fail: that race is inherent
// in HTTP/1.1 keep-alive, for every server that closes idle connections,
// and clients retry idempotent requests because of it. The grace makes it
// need a client that sat idle for IdleGrace and then sent at that instant.
//
// Step 7: HTTP/2 connections go on serving their streams. A connection
// that has not sent a complete request header (it sent nothing, part of a
// header, or has not completed its TLS handshake) is closed when its time
// is up (closeHeaderless): one that sent part of a header once it has
// received nothing for HeaderGrace, at the latest HeaderGrace after the
// drain began; one that sent nothing, or a TLS one, IdleGrace after the
// drain began. A header it completes before is answered as in step 6.
// Bytes waiting in its socket buffer (on Linux) are read first. None of
// these had sent a complete request, so no request is lost (see
// ServerConfig.HeaderGrace).
func (s *Server) waitHTTP1(ctx context.Context, start time.Time, tick <-chan time.Time) (closedIdle, headerless int, ok bool) {
	for {
		now := time.Now()
		closedIdle += s.conn.closeIdle(now, start, s.cfg.IdleGrace)
		headerless += s.conn.closeHeaderless(now, start, s.cfg.HeaderGrace, s.cfg.IdleGrace)
		pending := s.conn.pressGoaways(now, s.cfg.GoawayAckTimeout)
		c := s.conn.counts(now)
		if c.waitFor() == 0 && pending == 0 && (c.Hijacked == 0 || now.Sub(start) >= s.cfg.IdleGrace) {
			return closedIdle, headerless, true
		}
		select {
		case <-ctx.Done():
			return closedIdle, headerless, false
		case <-tick:
		}
	}
}

// shutdownHTTP is the drain's step 8: what http.Server.Shutdown adds
// (GOAWAY on idle HTTP/2 connections, hooks, stragglers), checking at
// every tick. It returns false if ctx was done first or Shutdown failed.
//
// Meanwhile the HTTP/2 connections that went away and have nothing left
// to send are half-closed, so that their clients close them
// (finishGoneAway): once its streams have finished, an HTTP/2 connection
// is half-closed as soon as the client's TCP acknowledged the final
// GOAWAY and the last response (on Linux), and the client closes its
// side; one whose client keeps it open is closed once the half-close is
// acknowledged too. A client that keeps it open after GOAWAY (Go's does,
// while it has no request on it) would otherwise hold the drain for
// net/http's one-second GOAWAY timeout.
//
// http.Server.Shutdown starts once the two-step's connections are closed:
// they need nothing of it, and its wait polls at intervals growing to
// 500ms. It sends GOAWAY to every HTTP/2 connection that has none yet
// (those served without the two-step, see goaway2.go), runs the other
// RegisterOnShutdown hooks, and waits until every connection has closed.
func (s *Server) shutdownHTTP(ctx context.Context, tick <-chan time.Time) bool {
	var shut chan error
	for {
		s.conn.finishGoneAway()
		s.conn.pressGoaways(time.Now(), s.cfg.GoawayAckTimeout) // connections whose TLS handshake ended late
		if shut == nil && s.conn.twoStepOpen() == 0 {
			s.conn.noteIdleHTTP2()
			shut = make(chan error, 1)
			go func() { shut <- s.srv.Shutdown(ctx) }()
		}
		select {
		case err := <-shut:
			return err == nil
		case <-ctx.Done():
			return false
		case <-tick:
		}
	}
}

// forceClose closes every remaining connection once the drain's deadline
// passed: the caller's (parent's) or DrainTimeout. Hijacked connections
// still open are closed too.
func (s *Server) forceClose(parent context.Context) error {
	n := s.conn.counts(time.Now()).total()
	_ = s.srv.Close()
	s.mu.Lock()
	serveDone := s.serveDone
	s.mu.Unlock()
	<-serveDone // Close closed the listener too
	hijacked := s.conn.closeHijacked()
	s.conn.waitAnnounces()
	var err error
	if perr := parent.Err(); perr != nil {
		err = fmt.Errorf("httpadapter: drain cut short (%w): closed %d connections", perr, n)
	} else {
		err = fmt.Errorf("%w after %v: closed %d connections", ErrDrainTimeout, s.cfg.DrainTimeout, n)
	}
	s.log.Warn("httpadapter: drain cut short; closed connections", "connections", n, "hijacked_closed", hijacked, "err", err)
	return err
}
